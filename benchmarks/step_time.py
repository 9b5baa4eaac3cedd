"""Time one training step of each model with no data loading: the compute ceiling of training.

For each preset (or model folder) and batch size, runs the trainer's own training module
(encoder + predictor + joiner, pruned RNN-T loss, CTC head) forward and backward plus an AdamW
update on random log-mel features and random token targets, and reports the median step time
and the audio seconds per second that it alone would allow. Comparing that with the
``audio_s_per_s`` a real training run logged tells whether the run was bound by the model's
step or by its data (synthesis, augmentation, features).

    python benchmarks/step_time.py --device cuda --batch-frames 10000,40000
    python benchmarks/step_time.py --device cpu --threads 1 --batch-frames 3000 --steps 6
    python benchmarks/step_time.py --device cpu --threads 1 --amp bf16 --profile 8   # where the time goes

Prints a Markdown table (and writes it with ``--out``). Utterances are 10 s long
(``--utt-seconds``) with 2.5 tokens per second of audio, close to the training corpora's mix.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from memasr.model.config import load_config, load_preset  # noqa: E402
from memasr.model.transducer import build_model, count_parameters  # noqa: E402
from memasr.train.pruned import PrunedLossConfig  # noqa: E402
from memasr.train.trainer import _TrainModule  # noqa: E402


def _model_config(spec: str):
    path = Path(spec)
    if path.is_dir():
        return load_config(path / "config.toml")
    if path.suffix == ".toml":
        return load_config(path)
    return load_preset(spec)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_step(spec: str, batch_frames: int, utt_seconds: float, device: torch.device,
              amp: torch.dtype | None, ctc_weight: float, seed: int) -> tuple[Callable[[], None], dict]:
    """One full training step (forward, backward, clipping, AdamW) of model ``spec`` on a fixed
    random batch of ``batch_frames`` 10 ms frames, as a callable, and the batch's shape."""
    torch.manual_seed(seed)
    config = _model_config(spec)
    model = build_model(config)
    module = _TrainModule(model, ctc_weight=ctc_weight, loss="pruned", pruned=PrunedLossConfig()).to(device)
    opt = torch.optim.AdamW(module.parameters(), lr=1e-4)
    frames = int(utt_seconds * 100)
    batch = max(1, batch_frames // frames)
    tokens = max(1, int(utt_seconds * 2.5))
    feats = torch.randn(batch, frames, config.features.n_mels, device=device)
    feat_lens = torch.full((batch,), frames, dtype=torch.long, device=device)
    targets = torch.randint(1, config.vocab_size, (batch, tokens), device=device)
    target_lens = torch.full((batch,), tokens, dtype=torch.long, device=device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            objective, _, _ = module(feats, feat_lens, targets, target_lens, step=10_000)
        (objective / (batch * tokens)).backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 5.0)
        opt.step()
        _sync(device)

    return step, {"model": spec, "params": count_parameters(model), "batch_utts": batch,
                  "batch_frames": batch * frames, "audio_s": batch * utt_seconds}


def time_steps(spec: str, batch_frames: int, utt_seconds: float, steps: int, warmup: int,
               device: torch.device, amp: torch.dtype | None, ctc_weight: float, seed: int) -> dict:
    """Median seconds of one full training step for model ``spec`` at ``batch_frames`` 10 ms frames."""
    step, info = make_step(spec, batch_frames, utt_seconds, device, amp, ctc_weight, seed)
    times = []
    for k in range(warmup + steps):
        _sync(device)
        t0 = time.perf_counter()
        step()
        if k >= warmup:
            times.append(time.perf_counter() - t0)
    sec = statistics.median(times)
    return {**info, "step_s": sec, "audio_s_per_s": info["audio_s"] / sec}


def profile_step(spec: str, batch_frames: int, utt_seconds: float, device: torch.device,
                 amp: torch.dtype | None, ctc_weight: float, seed: int, top: int) -> list[str]:
    """Markdown rows of the ``top`` operators by self time in one profiled step (after one warm-up):
    where a model's step time goes, e.g. a recurrence's per-step matmuls."""
    step, _ = make_step(spec, batch_frames, utt_seconds, device, amp, ctc_weight, seed)
    step()
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        step()
    attr = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    events = sorted(prof.key_averages(), key=lambda e: getattr(e, attr), reverse=True)
    total = sum(getattr(e, attr) for e in events) or 1.0
    return [f"| {spec} | `{e.key}` | {e.count} | {getattr(e, attr) / 1e3:.1f} | "
            f"{getattr(e, attr) / max(e.count, 1):.0f} | {100.0 * getattr(e, attr) / total:.1f} |"
            for e in events[:top]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="small-baseline,small-optimized",
                    help="comma-separated presets, config.toml files or model folders")
    ap.add_argument("--batch-frames", default="10000", help="comma-separated padded 10 ms frames per batch")
    ap.add_argument("--utt-seconds", type=float, default=10.0)
    ap.add_argument("--steps", type=int, default=10, help="timed steps (median reported)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--amp", choices=["bf16", "fp16", "none"], default=None,
                    help="autocast dtype (default bf16 on GPU, none on CPU; fp16 runs without the "
                         "trainer's GradScaler)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--ctc-weight", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="also profile one step per model (first batch size) and list its N costliest "
                         "operators by self time")
    ap.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = ap.parse_args(argv)
    try:
        try:
            device = torch.device(args.device)
        except RuntimeError:
            raise ValueError(f"--device {args.device!r} is not a torch device (cpu, cuda, cuda:N)") from None
        if device.type not in ("cpu", "cuda"):
            raise ValueError(f"--device {args.device}: only cpu and cuda are supported")
        if device.type == "cuda" and (not torch.cuda.is_available()
                                      or (device.index or 0) >= torch.cuda.device_count()):
            raise ValueError(f"--device {args.device}, but no such CUDA device is available")
        sizes = [int(x) for x in args.batch_frames.split(",") if x]
        if not sizes or min(sizes) <= 0:
            raise ValueError("--batch-frames needs positive integers")
        if args.profile < 0:
            raise ValueError("--profile needs N >= 0")
        if args.steps < 1 or args.warmup < 0 or args.utt_seconds <= 0 or (args.threads is not None and args.threads < 1):
            raise ValueError("--steps and --threads must be >= 1, --warmup >= 0 and --utt-seconds > 0")
        if args.out is not None and not args.out.parent.is_dir():
            raise ValueError(f"--out {args.out}: folder {args.out.parent} does not exist")
        specs = [m for m in args.models.split(",") if m]
        for spec in specs:  # every model is checked before any is timed
            _model_config(spec)
    except (ValueError, OSError, KeyError) as exc:
        print(f"step_time: error: {exc}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    amp_name = args.amp or ("bf16" if device.type == "cuda" else "none")
    amp = {"bf16": torch.bfloat16, "fp16": torch.float16, "none": None}[amp_name]
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    lines = [f"Training step time without data loading on {where}, torch {torch.__version__}, autocast {amp_name}, "
             f"{args.utt_seconds:g} s utterances, median of {args.steps} steps after {args.warmup}.", "",
             "| model | params | batch (utts) | padded frames | step (ms) | audio-s/s |",
             "|---|---:|---:|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    for spec in specs:
        for size in sizes:
            r = time_steps(spec, size, args.utt_seconds, args.steps, args.warmup, device, amp,
                           args.ctc_weight, args.seed)
            row = (f"| {r['model']} | {r['params'] / 1e6:.2f} M | {r['batch_utts']} | {r['batch_frames']} "
                   f"| {r['step_s'] * 1e3:.1f} | {r['audio_s_per_s']:.0f} |")
            lines.append(row)
            print(row, flush=True)
    if args.profile:
        head = ["", f"Costliest operators of one profiled step ({sizes[0]} padded frames), by self time:", "",
                "| model | operator | calls | self ms | self us/call | share % |",
                "|---|---|---:|---:|---:|---:|"]
        lines += head
        print("\n".join(head), flush=True)
        for spec in specs:
            rows = profile_step(spec, sizes[0], args.utt_seconds, device, amp, args.ctc_weight, args.seed,
                                args.profile)
            lines += rows
            print("\n".join(rows), flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
