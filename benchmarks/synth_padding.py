"""Padding of on-the-fly synthetic batches under each length estimate known before synthesis.

``--train synth:`` sorts the clips of ``group`` consecutive steps by an estimate of their
length (:class:`memasr.train.data.SynthBatchSampler`), since the real length is only known
after synthesis. This synthesizes the first ``--clips`` utterances of the on-the-fly source
(with its own light speed, noise and gain variation, as the trainer gets them; no ``--augment``
channel), then, for each estimate, plans the batches as the trainer does and reports
the share of padded frames, plus the estimate's correlation with the real duration. ``oracle``
sorts by the real duration: the floor for this group size.

    .venv/bin/python benchmarks/synth_padding.py --engines espeak-ng,flite --clips 1200 --batch 33,64
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from memasr.errors import InputError  # noqa: E402
from memasr.train.data import (SynthBatchSampler, make_synth_source, padding_waste,  # noqa: E402
                               synth_length_estimate)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engines", default="espeak-ng,flite", help="comma-separated --synth-engines")
    ap.add_argument("--clips", type=int, default=600, help="utterances to synthesize")
    ap.add_argument("--batch", default="33,64", help="comma-separated utterances per batch")
    ap.add_argument("--group", type=int, default=16, help="steps sorted together (the trainer's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="also write the report here")
    args = ap.parse_args(argv)
    try:
        batches = [int(b) for b in args.batch.split(",") if b]
        if args.group < 1:
            raise InputError("--group must be >= 1")
        if args.clips < 2 or not batches or min(batches) < 1 or args.group * max(batches) > args.clips:
            raise InputError("--clips must be >= 2 and hold --group x every --batch (a plan would reuse clips)")
        source = make_synth_source(args.seed, [e for e in args.engines.split(",") if e])
    except (InputError, ValueError) as exc:
        print(f"synth_padding: error: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    specs, seconds = [], []
    for i in range(args.clips):
        try:
            item = source[i]
        except Exception as exc:  # an engine failure: one line, not a traceback
            print(f"synth_padding: error: clip {i} did not synthesize: {exc}", file=sys.stderr)
            return 1
        specs.append(source.spec(i))
        seconds.append(0.0 if item["audio"] is None else len(item["audio"]) / 16000)
    took = time.perf_counter() - t0
    dur = np.array(seconds)
    frames = [int(s * 100) for s in seconds]
    estimates = {
        "none (source order)": None,
        "word count": np.array([len(s.text.split()) for s in specs], dtype=float),
        "characters": np.array([len(s.text) for s in specs], dtype=float),
        "characters / speed (synth_length_estimate)": np.array([synth_length_estimate(s) for s in specs]),
        "oracle (real duration)": dur,
    }
    engines = sorted({s.engine for s in specs})
    lines = [f"Synthetic batch padding: {args.clips} clips of seed {args.seed} ({', '.join(engines)}; "
             f"{dur.sum() / 3600:.2f} h, synthesized in {took:.0f} s), batches planned by "
             f"SynthBatchSampler with group {args.group}.", "",
             "| length estimate | corr. with duration | " + " | ".join(f"padding, {b} utts" for b in batches) + " |",
             "|---|---:|" + "---:|" * len(batches)]
    for name, v in estimates.items():
        corr = "" if v is None else f"{np.corrcoef(v, dur)[0, 1]:.3f}"
        cells = []
        for b in batches:
            size_of = None if v is None else (lambda i, v=v: float(v[i]))
            sampler = SynthBatchSampler(b, 0, 0, 1, args.clips, size_of=size_of, group=args.group)
            plan = [sampler.batch(step) for step in range(args.clips // b)]
            cells.append(f"{100 * padding_waste(plan, frames):.1f}%")
        lines.append(f"| {name} | {corr} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
