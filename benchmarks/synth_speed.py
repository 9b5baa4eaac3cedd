"""TTS synthesis speed: audio-seconds produced per wall-second, per engine, in one process.

Every engine speaks the same sentences (its voices in turn); engines are timed round-robin,
one sentence each in turn, so machine noise hits them alike; medians over the sentences are
reported. Three stages are timed apart on each sentence:

- ``synthesis``: the engine alone at its native rate, neutral rate and pitch;
- ``+ variation``: :func:`memasr.data.synth.render` without augmentation: a drawn rate,
  pitch (Praat PSOLA for voices without a pitch control) and vocal-tract-length warp,
  resampled to 16 kHz: what a corpus or the on-the-fly source costs before augmentation;
- ``+ augment``: the same with ``synth.augment`` (speed, noise, gain).

The first call of each engine (loading a model, a library) is timed apart and not counted.
Writes ``docs/results/synth_speed.md``.

    .venv/bin/python benchmarks/synth_speed.py              # all registered engines (~2 min)
    .venv/bin/python benchmarks/synth_speed.py --quick      # 3 sentences, writes nothing
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread: a data-loader worker's share of the machine

import argparse  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from memasr.atomic import atomic_write  # noqa: E402
from memasr.data import synth  # noqa: E402
from memasr.errors import InputError  # noqa: E402

# The same sentences for every engine: 3 to 18 words, commands and prose.
SENTENCES = (
    "turn the lights off",
    "set a timer for ten minutes",
    "what is the weather like tomorrow morning",
    "the quick brown fox jumps over the lazy dog",
    "please remind me to call my sister when i get home",
    "a stitch in time saves nine but only if you notice the tear",
    "he was not an ill disposed young man unless to be rather cold hearted",
    "all that glitters is not gold and not all those who wander are lost",
    "the early bird catches the worm but the second mouse gets the cheese",
    "when the train finally arrived the platform was empty and the rain had stopped falling",
    "every cloud has a silver lining so they said as they walked home through the storm together",
    "in the beginning the town was small and quiet and nobody expected the visitors who came that summer",
)


STAGES = ("synthesis", "+ variation", "+ augment")


@dataclass
class EngineTimes:
    """Per-sentence audio-seconds per wall-second and per CPU-second of one engine, by stage."""

    first_call_s: float = 0.0
    native_rates: set[int] = field(default_factory=set)
    wall: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    cpu: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})

    def add(self, stage: str, audio_s: float, wall_s: float, cpu_s: float) -> None:
        self.wall[stage].append(audio_s / wall_s)
        self.cpu[stage].append(audio_s / max(cpu_s, 1e-6))


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished subprocesses (subprocess engines)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # microsecond resolution, unlike os.times()
    return time.process_time() + children.ru_utime + children.ru_stime


def _timed(fn, *args) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds, result) of ``fn(*args)``."""
    wall, cpu = time.perf_counter(), _cpu_seconds()
    out = fn(*args)
    return time.perf_counter() - wall, _cpu_seconds() - cpu, out


def time_sentence(name: str, voice: str, text: str, index: int, times: EngineTimes) -> None:
    """Time the three stages of one sentence (the variation is drawn from ``index``)."""
    engine = synth.get_engine(name)
    wall, cpu, (audio, rate) = _timed(engine.synthesize, text, voice, 1.0, 1.0, np.random.default_rng(index))
    times.native_rates.add(int(rate))
    times.add("synthesis", len(audio) / rate, wall, cpu)
    drawn = synth.draw_spec(np.random.default_rng([7, index]), [text], [(name, voice)], (7, index, 1))
    for stage, augmented in (("+ variation", False), ("+ augment", True)):
        wall, cpu, audio = _timed(synth.render, drawn, augmented)
        times.add(stage, len(audio) / synth.SAMPLE_RATE, wall, cpu)


