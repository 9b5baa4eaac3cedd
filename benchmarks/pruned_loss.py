"""Training-step time of the full RNN-T loss against the pruned loss; writes docs/results/pruned_loss.md.

One step = forward + backward of the joiner and the loss, from encoder frames ``enc [B, T', D]``
and predictor outputs ``pred [B, U+1, P]`` (the encoder and predictor themselves are not run):

- full: ``Joiner.forward`` on the whole lattice [B, T', U+1, V+1] + ``memasr.train.loss.rnnt_loss``;
- pruned: ``PrunedLossHead`` (simple lattice, its loss and occupations, band choice, the joiner on
  the band [B, T', s, V+1], exact loss in the band); the backward pass runs on
  ``0.5 * simple + pruned`` (icefall's weights after warm-up).

Both run side by side in one process on the same random batch (ragged lengths: frames and labels
drawn from 60-100% of the maximum, the first sequence at the maximum), alternating full and pruned
in every repeat after one untimed warm-up of each; the table shows medians. The logits columns give
the size of the joint's output tensor alone (float32), the largest tensor of each step.

    .venv/bin/python benchmarks/pruned_loss.py                       # B=32, 1 thread, all sizes
    .venv/bin/python benchmarks/pruned_loss.py --sizes 100x20 --vocab 129 --repeats 3
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

from memasr.atomic import atomic_write
from memasr.errors import InputError, exit_on_input_error
from memasr.model.config import JoinerConfig
from memasr.model.joiner import Joiner
from memasr.train.loss import rnnt_loss
from memasr.train.pruned import PrunedLossConfig, PrunedLossHead

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "results" / "pruned_loss.md"


def _parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for item in text.split(","):
        try:
            frames, labels = (int(x) for x in item.lower().split("x"))
        except ValueError:
            raise InputError(f"--sizes takes T'xU pairs such as 100x20,250x60; got {item!r}") from None
        if frames < 1 or labels < 1:
            raise InputError(f"--sizes: T' and U must be >= 1, got {item!r}")
        sizes.append((frames, labels))
    return sizes


def _parse_ints(text: str, flag: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",")]
    except ValueError:
        raise InputError(f"{flag} takes comma-separated integers, got {text!r}") from None
    if min(values) < 2:
        raise InputError(f"{flag} values must be >= 2, got {text!r}")
    return values


def _batch(B: int, T: int, U: int, V1: int, enc_dim: int, pred_dim: int, gen: torch.Generator):
    """Random encoder/predictor outputs, labels and ragged lengths (60-100% of T', U)."""
    enc = torch.randn(B, T, enc_dim, generator=gen).requires_grad_()
    pred = torch.randn(B, U + 1, pred_dim, generator=gen).requires_grad_()
    targets = torch.randint(1, V1, (B, U), generator=gen)
    t_len = torch.randint(int(0.6 * T) + 1, T + 1, (B,), generator=gen)
    u_len = torch.randint(int(0.6 * U), U + 1, (B,), generator=gen)
    t_len[0], u_len[0] = T, U
    return enc, pred, targets, t_len, torch.minimum(u_len, t_len)


def measure(B: int, T: int, U: int, V1: int, args) -> dict:
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    joiner = Joiner(JoinerConfig(dim=args.joiner_dim), args.enc_dim, args.pred_dim, V1)
    head = PrunedLossHead(args.enc_dim, args.pred_dim, V1)
    enc, pred, targets, t_len, u_len = _batch(B, T, U, V1, args.enc_dim, args.pred_dim, gen)
    cfg = PrunedLossConfig(prune_range=args.prune_range)
    simple_weight, _ = cfg.loss_weights(cfg.warm_steps)
    losses = {}

    def full() -> None:
        loss = rnnt_loss(joiner(enc, pred), targets, t_len, u_len, reduction="sum")
        loss.backward()
        losses["full"] = float(loss.detach())

    def pruned() -> None:
        simple, pruned_loss = head(joiner, enc, t_len, pred, targets, u_len, cfg.prune_range, cfg.lm_scale,
                                   cfg.am_scale)
        (simple_weight * simple + pruned_loss).backward()
        losses["pruned"] = float(pruned_loss.detach())

    cpu: dict[str, list[float]] = {"full": [], "pruned": []}
    wall: dict[str, list[float]] = {"full": [], "pruned": []}
    for rep in range(args.repeats + 1):
        for name, step in (("full", full), ("pruned", pruned)):
            for p in [enc, pred, *joiner.parameters(), *head.parameters()]:
                p.grad = None
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            step()
            if rep > 0:  # repeat 0 is the warm-up
                cpu[name].append(time.process_time() - cpu_start)
                wall[name].append(time.perf_counter() - wall_start)
    width = min(args.prune_range, U + 1)
    full_s, pruned_s = statistics.median(cpu["full"]), statistics.median(cpu["pruned"])
    return {"B": B, "T": T, "U": U, "V1": V1, "full_ms": 1000 * full_s, "pruned_ms": 1000 * pruned_s,
            "speedup": full_s / pruned_s,
            "wall_speedup": statistics.median(wall["full"]) / statistics.median(wall["pruned"]),
            "full_logits_mb": B * T * (U + 1) * V1 * 4 / 2**20,
            "band_logits_mb": B * T * width * V1 * 4 / 2**20,
            "full_loss_per_token": losses["full"] / float(u_len.sum()),
            "pruned_loss_per_token": losses["pruned"] / float(u_len.sum())}


def render(rows: list[dict], args, command: str, load: tuple[float, float]) -> str:
    lines = [
        "# Pruned RNN-T loss: training-step time against the full loss",
        "",
        f"Command: `{command}`  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"torch {torch.__version__} on **{torch.get_num_threads()} thread(s)**, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}. 1-minute load average {load[0]:.1f} at the start, {load[1]:.1f} "
        "at the end (other jobs shared the machine: absolute times are inflated, the side-by-side ratios "
        "are the robust part).",
        "",
        "One step = forward + backward of the joiner and the loss from encoder frames [B, T', "
        f"{args.enc_dim}] and predictor outputs [B, U+1, {args.pred_dim}]; joiner dim J = {args.joiner_dim}. "
        "*full*: `Joiner.forward` on [B, T', U+1, V+1] + `rnnt_loss`. *pruned*: `PrunedLossHead` "
        f"(simple lattice + its loss and occupations, band choice, joiner on [B, T', s, V+1], s = "
        f"{args.prune_range}, exact loss in the band), backward of `0.5 * simple + pruned`. "
        f"Median of {args.repeats} repeats after one warm-up, full and pruned alternating; ragged lengths "
        "(60-100% of T' and U). Times are CPU time of the process (`time.process_time`: with one thread "
        "it counts the work, not the waiting for a core on a shared machine; page-fault time of large "
        "allocations is included); the wall-clock ratio is shown beside it. Loss columns are nats per label at random initialisation (the pruned "
        "loss sums fewer alignments, so it is never below the full one).",
        "",
        "| B | T' | U | V+1 | full ms | pruned ms | speed-up | wall speed-up | full logits MB | band logits MB "
        "| full loss/label | pruned loss/label |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['B']} | {r['T']} | {r['U']} | {r['V1']} | {r['full_ms']:.0f} | {r['pruned_ms']:.0f} | "
                     f"{r['speedup']:.1f}x | {r['wall_speedup']:.1f}x | {r['full_logits_mb']:.0f} | {r['band_logits_mb']:.0f} | "
                     f"{r['full_loss_per_token']:.3f} | {r['pruned_loss_per_token']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(DEFAULT_OUT), help="report path (default docs/results/pruned_loss.md)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--batch", type=int, default=32, help="sequences per batch (default 32)")
    p.add_argument("--sizes", default="100x20,250x60", help="T'xU pairs, comma-separated (default 100x20,250x60)")
    p.add_argument("--vocab", default="129,257,501", help="V+1 values (default 129,257,501)")
    p.add_argument("--joiner-dim", type=int, default=256, help="joiner dim J (default 256)")
    p.add_argument("--enc-dim", type=int, default=256, help="encoder output dim (default 256)")
    p.add_argument("--pred-dim", type=int, default=256, help="predictor output dim (default 256)")
    p.add_argument("--prune-range", type=int, default=5, help="band width s (default 5)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per size (default 5)")
    args = p.parse_args(argv)
    sizes, vocab = _parse_sizes(args.sizes), _parse_ints(args.vocab, "--vocab")
    if min(args.threads, args.batch, args.joiner_dim, args.enc_dim, args.pred_dim, args.repeats) < 1:
        raise InputError("--threads, --batch, --joiner-dim, --enc-dim, --pred-dim and --repeats must be >= 1")
    if args.prune_range < 2:
        raise InputError(f"--prune-range must be >= 2, got {args.prune_range}")
    torch.set_num_threads(args.threads)
    command = shlex.join([".venv/bin/python", "benchmarks/pruned_loss.py", *sys.argv[1:]])
    load_start = os.getloadavg()[0]
    rows = []
    for T, U in sizes:
        for V1 in vocab:
            rows.append(measure(args.batch, T, U, V1, args))
            r = rows[-1]
            print(f"B={args.batch} T'={T} U={U} V+1={V1}: full {r['full_ms']:.0f} ms, pruned {r['pruned_ms']:.0f} ms "
                  f"CPU ({r['speedup']:.1f}x; wall {r['wall_speedup']:.1f}x)", file=sys.stderr)
    out = Path(args.out)
    with atomic_write(out) as fh:  # a reader never sees half a report
        fh.write(render(rows, args, command, (load_start, os.getloadavg()[0])))
    print(f"-> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(exit_on_input_error(main, "pruned_loss.py"))
