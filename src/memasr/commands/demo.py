"""``memasr demo``: the main job on the bundled default.

With the bundled trained model it transcribes the bundled example files, printing
text, real-time factor and the off-chip bytes per second traced on that very run,
next to what paper-baseline and small-baseline would need for the same audio. When the
model folder ships an n-gram LM (lm.arpa.gz), each file is also decoded with beam search
and shallow fusion (``--lm model``), the most accurate setting.
Without a bundled model it prints the analyzer comparison of paper-baseline
against paper-optimized.
"""
from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from memasr.memory import analyze, extract_workload, load_profile, parse_schedule
from memasr.memory.report import compare_table, component_table
from memasr.model import load_preset

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("demo", help="run the main demo on the bundled default")
    p.add_argument("--examples", help="folder of audio files (default: the bundled examples)")
    p.set_defaults(func=run)
    return p


def bundled_model_dir() -> Path | None:
    path = Path(str(resources.files("memasr") / "pretrained" / "default"))
    return path if (path / "model.pt").is_file() else None


def bundled_examples_dir() -> Path:
    return Path(str(resources.files("memasr") / "examples"))


def _analyzer_demo() -> int:
    profile = load_profile()
    base_w = extract_workload(load_preset("paper-baseline"))
    opt_w = extract_workload(load_preset("paper-optimized"))
    base = analyze(base_w, profile, parse_schedule(base_w.default_schedule))
    opt = analyze(opt_w, profile, parse_schedule(opt_w.default_schedule))
    print(component_table(base), component_table(opt), compare_table(base, opt), sep="\n\n")
    return 0


def run(args: argparse.Namespace) -> int:
    model_dir = bundled_model_dir()
    if model_dir is None:
        _analyzer_demo()
        print("\n(no trained model is bundled: `memasr demo` shows the analyzer comparison)")
        return 0
    from memasr.commands.transcribe import trace_figures, transcribe_file
    from memasr.decode.fusion import DEFAULT_LENGTH_BONUS, DEFAULT_LM_SCALE
    from memasr.decode.recognizer import MODEL_LM, Recognizer, RecognizerConfig
    from memasr.memory.trace import TraceRecorder
    from memasr.model.checkpoint import LM_FILE

    from memasr.errors import InputError

    profile = load_profile()
    folder = Path(args.examples) if args.examples else bundled_examples_dir()
    if not folder.is_dir():
        raise InputError(f"examples folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise InputError(f"no audio files (.wav, .flac, .ogg) in {folder}")
    recognizer = Recognizer.from_pretrained(model_dir)
    fused = None
    if (model_dir / LM_FILE).is_file():
        fused = Recognizer.from_pretrained(model_dir, RecognizerConfig(decoding_method="modified_beam_search",
                                                                       lm=MODEL_LM, lm_scale=DEFAULT_LM_SCALE,
                                                                       length_bonus=DEFAULT_LENGTH_BONUS))
    name = recognizer.model.config.name
    print(f"model: bundled {name} ({sum(p.numel() for p in recognizer.model.parameters()):,} params), "
          f"schedule {recognizer.schedule}, profile {profile.name}\n")
    token_rates, status = [], 0
    for path in files:
        recorder = TraceRecorder()
        recognizer.tracer = recorder
        try:
            result, stream, seconds, wall = transcribe_file(recognizer, str(path))
        except InputError as exc:  # report the bad file and go on with the others
            print(f"memasr demo: error: {exc}", file=sys.stderr)
            status = 2
            continue
        finally:
            recognizer.tracer = None
        if seconds <= 0:
            continue
        figures = trace_figures(recognizer.model, recorder, len(result.token_ids), stream.frames_done,
                                recognizer.frame_seconds, profile, recognizer.schedule)
        token_rates.append(figures["token_rate"])
        print(f"{path.name} ({seconds:.1f} s): {result.text}")
        print(f"    RTF {wall / seconds:.3f} | traced off-chip {figures['offchip_bytes_per_s'] / 1e6:.3f} MB/s "
              f"| {figures['token_rate']:.1f} tokens/s")
        if fused is not None:
            print(f"    beam 4 + shipped LM: {transcribe_file(fused, str(path))[0].text}")
    from memasr.memory.workload import OperatingPoint

    op = OperatingPoint(token_rate=sum(token_rates) / max(len(token_rates), 1))
    print(f"\nfor comparison, at {op.token_rate:.1f} tokens/s, {profile.onchip_bytes // 1024} KiB buffer, "
          f"{profile.weight_bits}-bit weights:")
    workloads = [extract_workload(load_preset(p)) for p in ("paper-baseline", "small-baseline")]
    for workload in workloads + [extract_workload(recognizer.model)]:
        a = analyze(workload, profile, parse_schedule(workload.default_schedule), op).totals()
        print(f"    {workload.name:<16} ({workload.default_schedule:>7}): {a['offchip_bytes_per_s'] / 1e6:10.3f} MB/s "
              f"off-chip, {a['energy_mj_per_s']:8.3f} mJ/s")
    return status