def run(names: list[str], sentences: tuple[str, ...]) -> tuple[dict[str, EngineTimes], dict[str, str]]:
    times: dict[str, EngineTimes] = {}
    missing: dict[str, str] = {}
    for name in names:
        why = synth.unmet_requirement(name)
        if why:
            missing[name] = why
            continue
        voice = synth.get_engine(name).voices()[0]
        times[name] = EngineTimes()
        spec = synth.UtteranceSpec("hello", name, voice, 1.0, 1.1, (0, 0, 0, 1), 1.05)
        times[name].first_call_s = _timed(synth.render, spec, False)[0]
    for i, text in enumerate(sentences):  # round-robin: one sentence of each engine in turn
        for name in times:
            voices = synth.get_engine(name).voices()
            time_sentence(name, voices[i % len(voices)], text, i, times[name])
    return times, missing


def write_table(path: Path, command: str, times: dict[str, EngineTimes], missing: dict[str, str],
                sentences: tuple[str, ...], minutes: float) -> None:
    lines = [
        "# TTS synthesis speed per engine",
        "",
        "Produced by:",
        "",
        "```",
        f"  {command}",
        "```",
        "",
        f"Run {datetime.datetime.now():%Y-%m-%d %H:%M}, {minutes:.1f} min, one process, one thread "
        f"({platform.machine()}, {os.cpu_count()} cores visible; the machine is shared with a training run, "
        "so compare rows of this one run, not absolute figures across runs).",
        "",
        f"Audio-seconds produced per wall-second (x real time) and, in brackets, per CPU-second of this "
        "process and its subprocesses (steadier on a shared machine), median over the same "
        f"{len(sentences)} "
        "sentences (3-18 words) for every engine, its voices in turn; engines timed round-robin. "
        "`synthesis`: the engine alone, neutral rate and pitch, at its native sample rate. "
        "`+ variation`: `render` without augmentation: drawn rate, pitch and vocal-tract-length warp, "
        "resampled to 16 kHz (Praat PSOLA for voices without a pitch control). "
        "`+ augment`: the same plus `synth.augment` (speed, noise, gain). "
        "`first call`: one short utterance in a fresh process (loading models and libraries), not counted "
        "in the medians. Subprocess engines pay a process start on every utterance.",
        "",
        "| engine | voices | commercial-use voices | native rate (Hz) | synthesis | + variation | + augment | first call (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, t in times.items():
        engine = synth.get_engine(name)
        voices = engine.voices()
        commercial = sum(engine.commercial(v) for v in voices)
        cells = [f"{statistics.median(t.wall[s]):.1f}x ({statistics.median(t.cpu[s]):.1f}x)" for s in STAGES]
        rates = "/".join(str(r) for r in sorted(t.native_rates))
        lines.append(f"| {name} | {len(voices)} | {commercial} | {rates} | "
                     + " | ".join(cells) + f" | {t.first_call_s:.2f} |")
    for name, why in missing.items():
        lines.append(f"| {name} | - | - | - | not installed: {why} | | | |")
    lines += ["", "Licenses per voice: `memasr synth --list-engines` (it also measures speed, on one sentence, "
              "at listing time)."]
    with atomic_write(path) as fh:  # a killed run never leaves half a table
        fh.write("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default=",".join(synth.ENGINES),
                        help="comma-separated engines (default: every registered one)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "synth_speed.md")
    parser.add_argument("--quick", action="store_true", help="3 sentences; prints, writes nothing")
    args = parser.parse_args()
    try:
        names = [n.strip() for n in args.engines.split(",") if n.strip()]
        for name in names:
            synth.get_engine(name)  # unknown names: one error line
        if not names:
            raise InputError("--engines is empty")
        sentences = SENTENCES[:3] if args.quick else SENTENCES
        start = time.perf_counter()
        times, missing = run(names, sentences)
    except InputError as exc:
        print(f"synth_speed: error: {exc}", file=sys.stderr)
        return 2
    for name, t in times.items():
        print(f"{name:10s} " + "  ".join(f"{s} {statistics.median(t.wall[s]):7.1f}x "
                                         f"({statistics.median(t.cpu[s]):.1f}x cpu)" for s in STAGES)
              + f"  first call {t.first_call_s:.2f} s")
    for name, why in missing.items():
        print(f"{name:10s} skipped: {why}")
    if not args.quick:
        command = ".venv/bin/python benchmarks/synth_speed.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        write_table(args.out, command.strip(), times, missing, sentences, (time.perf_counter() - start) / 60)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
