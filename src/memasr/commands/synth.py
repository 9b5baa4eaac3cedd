"""``memasr synth``: write a synthetic speech corpus (wavs + JSONL manifests), or list the engines."""
from __future__ import annotations

import argparse
import json

from memasr.errors import InputError

_SHOWN_VOICES = 8  # longer voice lists are cut in the text listing (--json has them all)
TEXT_KINDS = ("pool", "isolated-words")
CLOSED_SPLITS = ("everywhere", "hashed")
# Draws kept with their repeats: each letter is drawn ~190 times, each of WordNet's ~6,100 nouns about twice.
_ISOLATED_DRAWS = 20_000


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from memasr.data.synth import ENGINES

    p = subparsers.add_parser(
        "synth",
        help="synthesize a TTS speech corpus (train/dev/test manifests)",
        description="Synthesize speech from the offline text pool with the TTS engines "
        f"({', '.join(ENGINES)}); each utterance gets its own rate, pitch and vocal-tract-length "
        "warp. Test voices (and the whole festival engine) never occur in train. "
        "Re-running with the same --out, --seed and engines resumes or extends.",
    )
    p.add_argument("--hours", type=float, default=1.0, help="audio to generate, all splits (default 1)")
    p.add_argument("--out", help="output directory (required unless --list-engines)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    p.add_argument("--allow-missing", action="store_true",
                   help="skip TTS engines or text sources that are not installed (with a warning)")
    p.add_argument("--engines", default=",".join(ENGINES),
                   help=f"comma-separated engines (default {','.join(ENGINES)})")
    p.add_argument("--commercial-only", action="store_true",
                   help="use only voices whose license allows commercial use")
    p.add_argument("--text", choices=TEXT_KINDS, default="pool",
                   help="what is spoken: 'pool' the offline text pool (prose and device commands), "
                   "'isolated-words' one word alone: a common noun, a letter or a number "
                   f"({_ISOLATED_DRAWS} draws by --seed; default pool)")
    p.add_argument("--closed-words", choices=CLOSED_SPLITS, default="everywhere",
                   help="with --text isolated-words: where the letters and the numbers zero to twenty go: "
                   "'everywhere' drawn in every split (test stays unseen through its held-out voices; "
                   "default), 'hashed' only in the split their text hashes to, like any sentence, so "
                   "a few (e, z, three, four, eight) are never heard alone in training: how the "
                   "corpus of session n's shipped default was built (data/corpus-words)")
    p.add_argument("--list-engines", action="store_true",
                   help="list the --engines with voices, licenses, availability and synthesis speed "
                   "measured now on one short sentence, then exit")
    p.add_argument("--json", action="store_true", help="with --list-engines: one JSON object per engine")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def _engine_names(arg: str) -> list[str]:
    from memasr.data.synth import get_engine

    names = list(dict.fromkeys(e.strip() for e in arg.split(",") if e.strip()))
    if not names:
        raise InputError("--engines is empty")
    for name in names:
        get_engine(name)  # an unknown name is one error line listing the known ones
    return names


def _list_engines(names: list[str], as_json: bool) -> None:
    from dataclasses import asdict

    from memasr.data.synth import describe_engines

    for info in describe_engines(names):
        if as_json:
            print(json.dumps({**asdict(info), "speed_source": "measured now"}))
            continue
        status = f"missing: {info.missing}" if info.missing else "available"
        speed = f", {info.speed:.1f}x real time (measured now)" if info.speed is not None else ""
        print(f"{info.name}: {status}; {len(info.voices)} voices{speed}")
        for terms in info.terms:
            shown = ", ".join(terms.voices[:_SHOWN_VOICES])
            more = f", ... ({len(terms.voices)} in all)" if len(terms.voices) > _SHOWN_VOICES else ""
            use = "commercial use allowed" if terms.commercial else "no commercial use"
            print(f"    {terms.license}, {use}: {shown}{more}")


def run(args: argparse.Namespace) -> int:
    from memasr.data.synth import synthesize_corpus

    engines = _engine_names(args.engines)
    if args.list_engines:
        _list_engines(engines, args.json)
        return 0
    if not args.out:
        raise InputError("--out is required (or pass --list-engines)")
    sentences, every_split = None, frozenset()
    if args.text == "isolated-words":
        from memasr.data.utterances import closed_word_set, isolated_word_utterances

        sentences = list(isolated_word_utterances(seed=args.seed, count=_ISOLATED_DRAWS))
        if args.closed_words == "everywhere":
            every_split = closed_word_set()
    summary = synthesize_corpus(args.out, args.hours, jobs=args.jobs, seed=args.seed,
                                allow_missing=args.allow_missing, engines=engines, sentences=sentences,
                                progress=not args.quiet, commercial_only=args.commercial_only,
                                every_split=every_split)
    only = " (commercial-use voices only)" if summary["commercial_only"] else ""
    print(f"wrote {summary['out_dir']} with engines {', '.join(summary['engines'])}{only}")
    for split, s in summary["splits"].items():
        print(f"  {split:5s} {s['utterances']:7d} utterances {s['hours']:8.3f} h "
              f"{s['voices']:4d} voices used (of {s['voice_pool']})")
    print(f"took {summary['seconds']:.1f} s")
    return 0
