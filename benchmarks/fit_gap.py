"""Does a model underfit or fail to generalize? WER on clips it trained on, beside unseen ones.

A model far from its target can be short of capacity and compute (it misses words even in clips
it has heard many times) or short of data (it knows its training clips but not new sentences or
voices). The two call for different work: more steps or a larger model, or more text and voices.
This scores the same models, with the streaming recognizer and greedy decoding, on three samples
of one synthetic corpus:

- ``train``: clips from the training manifest, clean (the trainer adds speed, channel and
  SpecAugment on top; here they are scored as synthesised);
- ``dev``: new sentences, training voices;
- ``test``: new sentences, held-out voices (the held-out target of issue 12).

Columns: WER and CER of each sample, then the two gaps: dev - train (new sentences) and
test - dev (new voices). The clip samples are seeded, so every model gets the same clips.

    .venv/bin/python benchmarks/fit_gap.py --model small-baseline=reference/small-baseline \\
        --model small-optimized=reference/small-optimized \\
        --model default=src/memasr/pretrained/default --clips 200 --out docs/results/fit_gap.md
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import sys
import time
from pathlib import Path

import torch

from memasr.atomic import atomic_write
from memasr.commands.options import labelled
from memasr.decode.recognizer import Recognizer
from memasr.errors import InputError
from memasr.evaluate import char_score, evaluate_transcriber, manifest_items, streaming_transcriber

SPLITS = ("train", "dev", "test")


def sample_items(manifest: str, clips: int, seed: int) -> list:
    """``clips`` items drawn without replacement (all of them if fewer), in manifest order."""
    items = manifest_items(manifest)
    if not items:
        raise InputError(f"{manifest}: no clips")
    chosen = sorted(random.Random(seed).sample(range(len(items)), min(clips, len(items))))
    return [items[i] for i in chosen]


def hours_seen(model_dir: Path) -> float | None:
    meta = model_dir / "meta.json"
    if not meta.is_file():
        return None
    value = json.loads(meta.read_text()).get("audio_hours_total")
    if value is not None and not isinstance(value, (int, float)):
        raise InputError(f"{meta}: audio_hours_total is not a number")
    return float(value) if value is not None else None


def score_model(model_dir: Path, samples: dict[str, list], audio: dict) -> dict[str, dict]:
    """{split: {wer, cer, words}} of one model, one streaming greedy pass per clip."""
    transcribe = streaming_transcriber(Recognizer.from_pretrained(model_dir))
    out = {}
    for split, items in samples.items():
        words, _, rows = evaluate_transcriber(transcribe, items, audio=audio)
        chars = char_score([r["ref"] for r in rows], [r["hyp"] for r in rows])
        out[split] = {"wer": words["wer"], "cer": chars["cer"], "words": words["ref_words"]}
    return out


def render(results: dict[str, dict], hours: dict[str, float | None], samples: dict[str, list],
           manifests: dict[str, str], argv: list[str], seconds: float) -> str:
    pct = lambda x: f"{100 * x:.1f}"  # noqa: E731
    lines = [
        "# Fit gap: WER on training clips beside new sentences and new voices",
        "",
        f"Command: `.venv/bin/python benchmarks/fit_gap.py {shlex.join(argv)}` ({seconds:.0f} s)  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); streaming recognizer, greedy.",
        "",
        "Samples (seeded, the same clips for every model): "
        + "; ".join(f"`{s}` {len(samples[s])} clips of {manifests[s]} "
                    f"({sum(len(i.text.split()) for i in samples[s])} words)" for s in SPLITS) + ".",
        "",
        "| model | hours seen | WER % train clips | WER % dev (new sentences) | WER % test (new voices) "
        "| CER % train / dev / test | dev - train | test - dev |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for label, r in results.items():
        h = hours[label]
        lines.append(
            f"| {label} | {'' if h is None else f'{h:,.1f}'} | {pct(r['train']['wer'])} | {pct(r['dev']['wer'])} "
            f"| {pct(r['test']['wer'])} | {' / '.join(pct(r[s]['cer']) for s in SPLITS)} "
            f"| {100 * (r['dev']['wer'] - r['train']['wer']):+.1f} | {100 * (r['test']['wer'] - r['dev']['wer']):+.1f} |")
    lines += [
        "",
        "Reading the columns: a high train-clip WER means the model has not fitted what it has already",
        "heard (more steps, a higher learning rate or more capacity is the lever); a large dev - train",
        "gap means it does not carry over to new sentences (more text); a large test - dev gap, to new",
        "voices (more voices).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", type=labelled("DIR"), required=True, metavar="LABEL=DIR",
                        help="model folder to score (repeatable)")
    parser.add_argument("--train", default="data/corpus/train.jsonl", help="manifest the models trained on")
    parser.add_argument("--dev", default="data/corpus/dev.jsonl", help="new sentences, training voices")
    parser.add_argument("--test", default="data/corpus/test.jsonl", help="new sentences, held-out voices")
    parser.add_argument("--clips", type=int, default=200, help="clips per sample (default 200)")
    parser.add_argument("--seed", type=int, default=5, help="sampling seed (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", type=Path, help="write the markdown report here (else stdout)")
    args = parser.parse_args(argv)
    if args.clips < 1 or args.threads < 1:
        parser.error("--clips and --threads must be at least 1")
    torch.set_num_threads(args.threads)
    labels = [label for label, _ in args.model]
    if len(set(labels)) != len(labels):
        parser.error("--model labels must differ")
    manifests = {"train": args.train, "dev": args.dev, "test": args.test}
    start = time.perf_counter()
    try:
        hours = {label: hours_seen(Path(d)) for label, d in args.model}
        samples = {s: sample_items(manifests[s], args.clips, args.seed) for s in SPLITS}
        audio: dict = {}
        results = {label: score_model(Path(d), samples, audio) for label, d in args.model}
        report = render(results, hours, samples, manifests, argv, time.perf_counter() - start)
        if args.out:
            with atomic_write(args.out) as f:
                f.write(report)
            print(f"wrote {args.out}")
        else:
            print(report)
    except (InputError, OSError, ValueError, KeyError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
