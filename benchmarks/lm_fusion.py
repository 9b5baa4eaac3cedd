"""Shallow fusion of a token n-gram LM: WER/CER and RTF of greedy, modified beam search
without an LM, and with the LM at several scales, on one model and some manifests.

Writes a markdown table (default ``docs/results/lm_fusion.md``) with the exact command.

    .venv/bin/memasr lm --model DIR --text data/mix/train.jsonl --order 4 --out lm.arpa \\
        --exclude data/corpus/test.jsonl --exclude data/corpus-natural/test.jsonl \\
        --exclude data/real-dev.jsonl --exclude data/real-test.jsonl
    .venv/bin/python benchmarks/lm_fusion.py --model DIR --lm lm.arpa \\
        --manifest data/corpus/test.jsonl --manifest data/real-dev.jsonl --limit 200 \\
        --scales 0.1,0.2,0.3 --out docs/results/lm_fusion.md
    # several LMs side by side (e.g. unpruned against pruned): --lm NAME=FILE, repeated
    .venv/bin/python benchmarks/lm_fusion.py --model DIR --lm '4-gram=lm4.arpa' --lm '3-gram, pruned=lm.arpa.gz' ...

Every configuration decodes the same first ``--limit`` rows of each manifest through the
streaming recognizer (``memasr eval``'s path, 100 ms blocks, one thread by default).
"""
from __future__ import annotations

import argparse
import datetime
import platform
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

from memasr.atomic import atomic_write  # noqa: E402
from memasr.commands.eval import evaluate_model  # noqa: E402
from memasr.decode.recognizer import RecognizerConfig  # noqa: E402
from memasr.data.tokenizer import Tokenizer  # noqa: E402
from memasr.errors import InputError, exit_on_input_error  # noqa: E402
from memasr.lm.ngram import NgramLM  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--lm", required=True, action="append", metavar="[NAME=]FILE.arpa[.gz]",
                   help="ARPA LM over the model's pieces (memasr lm); repeat to compare several")
    p.add_argument("--manifest", required=True, action="append", metavar="M.jsonl")
    p.add_argument("--limit", type=int, default=200, metavar="N", help="first N rows of each manifest (0 = all)")
    p.add_argument("--scales", default="0.1,0.2,0.3,0.5", help="comma-separated LM scales")
    p.add_argument("--bonuses", default="0,1", help="comma-separated per-token length bonuses; each LM scale "
                   "is run with each (default 0,1: the plain fused score, and memasr eval's default bonus)")
    p.add_argument("--beam", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--note", default="", help="a sentence about the model, printed under the command")
    p.add_argument("--out", default=str(ROOT / "docs/results/lm_fusion.md"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        scales = [float(s) for s in args.scales.split(",") if s.strip()]
        bonuses = [float(b) for b in args.bonuses.split(",") if b.strip()]
    except ValueError:
        raise InputError("--scales and --bonuses must be comma-separated numbers") from None
    torch.set_num_threads(args.threads)
    started = time.time()
    tokenizer = Tokenizer.load(args.model)
    lms = []  # (name, path, loaded LM)
    for spec in args.lm:
        name, sep, path = spec.partition("=")
        path = path if sep else name
        lms.append((name if sep else Path(path).name, Path(path), NgramLM.read_arpa(path, tokenizer)))
    configs = [("greedy", "greedy", None, 0.0, 0.0), (f"beam {args.beam}", "modified_beam_search", None, 0.0, 0.0)]
    configs += [(f"beam {args.beam} + " + (f"{name} " if len(lms) > 1 else "") + f"LM {s:g}"
                 + (f", bonus {b:g}" if b else ""), "modified_beam_search", lm, s, b)
                for name, _, lm in lms for b in bonuses for s in scales]
    rows = []
    for manifest in args.manifest:
        for name, method, use_lm, scale, bonus in configs:
            config = RecognizerConfig(decoding_method=method, max_active_paths=args.beam, lm=use_lm,
                                      lm_scale=scale, length_bonus=bonus)
            r = evaluate_model(args.model, manifest, config, limit=args.limit)
            rows.append((manifest, name, r))
            print(f"{manifest}  {name:<18} WER {100 * r['wer']:6.2f}%  CER {100 * r['cer']:6.2f}%  "
                  f"S/D/I {r['substitutions']}/{r['deletions']}/{r['insertions']}  RTF {r['rtf']:.3f}", flush=True)
    command = "  .venv/bin/python benchmarks/lm_fusion.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    lines = [
        "# Shallow fusion with a token n-gram LM (modified beam search)", "",
        "Produced by:", "", "```", command, "```", "",
        f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{(time.time() - started) / 60:.1f} min, torch {torch.__version__}, `torch.set_num_threads({args.threads})`, "
        f"CPU: {platform.machine()} (shared machine: RTF figures are noisy and only comparable within this table).", "",
        f"Model `{args.model}`. " + args.note, "",
        "| LM | file | order | n-grams | file size |", "|---|---|---:|---:|---:|",
        *[f"| {name} | `{path}` | {lm.order} | {len(lm.probs):,} | {path.stat().st_size / 1e6:.1f} MB |"
          for name, path, lm in lms], "",
        f"First {args.limit or 'all'} rows of each manifest, streamed in 100 ms blocks (`memasr eval`'s path). "
        "Fused score = acoustic + scale x LM log-probability per token (+ bonus per token), plus scale x "
        "log p(</s>) at the end.", "",
    ]
    for manifest in args.manifest:
        part = [r for r in rows if r[0] == manifest]
        first = part[0][2]
        lines += [f"## `{manifest}` ({first['utterances']} utterances, {first['audio_seconds'] / 60:.1f} min)", "",
                  "| search | WER % | CER % | S / D / I (words) | RTF |", "|---|---:|---:|---:|---:|"]
        for _, name, r in part:
            lines.append(f"| {name} | {100 * r['wer']:.2f} | {100 * r['cer']:.2f} | "
                         f"{r['substitutions']} / {r['deletions']} / {r['insertions']} | {r['rtf']:.3f} |")
        lines.append("")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(exit_on_input_error(main, "lm_fusion"))
