"""WER per TTS engine (or voice) of a synthetic manifest, from `memasr eval --details` files.

`memasr eval` reports one WER per manifest; this splits it by a manifest field, so one can see
which held-out engines a phase helped. Usage:

    .venv/bin/memasr eval --model M --manifest data/corpus/test.jsonl --threads 1 --details M.jsonl
    .venv/bin/python docs/results/reference_pair/by_engine.py data/corpus/test.jsonl \
        'phase 8=runs/w/heldout/p8.jsonl' 'phase 9=runs/w/heldout/p9.jsonl' [--by voice]

Prints a markdown table: one row per group (word count, then corpus-level WER per run).
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

from memasr.data.manifest import read_manifest
from memasr.data.tokenizer import normalize_text


def group_errors(manifest: list[dict], details: Path, field: str) -> dict[str, list[int]]:
    """{group: [word errors, reference words]} of one details file; rows are keyed by file stem."""
    group_of = {Path(e["audio_filepath"]).stem: str(e.get(field, "?")) for e in manifest}
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in details.read_text().splitlines():
        row = json.loads(line)
        errors = row["substitutions"] + row["deletions"] + row["insertions"]
        words = len(normalize_text(row["ref"]).split())
        for group in (group_of[row["id"]], "all"):
            totals[group][0] += errors
            totals[group][1] += words
    return totals


def main(argv: list[str]) -> int:
    field = "engine"
    if "--by" in argv:
        at = argv.index("--by")
        field = argv[at + 1]
        del argv[at:at + 2]
    if len(argv) < 2 or any("=" not in a for a in argv[1:]):
        print("usage: by_engine.py MANIFEST LABEL=DETAILS.jsonl [...] [--by FIELD]", file=sys.stderr)
        return 2
    try:
        manifest = read_manifest(argv[0])
        runs = [(label, group_errors(manifest, Path(path), field))
                for label, path in (a.split("=", 1) for a in argv[1:])]
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
