"""Reference models: trained small-baseline against small-optimized, plus int8.

Writes docs/results/reference_models.md: one row per model with parameters, weight
bytes, analytic and traced off-chip bytes per audio second (2 MiB, 8-bit, each model's
default schedule), energy, real-time factor on one thread and WER on three sets:
the held-out-voice synthetic test split, the real human speech of pocketsphinx-testdata
(LibriVox + cards) and the isolated letters/words of klettres-data. Then the shipped
model at 8-bit weights against float, with the S/D/I breakdown.

    .venv/bin/python benchmarks/reference_models.py \\
        --model runs/small-baseline/best --model runs/small-optimized/best \\
        --test-manifest data/corpus/test.jsonl
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from memasr.data.audio import load_audio
from memasr.data.evalsets import available_eval_sets, load_eval_set
from memasr.decode.recognizer import Recognizer, RecognizerConfig
from memasr.deploy.quantize import quantize_model
from memasr.evaluate import evaluate_transcriber, manifest_items, score, streaming_transcriber
from memasr.memory import analyze, extract_workload, load_profile, parse_schedule
from memasr.memory.tracerun import trace_run
from memasr.model.checkpoint import load_pretrained

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "reference_models.md"


def wer_cell(s: dict) -> str:
    return f"{100 * s['wer']:.1f}"


def evaluate_model(model, tokenizer, sets: dict, audio_cache: dict) -> tuple[dict, float]:
    rec = Recognizer(model, tokenizer, RecognizerConfig())
    fn = streaming_transcriber(rec)
    results, spent, dur = {}, 0.0, 0.0
    for name, items in sets.items():
        s, rtf, rows = evaluate_transcriber(fn, items, audio=audio_cache)
        results[name] = (s, rows)
        spent += sum(r["seconds"] for r in rows)
        dur += sum(r["audio_seconds"] for r in rows)
    return results, spent / dur


def trace_audio(items, seconds: float, cache: dict) -> np.ndarray:
    pieces, total = [], 0
    for item in items:
        x = cache.get(item.path)
        if x is None:
            x, _ = load_audio(item.path)
        pieces.append(x)
        total += len(x)
        if total >= seconds * 16000:
            break
    return np.concatenate(pieces)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="checkpoint directory (repeat)")
    ap.add_argument("--test-manifest", default="data/corpus/test.jsonl")
    ap.add_argument("--limit", type=int, default=0, help="first N synthetic test utterances (0 = all)")
    ap.add_argument("--int8-model", help="model for the int8 comparison (default: the last --model)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    torch.set_num_threads(1)
    command = "`.venv/bin/python benchmarks/reference_models.py " + " ".join(sys.argv[1:]) + "`"
    profile = load_profile()

    sets = {"synthetic test (held-out voices)": manifest_items(args.test_manifest, args.limit)}
    real = [n for n in ("librivox", "cards") if n in available_eval_sets()]
    if real:
        sets["real speech (LibriVox + cards)"] = [i for n in real for i in load_eval_set(n)]
    if "klettres" in available_eval_sets():
        sets["klettres letters + words"] = load_eval_set("klettres")
    cache: dict = {}
    started = time.time()

    lines = ["# Reference models\n", f"Command: {command}\n",
             f"Profile `{profile.name}` ({profile.onchip_bytes // 1024} KiB buffer, {profile.weight_bits}-bit "
             "weights). RTF: one thread, streaming recognizer fed 100 ms blocks, greedy search, "
             "median-free single pass over every set (the machine is shared; compare within this table). "
             "Analytic traffic at 4 tokens/s; traced = LRU replay of a real streaming run on "
             "about 20 s of held-out test audio, with the analytic figure at that run's measured token rate "
             "beside it.\n"]
    header = ("| model | schedule | params | weight MB | off-chip MB/s (analytic) | off-chip MB/s (traced) | "
              "analytic at traced rate | energy mJ/s | RTF | " + " | ".join(f"WER % {n}" for n in sets) + " |")
    lines += [header, "|---|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(sets)]
    per_model = {}
    for directory in args.model:
        model, tokenizer = load_pretrained(directory)
        schedule = parse_schedule(model.config.schedule)
        analysis = analyze(extract_workload(model), profile, schedule)
        t = analysis.totals()
        report = trace_run(model, trace_audio(sets["synthetic test (held-out voices)"], 20.0, cache), profile, schedule)
        results, rtf = evaluate_model(model, tokenizer, sets, cache)
        per_model[directory] = (model, tokenizer, results, t)
        lines.append(f"| {model.config.name} (`{directory}`) | {schedule} | {t['params']:,} | "
                     f"{t['weight_bytes'] / 1e6:.2f} | {t['offchip_bytes_per_s'] / 1e6:.3f} | "
                     f"{report.traced_offchip_bytes_per_s / 1e6:.3f} | "
                     f"{report.analytic.traffic.offchip_bytes_per_s / 1e6:.3f} | {t['energy_mj_per_s']:.3f} | "
                     f"{rtf:.4f} | " + " | ".join(wer_cell(results[n][0]) for n in sets) + " |")
        print(lines[-1], flush=True)

    if len(per_model) >= 2:
        (_, _, rb, tb), (_, _, ro, to) = list(per_model.values())[:2]
        syn = "synthetic test (held-out voices)"
        wb, wo = rb[syn][0]["wer"], ro[syn][0]["wer"]
        traffic = tb["offchip_bytes_per_s"] / to["offchip_bytes_per_s"]
        size = tb["params"] / to["params"]
        rel = (wo - wb) / wb if wb else float("inf")
        lines += ["\n## Targets\n",
                  f"- small-baseline WER on held-out synthetic voices <= 15%: **{100 * wb:.1f}%** — "
                  f"{'met' if wb <= 0.15 else 'MISSED'}.",
                  f"- small-optimized off-chip bytes >= 4.5x fewer: **{traffic:.2f}x** — "
                  f"{'met' if traffic >= 4.5 else 'MISSED'}.",
                  f"- small-optimized parameters <= half: **{size:.2f}x fewer** — {'met' if size >= 2 else 'MISSED'}.",
                  f"- small-optimized synthetic-test WER within 10% relative of the baseline: "
                  f"**{100 * rel:+.1f}% relative** ({100 * wo:.1f}% vs {100 * wb:.1f}%) — "
                  f"{'met' if rel <= 0.10 else 'MISSED'}."]

    int8_dir = args.int8_model or args.model[-1]
    model, tokenizer, results, _ = per_model[int8_dir]
    q = quantize_model(model, 8)
    q_results, q_rtf = evaluate_model(q, tokenizer, sets, cache)
    w = extract_workload(model)
    sched = parse_schedule(model.config.schedule)
    lines += [f"\n## Int8 weights against float (`{int8_dir}`)\n",
              "Weights rounded to 8-bit integers per output channel (`memasr.deploy.quantize`); "
              "traffic from the analyzer at 32-bit and 8-bit weights, same 2 MiB buffer.\n",
              f"- off-chip MB/s: float32 {analyze(w, profile.with_overrides(weight_bits=32), sched).totals()['offchip_bytes_per_s'] / 1e6:.3f}, "
              f"int8 {analyze(w, profile, sched).totals()['offchip_bytes_per_s'] / 1e6:.3f}\n",
              "| set | weights | WER % | substitutions | deletions | insertions | reference words |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for name in sets:
        for label, res in (("float", results), ("int8", q_results)):
            s = res[name][0]
            lines.append(f"| {name} | {label} | {100 * s['wer']:.1f} | {s['substitutions']} | {s['deletions']} | "
                         f"{s['insertions']} | {s['ref_words']} |")

    lines += ["\n## Sample hypotheses (real speech, last model)\n", "| id | reference | hypothesis |", "|---|---|---|"]
    last = per_model[args.model[-1]][2]
    for name in sets:
        if name.startswith("real"):
            for row in last[name][1]:
                lines.append(f"| {row['id']} | {row['ref']} | {row['hyp']} |")
    lines.append(f"\nGenerated in {time.time() - started:.0f} s.")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    from memasr.errors import exit_on_input_error

    sys.exit(exit_on_input_error(main, "reference_models.py"))
