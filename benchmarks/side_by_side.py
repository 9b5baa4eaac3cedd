"""Training runs that differ in one choice (vocabulary, predictor context, encoder width...), side by side.

Each ``--run LABEL=RUN_DIR`` is a ``memasr train`` folder (``dev.csv``, ``train.csv``,
``tokenizer.model``, the model folder ``--model-subdir``), or a model folder inside one (e.g. an
average of chosen checkpoints, to compare runs at equal steps). The report gives, per run: BPE
pieces, the predictor (a stateless one's token context, or a recurrent one's cell and width)
and encoder units per layer (from the model's config),
parameters, the scored model's step (its own, or the last one it averages) with the wall minutes
and hours of audio seen up to it, the dev greedy WER the trainer logged at each evaluation
(against wall minutes), and the greedy WER of the model folder on every ``--manifest``
(streaming recognizer, one run, side by side). Nothing is trained here; the runs' own command
goes in with ``--run-command``. With ``--by-source``, a manifest whose clips sit in more than one
folder (real-test: librivox, cards, klettres, ktuberling, alsa) also gets a table of WER per folder,
scored from the same hypotheses: a mixed set's total hides which source moved. Used for
docs/results/token_choice.md, widen.md and kokoro_data.md.

    .venv/bin/python benchmarks/side_by_side.py --title 'Vocabulary and predictor context, trained side by side' \\
        --run v128c2=runs/tok/v128c2 --run v256c2=runs/tok/v256c2 --model-subdir avg-3 \\
        --manifest data/corpus/test.jsonl --limit 300 --out docs/results/token_choice.md
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import sys
from pathlib import Path

import torch

from memasr.atomic import atomic_write
from memasr.commands.options import labelled
from memasr.decode.recognizer import Recognizer, RecognizerConfig
from memasr.errors import InputError
from memasr.evaluate import evaluate_transcriber, manifest_items, score, streaming_transcriber
from memasr.model.checkpoint import load_pretrained
from memasr.model.config import PredictorConfig
from memasr.model.transducer import count_parameters


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _read_meta(model_dir: Path) -> dict:
    """A model folder's meta.json ({} when it has none); broken JSON is one error line."""
    meta_file = model_dir / "meta.json"
    try:
        return json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    except ValueError as exc:
        raise InputError(f"{meta_file}: not JSON ({exc})") from None


def _model_step(model_dir: Path) -> int | None:
    """The training step a model folder holds: its own (final/, best/) or the last averaged one."""
    meta = _read_meta(model_dir)
    if meta.get("averaged_steps"):
        return max(meta["averaged_steps"])
    return meta.get("step")


def read_run(folder: Path, model_subdir: str) -> dict:
    """The trainer's logs of one run and its model folder's size, token setup and step. ``folder``
    is a run (its ``model_subdir`` is scored), a model folder inside one (scored as it is) or a
    bundled model folder without logs (wall minutes 0, no dev curve, hours seen over its whole
    history: ``audio_hours_total`` of its meta.json)."""
    if (folder / "config.toml").is_file() and (folder.parent / "dev.csv").is_file():
        folder, model_subdir = folder.parent, folder.name
    if (folder / "config.toml").is_file() and not (folder / "dev.csv").is_file():
        # a bundled model folder (the shipped default) has no training logs: its meta.json's
        # step and audio hours stand in, and it has no dev curve
        model_dir, dev = folder, []
        meta = _read_meta(folder)
        last = {"step": meta.get("step", 0), "audio_hours_total": meta.get("audio_hours_total", 0.0)}
    else:
        dev_csv, train_csv, model_dir = folder / "dev.csv", folder / "train.csv", folder / model_subdir
        for needed in (dev_csv, train_csv, model_dir / "config.toml"):
            if not needed.is_file():
                raise InputError(f"{folder}: no {needed.relative_to(folder)} (a finished memasr train folder?)")
        dev, train = _rows(dev_csv), _rows(train_csv)
        step = _model_step(model_dir)
        upto = [r for r in train if step is None or int(r["step"]) <= step]
        last = upto[-1] if upto else {}
    model, tokenizer = load_pretrained(model_dir)
    return {
        "model_dir": model_dir, "model": model, "tokenizer": tokenizer,
        "pieces": model.config.vocab_size, "predictor": predictor_label(model.config.predictor),
        "units": model.config.encoder.hidden_size,
        "params": count_parameters(model), "steps": int(last.get("step", 0)),
        "minutes": float(last.get("elapsed_s", 0.0)) / 60, "hours": float(last.get("audio_hours_total", 0.0)),
        "dev": [(int(r["step"]), float(r["elapsed_s"]) / 60, 100 * float(r["dev_wer"])) for r in dev],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", action="append", required=True, type=labelled("RUN_DIR"), metavar="LABEL=RUN_DIR",
                   help="a run folder (its --model-subdir is scored), a model folder inside a run, or a bundled "
                   "model folder such as src/memasr/pretrained/default")
    p.add_argument("--run-command", action="append", default=[], type=labelled("TEXT"), metavar="LABEL=TEXT",
                   help="the command that trained LABEL, quoted in the report")
    p.add_argument("--model-subdir", default="final", help="model folder inside each run to score (default final)")
    p.add_argument("--manifest", action="append", default=[], help="test manifest(s) to score the models on")
    p.add_argument("--limit", type=int, default=0, help="first N rows of each manifest (0 = all)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--by-source", action="store_true",
                   help="also WER per audio folder of each manifest whose clips sit in more than one folder")
    p.add_argument("--title", default="Training runs side by side", help="the report's heading")
    p.add_argument("--out", help="markdown report to write (atomically)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        runs = {label: read_run(Path(folder), args.model_subdir)
                for label, folder in args.run}
        commands = dict(args.run_command)
        sets = {m: manifest_items(m, args.limit) for m in args.manifest}
        for run in runs.values():
            fn = streaming_transcriber(Recognizer(run["model"], run["tokenizer"], RecognizerConfig()))
            run["wer"], run["by_source"] = {}, {}
            for m, items in sets.items():
                total, _, rows = evaluate_transcriber(fn, items)
                run["wer"][m] = 100 * total["wer"]
                if args.by_source:
                    run["by_source"][m] = wer_by_source(items, rows)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = render(args.title, runs, sets, commands, argv if argv is not None else sys.argv[1:])
    print(text)
    if args.out:
        with atomic_write(args.out) as fh:
            fh.write(text)
    return 0


