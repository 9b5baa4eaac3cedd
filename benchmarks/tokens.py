"""How many tokens each encoder frame must carry, for BPE vocabularies of several sizes.

For each vocabulary size: train the tokenizer on the training manifest's transcripts (as
``memasr train`` does), then over every utterance count tokens ``U`` and encoder frames
``T'`` of a preset (stacking and time reduction from its config; frames from the duration).
Reports tokens per encoder frame (mean, 95th percentile), the share of utterances near CTC
infeasibility (``U + repeats > 0.8 T'``: CTC needs a frame per token plus a blank between
repeated tokens), and the stateless predictor's and joiner's output-layer size.

    .venv/bin/python benchmarks/tokens.py --manifest data/corpus/train.jsonl --preset small-optimized \\
        --vocab 128 256 500 --out docs/results/tokens.md
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from memasr.data.manifest import read_manifest
from memasr.data.tokenizer import Tokenizer, normalize_text
from memasr.errors import InputError
from memasr.model.config import load_preset
from memasr.train.data import encoder_frames


def measure(texts: list[str], seconds: list[float], preset: str, vocab: int) -> dict:
    config = load_preset(preset)
    with tempfile.TemporaryDirectory() as tmp:
        tok = Tokenizer.train(texts, Path(tmp), vocab_size=vocab)
        ids = [tok.encode(t) for t in texts]
    hop = config.features.hop_ms / 1000.0
    frames = np.array([encoder_frames(config, int(s / hop)) for s in seconds], dtype=np.float64)
    u = np.array([len(x) for x in ids], dtype=np.float64)
    repeats = np.array([sum(a == b for a, b in zip(x, x[1:])) for x in ids], dtype=np.float64)
    ratio = u / np.maximum(frames, 1)
    words = sum(len(t.split()) for t in texts)
    return {"vocab": tok.vocab_size, "tokens_per_word": u.sum() / words, "per_frame_mean": ratio.mean(),
            "per_frame_p95": np.percentile(ratio, 95), "near_infeasible": float(((u + repeats) > 0.8 * frames).mean()),
            "infeasible": float(((u + repeats) > frames).mean()),
            "output_params": (vocab + 1) * (config.joiner.dim + 1) + (vocab + 1) * config.predictor.embed_dim}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--manifest", required=True)
    p.add_argument("--preset", default="small-optimized")
    p.add_argument("--vocab", type=int, nargs="+", default=[128, 256, 500])
    p.add_argument("--out", default="docs/results/tokens.md")
    args = p.parse_args(argv)
    try:
        rows = read_manifest(args.manifest)
        texts = [normalize_text(r["text"]) for r in rows]
        seconds = [float(r["duration"]) for r in rows]
        results = [measure(texts, seconds, args.preset, v) for v in args.vocab]
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lines = [f"# Tokens per encoder frame ({args.preset}, {len(texts)} utterances of {args.manifest})", "",
             "Command: `.venv/bin/python benchmarks/tokens.py " + " ".join(argv or sys.argv[1:]) + "`", "",
             "| BPE pieces | tokens/word | tokens per encoder frame (mean) | p95 | U+repeats > 0.8 T' | > T' (CTC infeasible) "
             "| output-layer params (joiner + embedding) |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['vocab']} | {r['tokens_per_word']:.2f} | {r['per_frame_mean']:.3f} | {r['per_frame_p95']:.3f} "
                     f"| {100 * r['near_infeasible']:.1f}% | {100 * r['infeasible']:.2f}% | {r['output_params']:,} |")
    lines += ["", "These are statistics of the text alone; the runs that trained each choice side by side are in "
              "[token_choice.md](token_choice.md) (`benchmarks/side_by_side.py`)."]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
