"""WER per TTS engine (or voice) of a synthetic manifest, from `memasr eval --details` files.

`memasr eval` reports one WER per manifest; this splits it by a manifest field, so one can see
which held-out engines a phase helped. Usage:

    .venv/bin/memasr eval --model M --manifest data/corpus/test.jsonl --threads 1 --details M.jsonl
    .venv/bin/python docs/results/reference_pair/by_engine.py data/corpus/test.jsonl \
        'phase 8=runs/w/heldout/p8.jsonl' 'phase 9=runs/w/heldout/p9.jsonl' [--by voice]

Prints a markdown table: one row per group (word count, then corpus-level WER per run).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from memasr.commands.options import labelled
from memasr.data.manifest import read_manifest


def group_errors(manifest: list[dict], details: Path, field: str) -> dict[str, list[int]]:
    """{group: [word errors, reference words]} of one details file; rows are keyed by file stem."""
    group_of = {Path(e["audio_filepath"]).stem: str(e.get(field, "?")) for e in manifest}
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in details.read_text().splitlines():
        row = json.loads(line)
        errors = row["substitutions"] + row["deletions"] + row["insertions"]
        words = len(row["ref"].split())  # memasr eval already normalized the reference
        for group in (group_of[row["id"]], "all"):
            totals[group][0] += errors
            totals[group][1] += words
    return totals


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="WER per manifest field from memasr eval --details files")
    parser.add_argument("manifest", help="the manifest memasr eval scored (JSONL with the field)")
    parser.add_argument("runs", nargs="+", type=labelled("DETAILS.jsonl"), metavar="LABEL=DETAILS.jsonl")
    parser.add_argument("--by", default="engine", help="manifest field to group by (default engine)")
    args = parser.parse_args(argv)
    field = args.by
    try:
        manifest = read_manifest(args.manifest)
        runs = [(label, group_errors(manifest, Path(path), field)) for label, path in args.runs]
    except (OSError, KeyError, ValueError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    first = runs[0][1]
    groups = sorted(first, key=lambda g: (g != "all", -first[g][1]))
    print(f"| {field} | words | " + " | ".join(f"WER % {label}" for label, _ in runs) + " |")
    print("|---|---:|" + "---:|" * len(runs))
    for g in groups:
        cells = [f"{100 * t[g][0] / t[g][1]:.1f}" if t[g][1] else "-" for _, t in runs]
        print(f"| {g} | {first[g][1]:,} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
