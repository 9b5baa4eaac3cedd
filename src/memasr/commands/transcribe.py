"""``memasr transcribe``: stream audio files through the recognizer.

Files are read from disk in blocks (bounded memory for hour-long files),
resampled to 16 kHz with soxr and decoded chunk by chunk. A bad file gets one
error line on stderr; the batch goes on and the exit status is 2 at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from memasr.commands.decoding import add_decoding_arguments, decoding_config
from memasr.errors import InputError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au")
BLOCK_SECONDS = 5.0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "transcribe",
        help="transcribe audio files with a streaming model",
        description="Transcribe audio files (wav, flac, ogg; any sample rate and channel count) by "
        "streaming them through the recognizer. A directory transcribes every audio file under it.",
    )
    p.add_argument("inputs", nargs="+", metavar="FILE|DIR", help="audio files or directories")
    p.add_argument("--model", help="model directory (config.toml + model.pt [+ tokenizer.model]); "
                   "default: the bundled model, if memasr ships one")
    add_decoding_arguments(p)
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.add_argument("--trace", action="store_true",
                   help="record every weight use and report measured off-chip bytes per audio second, "
                   "token rate and symbols per frame (the trace is kept in memory: each distinct piece of a "
                   "layer pass once, then 4 bytes per piece)")
    p.add_argument("--profile", help="hardware profile TOML for --trace (default: shipped profile)")
    p.set_defaults(func=run)
    return p


def expand_inputs(inputs: list[str]) -> list[tuple[str, str | None]]:
    """``(path, error)`` per input: directories become their audio files (sorted)."""
    out: list[tuple[str, str | None]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files = sorted(str(f) for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS)
            if not files:
                out.append((item, f"no audio files ({', '.join(e[1:] for e in AUDIO_EXTENSIONS[:3])}, ...) "
                                  f"under directory {item}"))
            out.extend((f, None) for f in files)
        else:
            out.append((item, None))
    return out


def transcribe_file(recognizer, path: str, block_seconds: float = BLOCK_SECONDS):
    """Stream one file from disk; returns ``(result, audio seconds, wall seconds)``."""
    from memasr.data.audio import DEFAULT_SR, iter_audio_blocks

    start = time.perf_counter()
    stream = recognizer.create_stream()
    for block in iter_audio_blocks(path, block_seconds=block_seconds, target_sr=DEFAULT_SR):
        stream.accept_waveform(DEFAULT_SR, block)
        while recognizer.is_ready(stream):
            recognizer.decode_stream(stream)
    stream.input_finished()
    while recognizer.is_ready(stream):
        recognizer.decode_stream(stream)
    result = recognizer.get_result(stream)
    wall = time.perf_counter() - start
    return result, stream, stream.num_samples / DEFAULT_SR, wall


def trace_figures(model, recorder, tokens: int, frames: int, frame_seconds: float, profile, schedule,
                  beam: int = 1) -> dict:
    """Measured off-chip traffic of a real run's trace (LRU replay at the profile's capacity)."""
    from memasr.memory.tracerun import replay

    seconds = frames * frame_seconds  # the audio the encoder consumed (incl. the last padded piece)
    if seconds <= 0:
        return {"offchip_bytes_per_s": 0.0, "token_rate": 0.0, "symbols_per_frame": 0.0}
    recorder.tokens = tokens
    analytic, lru, _ = replay(model, recorder, seconds, profile, schedule, policies=("lru",), beam=beam)
    return {"offchip_bytes_per_s": lru.offchip_bytes / seconds,
            "analytic_offchip_bytes_per_s": analytic.traffic.offchip_bytes_per_s,
            "token_rate": tokens / seconds, "symbols_per_frame": tokens / frames,
            "trace_bytes": recorder.nbytes, "trace_events": len(recorder)}


def run(args: argparse.Namespace) -> int:
    from memasr.decode.recognizer import Recognizer

    config = decoding_config(args)
    if args.model is not None and not os.path.isdir(args.model):
        raise InputError(f"model directory not found: {args.model}")
    recognizer = Recognizer.from_pretrained(args.model, config)
    profile = None
    if args.trace:
        from memasr.memory.hardware import load_profile

        profile = load_profile(args.profile)
    status = 0
    for path, error in expand_inputs(args.inputs):
        try:
            if error is not None:
                raise InputError(error)
            recorder = None
            if args.trace:
                from memasr.memory.trace import TraceRecorder

                recorder = TraceRecorder()
            recognizer.tracer = recorder
            result, stream, seconds, wall = transcribe_file(recognizer, path)
        except InputError as exc:
            sys.stderr.write(f"memasr transcribe: error: {exc}\n")
            sys.stderr.flush()
            status = 2
            continue
        except Exception as exc:  # internal failure on this file: report it, keep going
            sys.stderr.write(f"memasr transcribe: internal error on {path}: {type(exc).__name__}: {exc}\n")
            sys.stderr.flush()
            status = status or 1
            continue
        finally:
            recognizer.tracer = None
        record = {"file": path, "text": result.text, "duration": round(seconds, 3),
                  "rtf": round(wall / seconds, 4) if seconds > 0 else None}
        if args.trace:
            record.update(trace_figures(recognizer.model, recorder, len(result.token_ids), stream.frames_done,
                                        recognizer.frame_seconds, profile, recognizer.schedule,
                                        1 if config.decoding_method == "greedy" else config.max_active_paths))
        if args.json:
            print(json.dumps(record), flush=True)
        else:
            extra = ""
            if args.trace:
                extra = (f"  [off-chip {record['offchip_bytes_per_s'] / 1e6:.3f} MB/s, "
                         f"{record['token_rate']:.2f} tokens/s, {record['symbols_per_frame']:.3f} symbols/frame]")
            print(f"{path}: {result.text}{extra}", flush=True)
    return status

