"""``memasr prepare``: import a corpus into a JSONL manifest.

    memasr prepare librispeech DIR --out M.jsonl
    memasr prepare list FILE --out M.jsonl        (lines: path<TAB>text)
    memasr prepare lhotse CUTS.jsonl --out M.jsonl
    memasr prepare mix A.jsonl B.jsonl:3 --out M.jsonl   (B three times; paths made absolute)

Bad items are reported one per line on stderr and skipped; the good ones are
still written, and the exit status is 2 if any item was bad.
"""
from __future__ import annotations

import argparse
import json
import sys

from memasr.data.manifest import prepare_lhotse, prepare_librispeech, prepare_list, prepare_mix, write_manifest
from memasr.errors import InputError

IMPORTERS = {
    "librispeech": prepare_librispeech,
    "list": prepare_list,
    "lhotse": prepare_lhotse,
    "mix": prepare_mix,
}
MULTI_SOURCE = {"mix"}  # importers that take several paths


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "prepare",
        help="import a corpus (LibriSpeech tree, path<TAB>text list, lhotse cuts) or mix manifests into one JSONL manifest",
        description="Import a corpus into a JSONL manifest (audio_filepath, duration, text per line).",
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", choices=sorted(IMPORTERS), help="input format")
    parser.add_argument("path", nargs="+",
                        help="LibriSpeech directory, list file or lhotse cuts.jsonl; for mix: manifests, each PATH[:N]")
    parser.add_argument("--out", required=True, help="output manifest (.jsonl)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    problems: list[str] = []
    if args.source not in MULTI_SOURCE and len(args.path) != 1:
        raise InputError(f"memasr prepare {args.source} takes one path, got {len(args.path)}")
    source = args.path if args.source in MULTI_SOURCE else args.path[0]
    entries = IMPORTERS[args.source](source, problems=problems)
    for message in problems:
        sys.stderr.write(f"memasr prepare: skipped: {message}\n")
    count = write_manifest(args.out, entries)
    hours = sum(e["duration"] for e in entries) / 3600.0
    if args.json:
        print(json.dumps({"out": args.out, "entries": count, "hours": round(hours, 4), "skipped": len(problems)}))
    else:
        print(f"wrote {count} entries ({hours:.2f} h) to {args.out}" + (f"; skipped {len(problems)}" if problems else ""))
    return 2 if problems else 0
