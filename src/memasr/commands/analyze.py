"""``memasr analyze``: off-chip traffic and energy per second of audio."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from memasr.errors import InputError
from memasr.memory.analysis import Analysis, analyze
from memasr.memory.hardware import HardwareProfile, format_size, load_profile, parse_size
from memasr.memory.report import buffer_sweep, compare_table, component_table, json_record, save_sweep_plot
from memasr.memory.schedule import parse_schedule
from memasr.memory.workload import OperatingPoint, Workload, extract_workload
from memasr.model.config import ModelConfig, load_preset


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("analyze", help="off-chip traffic, energy and latency of a model and schedule",
                       description="Analytic off-chip weight traffic and energy per second of audio "
                                   "(DESIGN.md section 3); --trace confirms it on a real streaming run.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", action="append", help="model preset (repeat for --sweep)")
    src.add_argument("--model", help="checkpoint directory")
    src.add_argument("--compare", nargs=2, metavar=("A", "B"), help="print preset/model B against A as ratios")
    p.add_argument("--profile", help="hardware profile TOML (default: the shipped 45 nm profile)")
    p.add_argument("--buffer", help="on-chip buffer size, e.g. 2MiB (overrides the profile)")
    p.add_argument("--bits", type=int, help="weight bits (overrides the profile)")
    p.add_argument("--schedule", help="frame or chunk:N (default: the model's own schedule)")
    p.add_argument("--beam", type=int, default=1, help="hypotheses kept by the search (default 1 = greedy)")
    p.add_argument("--token-rate", type=float, default=4.0, help="emitted tokens per second (default 4)")
    p.add_argument("--sweep", help="buffer=LOW..HIGH, doubling, e.g. buffer=256KiB..8MiB")
    p.add_argument("--plot", help="PNG file for --sweep")
    p.add_argument("--trace", action="store_true", help="also run the model streaming on audio and replay the trace")
    p.add_argument("--audio", help="audio file for --trace (default: 4 s of a bundled or generated clip)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=run)
    return p


def _profile(args: argparse.Namespace) -> HardwareProfile:
    profile = load_profile(args.profile)
    if args.bits is not None and not 1 <= args.bits <= 32:
        raise InputError(f"--bits must be between 1 and 32, got {args.bits}")
    return profile.with_overrides(onchip_bytes=parse_size(args.buffer) if args.buffer else None,
                                  weight_bits=args.bits)


def _workload(name: str) -> Workload:
    """A preset name or a checkpoint directory."""
    from pathlib import Path

    if Path(name).is_dir():
        from memasr.model.checkpoint import load_pretrained

        return extract_workload(load_pretrained(name)[0])
    return extract_workload(load_preset(name))


def _op(args: argparse.Namespace) -> OperatingPoint:
    if args.beam < 1:
        raise InputError(f"--beam must be at least 1, got {args.beam}")
    if args.token_rate < 0:
        raise InputError(f"--token-rate must be non-negative, got {args.token_rate}")
    return OperatingPoint(token_rate=args.token_rate, beam=args.beam)


def _run_one(workload: Workload, args: argparse.Namespace, profile: HardwareProfile, op: OperatingPoint) -> Analysis:
    schedule = parse_schedule(args.schedule or workload.default_schedule)
    if schedule.layer_major and schedule.chunk_frames % workload.total_reduction:
        raise InputError(f"chunk size {schedule.chunk_frames} must be a multiple of {workload.name}'s "
                         f"time reduction ({workload.total_reduction})")
    return analyze(workload, profile, schedule, op)


def _sweep_sizes(spec: str) -> list[int]:
    key, _, value = spec.partition("=")
    low, sep, high = value.partition("..")
    if key != "buffer" or not sep:
        raise InputError(f"bad --sweep {spec!r}: use buffer=LOW..HIGH, e.g. buffer=256KiB..8MiB")
    lo, hi = parse_size(low), parse_size(high)
    if lo > hi:
        raise InputError(f"bad --sweep {spec!r}: LOW is above HIGH")
    sizes = []
    while lo <= hi:
        sizes.append(lo)
        lo *= 2
    return sizes


def run(args: argparse.Namespace) -> int:
    profile = _profile(args)
    op = _op(args)
    if args.schedule:
        parse_schedule(args.schedule)  # fail early on a malformed schedule
    if args.compare:
        a, b = (_run_one(_workload(n), args, profile, op) for n in args.compare)
        if args.json:
            print(json.dumps({"a": json_record(a), "b": json_record(b), "ratios": {
                k: (a.totals()[k] / b.totals()[k] if b.totals()[k] else None) for k in a.totals()}}))
        else:
            print(compare_table(a, b))
        return 0
    if args.model and not Path(args.model).is_dir():
        raise InputError(f"model directory not found: {args.model}")
    names = [args.model] if args.model else (args.preset or [])
    if not names:
        raise InputError("give --preset NAME, --model DIR or --compare A B")
    if args.sweep:
        return _sweep(names, args, profile, op)
    for name in names:
        analysis = _run_one(_workload(name), args, profile, op)
        if args.json:
            record = json_record(analysis)
            if args.trace:
                record["trace"] = _trace_record(name, analysis, args, profile)
            print(json.dumps(record))
        else:
            print(component_table(analysis))
            if args.trace:
                t = _trace_record(name, analysis, args, profile)
                print(f"trace ({t['audio_seconds']:.2f} s of audio, random weights unless --model): "
                      f"LRU {t['traced_offchip_bytes_per_s'] / 1e6:.3f} MB/s, Belady "
                      f"{t['belady_offchip_bytes_per_s'] / 1e6:.3f} MB/s, analytic at the measured token rate "
                      f"{t['analytic_offchip_bytes_per_s'] / 1e6:.3f} MB/s (traced/analytic {t['agreement']:.3f})")
    return 0


def _sweep(names: list[str], args: argparse.Namespace, profile: HardwareProfile, op: OperatingPoint) -> int:
    sizes = _sweep_sizes(args.sweep)
    series = {}
    for name in names:
        workload = _workload(name)
        schedule = _run_one(workload, args, profile, op).schedule  # validates chunk against the reduction
        points = buffer_sweep(workload, profile, schedule, sizes, op)
        series[f"{workload.name} ({schedule})"] = points
        for size, traffic in points:
            if args.json:
                print(json.dumps({"model": workload.name, "schedule": str(schedule), "onchip_bytes": size,
                                  "offchip_bytes_per_s": traffic}))
            else:
                print(f"{workload.name:<18} {str(schedule):<9} buffer {format_size(size):>10}  "
                      f"off-chip {traffic / 1e6:12.3f} MB/s")
    if args.plot:
        save_sweep_plot(series, args.plot)
        if not args.json:
            print(f"plot written to {args.plot}")
    return 0


def _trace_record(name: str, analysis: Analysis, args: argparse.Namespace, profile: HardwareProfile) -> dict:
    from memasr.memory.tracerun import trace_run
    from memasr.data.audio import load_audio
    import torch

    model = _model_for_trace(name)
    if args.audio:
        audio, _ = load_audio(args.audio)
    else:
        audio = default_trace_audio()
    report = trace_run(model, audio, profile, analysis.schedule)
    return {"audio_seconds": report.audio_seconds,
            "traced_offchip_bytes_per_s": report.traced_offchip_bytes_per_s,
            "belady_offchip_bytes_per_s": report.belady_offchip_bytes_per_s,
            "analytic_offchip_bytes_per_s": report.analytic.traffic.offchip_bytes_per_s,
            "agreement": report.agreement,
            "token_rate": report.recorder.tokens / report.audio_seconds,
            "symbols_per_frame": report.symbols_per_frame}


def _model_for_trace(name: str):
    from pathlib import Path

    import torch

    from memasr.model.transducer import build_model

    if Path(name).is_dir():
        from memasr.model.checkpoint import load_pretrained

        return load_pretrained(name)[0]
    torch.manual_seed(0)  # random weights: the trace counts weight uses, not accuracy
    return build_model(load_preset(name))


def default_trace_audio(seconds: float = 4.0):
    """Real speech when Debian's pocketsphinx-testdata is installed, else a synthetic chirp."""
    import numpy as np

    from memasr.data.audio import load_audio

    sample = "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0930.wav"
    try:
        audio, _ = load_audio(sample)
        return audio[: int(16000 * seconds)]
    except InputError:
        t = np.arange(int(16000 * seconds)) / 16000.0
        return (0.1 * np.sin(2 * np.pi * (200 + 300 * t) * t)).astype(np.float32)
