"""``memasr synth``: write a synthetic speech corpus (wavs + JSONL manifests)."""
from __future__ import annotations

import argparse

from memasr.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from memasr.data.synth import ENGINES

    p = subparsers.add_parser(
        "synth",
        help="synthesize a TTS speech corpus (train/dev/test manifests)",
        description="Synthesize speech from the offline text pool with espeak-ng, flite, festival "
        "and Piper. Test voices (and the whole festival engine) never occur in train. "
        "Re-running with the same --out and --seed resumes.",
    )
    p.add_argument("--hours", type=float, default=1.0, help="audio to generate, all splits (default 1)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    p.add_argument("--allow-missing", action="store_true",
                   help="skip TTS engines or text sources that are not installed (with a warning)")
    p.add_argument("--engines", default=",".join(ENGINES),
                   help=f"comma-separated engines (default {','.join(ENGINES)})")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from memasr.data.synth import synthesize_corpus

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines:
        raise InputError("--engines is empty")
    summary = synthesize_corpus(args.out, args.hours, jobs=args.jobs, seed=args.seed,
                                allow_missing=args.allow_missing, engines=engines,
                                progress=not args.quiet)
    print(f"wrote {summary['out_dir']} with engines {', '.join(summary['engines'])}")
    for split, s in summary["splits"].items():
        print(f"  {split:5s} {s['utterances']:7d} utterances {s['hours']:8.3f} h "
              f"{s['voices']:4d} voices used (of {s['voice_pool']})")
    print(f"took {summary['seconds']:.1f} s")
    return 0