def sources(paths: list[str]) -> list[str]:
    """The first folder of each clip below the folder all clips share
    (``real-test-wav/klettres/alpha/a.wav`` -> ``klettres``); ``.`` for a clip sitting in it."""
    root = Path(os.path.commonpath([str(Path(p).parent) for p in paths]))
    return [rel.parts[0] if len(rel.parts) > 1 else "." for rel in (Path(p).relative_to(root) for p in paths)]


def wer_by_source(items: list, rows: list[dict]) -> dict[str, tuple[float, int, int]]:
    """{source folder: (WER %, clips, reference words)} from ``evaluate_transcriber``'s rows, which
    follow ``items`` one to one; empty when every clip comes from one folder."""
    groups: dict[str, list[dict]] = {}
    for name, row in zip(sources([item.path for item in items]), rows, strict=True):
        groups.setdefault(name, []).append(row)
    if len(groups) < 2:
        return {}
    out = {}
    for name, group in sorted(groups.items()):
        s = score([r["ref"] for r in group], [r["hyp"] for r in group])
        out[name] = (100 * s["wer"], len(group), s["ref_words"])
    return out


def predictor_label(config: PredictorConfig) -> str:
    """``stateless, 2 tokens`` or ``1 x grc 256`` (layers x cell, hidden units): a stateless
    predictor's context size means nothing for a recurrent one."""
    if config.kind == "stateless":
        return f"stateless, {config.context_size} tokens"
    return f"{config.num_layers} x {config.cell} {config.hidden_size}"


def render(title: str, runs: dict, sets: dict, commands: dict, argv: list[str]) -> str:
    lines = [f"# {title}", "",
             "Command: `.venv/bin/python benchmarks/side_by_side.py " + " ".join(shlex.quote(a) for a in argv) + "`",
             "", "Greedy WER of each run's model folder, streaming, same run:", "",
             "| run | BPE pieces | predictor | encoder units | params | model step | wall min | hours seen | "
             + " | ".join(f"WER % {m} ({len(items)})" for m, items in sets.items()) + " |",
             "|---|---:|---|---:|---:|---:|---:|---:|" + "---:|" * len(sets)]
    for label, r in runs.items():
        cells = "".join(f" {r['wer'][m]:.1f} |" for m in sets)
        lines.append(f"| {label} | {r['pieces']} | {r['predictor']} | {r['units']} | {r['params'] / 1e6:.2f} M | {r['steps']} | "
                     f"{r['minutes']:.0f} | {r['hours']:.1f} |{cells}")
    for m in sets:
        split = [r["by_source"].get(m, {}) for r in runs.values()]
        if not any(split):
            continue
        names = sorted({n for per in split for n in per})
        sizes = next(per for per in split if per)
        lines += ["", f"WER % of `{m}` per source folder (clips, reference words), same hypotheses:", "",
                  "| run | " + " | ".join(f"{n} ({sizes[n][1]}, {sizes[n][2]} words)" for n in names) + " |",
                  "|---|" + "---:|" * len(names)]
        for label, per in zip(runs, split):
            lines.append(f"| {label} | " + " | ".join(f"{per[n][0]:.1f}" for n in names) + " |")
    steps = sorted({s for r in runs.values() for s, _, _ in r["dev"]})
    lines += ["", "Dev greedy WER (%) logged by the trainer at each evaluation (same dev rows for every run):", "",
              "| step | " + " | ".join(runs) + " |", "|---:|" + "---:|" * len(runs)]
    for step in steps:
        cells = []
        for r in runs.values():
            hit = [(m, w) for s, m, w in r["dev"] if s == step]
            cells.append(f"{hit[0][1]:.1f} ({hit[0][0]:.0f} min)" if hit else "")
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    if commands:
        lines += ["", "Training commands:", ""] + [f"- {label}: `{cmd}`" for label, cmd in commands.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
