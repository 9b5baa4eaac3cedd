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
    p.set_defaults(func=run)
    return p


def _tokenizer_beside(path: Path) -> Path | None:
    """A model directory holds its tokenizer; a trainer checkpoint's run folder holds it."""
    from memasr.data.tokenizer import MODEL_FILENAME

    for folder in ((path,) if path.is_dir() else (path.parent.parent, path.parent)):
        if (folder / MODEL_FILENAME).is_file():
            return folder / MODEL_FILENAME
    return None


def run(args: argparse.Namespace) -> int:
    from memasr.model.checkpoint import save_pretrained
    from memasr.model.transducer import build_model
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
    config, state, steps = average_checkpoints(inputs)
    model = build_model(config)
    model.load_state_dict(state)
    meta = {"averaged": [str(p) for p in inputs], "averaged_steps": steps}
    out = save_pretrained(model, args.out, _tokenizer_beside(inputs[-1]), meta)
    print(f"averaged {len(inputs)} checkpoints (steps {', '.join(str(s) for s in steps)}) into {out}")
    return 0
