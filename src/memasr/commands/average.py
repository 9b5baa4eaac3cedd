"""``memasr average``: one model from the mean weights of several checkpoints of a run."""
from __future__ import annotations

import argparse
from pathlib import Path

from memasr.errors import InputError


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("average", help="average the weights of checkpoints of one run",
                       description="Average trainer checkpoints (ckpt-*.pt) or model directories of one model "
                                   "into a model directory, as icefall's --avg does. Give the inputs, or "
                                   "--run DIR --last N for a run's last N checkpoints.")
    p.add_argument("inputs", nargs="*", help="ckpt-*.pt files or model directories")
    p.add_argument("--run", help="a training output directory (its checkpoints/ folder)")
    p.add_argument("--last", type=int, help="with --run: how many of its latest checkpoints")
    p.add_argument("--out", required=True, help="output model directory (written atomically)")
    p.add_argument("--storage-dtype", choices=("float32", "float16"), default="float32",
                   help="dtype of the stored model.pt: float16 halves it (read back as float32); "
                        "training heads stay float32 (default float32)")
    p.set_defaults(func=run)
    return p


def _tokenizer_of(path: Path) -> Path | None:
    """A model directory holds its tokenizer; a trainer checkpoint's run folder holds it."""
    from memasr.data.tokenizer import MODEL_FILENAME

    path = path.resolve()
    for folder in ((path,) if path.is_dir() else (path.parent.parent, path.parent)):
        if (folder / MODEL_FILENAME).is_file():
            return folder / MODEL_FILENAME
    return None


def _check_out(out: Path, inputs: list[Path], run_dir: str | None) -> None:
    """Refuse an --out whose replacement would destroy something other than a model directory
    (a run folder, an input)."""
    from memasr.model.checkpoint import CONFIG_FILE

    target = out.resolve()
    protected = [p.resolve() for p in inputs] + ([Path(run_dir).resolve()] if run_dir else [])
    for p in protected:
        if target == p or target in p.parents:
            raise InputError(f"--out {out} would overwrite the input {p}; choose a new directory")
    if out.exists() and not (out.is_dir() and (out / CONFIG_FILE).is_file()):
        raise InputError(f"--out {out} exists and is not a model directory; choose a new directory")


def run(args: argparse.Namespace) -> int:
    from memasr.model.checkpoint import model_from_state, save_pretrained
    from memasr.train.average import average_checkpoints
    from memasr.train.trainer import list_checkpoints

    inputs = [Path(p) for p in args.inputs]
    if args.run is not None:
        if args.last is None or args.last < 1:
            raise InputError("--run needs --last N (N >= 1)")
        found = list_checkpoints(args.run)
        if len(found) < args.last:
            raise InputError(f"{args.run} has {len(found)} checkpoints, fewer than --last {args.last}")
        inputs += found[-args.last:]
    elif args.last is not None:
        raise InputError("--last needs --run DIR")
    if not inputs:
        raise InputError("give checkpoints to average, or --run DIR --last N")
    _check_out(Path(args.out), inputs, args.run)
    tokenizers = [_tokenizer_of(p) for p in inputs]
    if tokenizers[-1] is None:
        raise InputError(f"no tokenizer.model beside {inputs[-1]} (in the model directory or the run folder)")
    reference = tokenizers[-1].read_bytes()
    if any(t is None or t.read_bytes() != reference for t in tokenizers):
        raise InputError("the inputs do not share one tokenizer; average checkpoints of one run")
    averaged = average_checkpoints(inputs)
    model = model_from_state(averaged.config, averaged.model, "the averaged checkpoints")
    meta = {"averaged": [str(p) for p in inputs], "averaged_steps": averaged.steps,
            "training_heads": sorted(averaged.heads), "storage_dtype": args.storage_dtype}
    out = save_pretrained(model, args.out, tokenizers[-1], meta, training_heads=averaged.heads,
                          storage_dtype=args.storage_dtype)
    steps = ", ".join(str(s) for s in averaged.steps)
    heads = f", training heads {', '.join(sorted(averaged.heads))}" if averaged.heads else ""
    noun = "checkpoint" if len(inputs) == 1 else "checkpoints"
    print(f"averaged {len(inputs)} {noun} (steps {steps}{heads}) into {out}")
    if averaged.dropped_heads:
        print(f"note: training heads {', '.join(averaged.dropped_heads)} are missing from some inputs and were "
              f"left out; --init-from on {out} starts them afresh")
    return 0
