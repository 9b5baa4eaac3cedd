"""Score trained models on held-out synthetic voices and on real human speech (real-dev).

One row per ``--run NAME=MODEL_DIR``: greedy WER (streaming recognizer, the model's own
schedule) on each ``--manifest`` (the first ``--limit`` rows of each), side by side in one run.
Used for the data ablation of docs/results/data.md (same model, recipe and budget; only the
training data differ) and for choosing a checkpoint on real-dev.

    .venv/bin/python benchmarks/data_ablation.py --run 'a) old data=runs/abl-a/final' \\
        --run 'b) + natural voices=runs/abl-b/final' --manifest data/corpus/test.jsonl \\
        --manifest data/corpus-natural/test.jsonl --manifest data/real-dev.jsonl --limit 300 \\
        --out docs/results/data_ablation.md
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from memasr.atomic import atomic_write
from memasr.decode.recognizer import Recognizer, RecognizerConfig
from memasr.errors import InputError
from memasr.evaluate import evaluate_transcriber, manifest_items, streaming_transcriber
from memasr.model.checkpoint import load_pretrained


def parse_run(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name or not folder:
        raise InputError(f"--run wants NAME=MODEL_DIR, got {text!r}")
    return name, Path(folder)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", action="append", required=True, metavar="NAME=MODEL_DIR")
    p.add_argument("--manifest", action="append", required=True)
    p.add_argument("--limit", type=int, default=0, help="first N rows of each manifest (0 = all)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", help="markdown table to write (atomically)")
    p.add_argument("--json", action="store_true", help="also print one JSON object per (run, manifest)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        runs = [parse_run(r) for r in args.run]
        sets = {m: manifest_items(m, args.limit) for m in args.manifest}
        table: dict[str, dict[str, dict]] = {}
        for name, folder in runs:
            model, tokenizer = load_pretrained(folder)
            rec = Recognizer(model, tokenizer, RecognizerConfig())
            fn = streaming_transcriber(rec)
            for manifest, items in sets.items():
                score, rtf, _ = evaluate_transcriber(fn, items)
                table.setdefault(name, {})[manifest] = {**score, "rtf": rtf, "utts": len(items)}
                if args.json:
                    print(json.dumps({"run": name, "model": str(folder), "manifest": manifest, **score, "rtf": rtf}))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    header = "| run | model | " + " | ".join(f"WER % {m} ({len(sets[m])} utts)" for m in sets) + " |"
    lines = ["Command: `.venv/bin/python benchmarks/data_ablation.py " + " ".join(
        f"'{a}'" if " " in a else a for a in (argv if argv is not None else sys.argv[1:])) + "`", "",
             header, "|---|---|" + "---:|" * len(sets)]
    for name, folder in runs:
        cells = " | ".join(f"{100 * table[name][m]['wer']:.1f}" for m in sets)
        lines.append(f"| {name} | `{folder}` | {cells} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with atomic_write(args.out) as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
