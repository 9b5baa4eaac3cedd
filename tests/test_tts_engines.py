"""RHVoice, SVOX Pico and MBROLA engines; speaker variation (rate, pitch, vocal-tract warp);
voice licenses in manifests, --commercial-only, --list-engines and missing-engine messages."""
from __future__ import annotations

import dataclasses
import importlib.util
import json

import numpy as np
import pytest

from memasr.data import synth
from memasr.data.synth import (
    ENGINE_CLASSES,
    SAMPLE_RATE,
    OnTheFlySynthDataset,
    UtteranceSpec,
    get_engine,
    render,
    resolve_engines,
    split_voices,
    synthesize_corpus,
    unmet_requirement,
    voice_pools,
)
from memasr.errors import InputError

NEW_ENGINES = ("rhvoice", "pico", "mbrola")
TEXT = "please turn on the kitchen lights before dinner"  # 8 words
SENTENCES = [
    "the cat sat on the mat",
    "a stitch in time saves nine",
    "all that glitters is not gold",
    "the early bird catches the worm",
    "every cloud has a silver lining",
] * 8


def _need(*names: str) -> None:
    for name in names:
        why = unmet_requirement(name)
        if why:
            pytest.skip(why)


def _spec(engine: str, voice: str, speed=1.0, pitch=1.0, vtl=1.0, seed=(1, 2, 3, 1), text=TEXT) -> UtteranceSpec:
    return UtteranceSpec(text, engine, voice, speed, pitch, seed, vtl)


def _f0(audio: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """Median fundamental frequency (Hz) of the loud, periodic 40 ms frames (autocorrelation)."""
    n, level, found = int(0.04 * sr), 0.3 * np.sqrt(np.mean(audio**2)), []
    for i in range(0, len(audio) - n, n // 2):
        frame = audio[i:i + n] - audio[i:i + n].mean()
        if np.sqrt(np.mean(frame**2)) < level:
            continue
        ac = np.correlate(frame, frame, "full")[n - 1:]
        lo, hi = sr // 400, sr // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5 * ac[0]:
            found.append(sr / lag)
    return float(np.median(found))


def _log_spectrum(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Long-term average log power spectrum over 32 ms Hann frames: (Hz, log power)."""
    n = 512
    frames = np.lib.stride_tricks.sliding_window_view(audio, n)[:: n // 2] * np.hanning(n)
    power = np.mean(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0)
    return np.fft.rfftfreq(n, 1 / SAMPLE_RATE), np.log(power + 1e-12)


def _frequency_warp(base: np.ndarray, warped: np.ndarray) -> float:
    """The factor a on the frequency axis that best maps base's average spectrum onto warped's."""
    freqs, base_db = _log_spectrum(base)
    _, warped_db = _log_spectrum(warped)
    band = (freqs > 300) & (freqs < 5000)
    return float(max(np.arange(0.8, 1.25, 0.005), key=lambda a: np.corrcoef(
        np.interp(freqs[band] / a, freqs, base_db), warped_db[band])[0, 1]))


# ----------------------------------------------------------------------------- the new engines


@pytest.mark.parametrize("name", NEW_ENGINES)
def test_every_voice_speaks_at_16khz_with_plausible_length(name: str) -> None:
    _need(name)
    engine = get_engine(name)
    assert set(engine.voices()) == set(ENGINE_CLASSES[name].VOICES)  # the Makefile installs them all
    for voice in engine.voices():
        audio = render(_spec(name, voice, speed=1.1, pitch=0.9, vtl=1.06), augmented=False)
        assert audio.dtype == np.float32 and audio.ndim == 1
        seconds = len(audio) / SAMPLE_RATE
        assert 1.2 < seconds < 5.0, (voice, seconds)  # 8 words: 0.15-0.6 s a word
        assert np.sqrt(np.mean(audio**2)) > 1e-3 and np.abs(audio).max() <= 1.0


@pytest.mark.parametrize("name", NEW_ENGINES)
def test_rendering_is_deterministic_per_seed(name: str) -> None:
    _need(name)
    spec = _spec(name, get_engine(name).voices()[0], speed=0.95, pitch=1.2, vtl=0.93)
    first = render(spec)  # augmented: noise, gain and speed drawn from the seed too
    np.testing.assert_array_equal(first, render(spec))
    other = render(dataclasses.replace(spec, aug_seed=(1, 2, 4, 1)))
    assert len(other) != len(first) or not np.array_equal(other, first)


# ----------------------------------------------------------------------------- speaker variation


@pytest.mark.parametrize("engine, voice", [("rhvoice", "alan"), ("pico", "en-US"), ("flite", "rms")])
def test_vocal_tract_warp_moves_formants_but_keeps_rate_and_pitch(engine: str, voice: str) -> None:
    """flite rms has no pitch control of its own: its pitch goes through Praat instead."""
    _need(engine)
    base = render(_spec(engine, voice), augmented=False)
    for vtl in (0.9, 1.12):
        warped = render(_spec(engine, voice, vtl=vtl), augmented=False)
        assert len(warped) / len(base) == pytest.approx(1.0, abs=0.03)
        assert _f0(warped) / _f0(base) == pytest.approx(1.0, abs=0.04)
        assert _frequency_warp(base, warped) == pytest.approx(vtl, abs=0.03)
    higher = render(_spec(engine, voice, pitch=1.25), augmented=False)
    assert _f0(higher) / _f0(base) == pytest.approx(1.25, abs=0.05)
    assert len(higher) / len(base) == pytest.approx(1.0, abs=0.01)
    assert _frequency_warp(base, higher) == pytest.approx(1.0, abs=0.02)  # pitch alone keeps formants
    slower = render(_spec(engine, voice, speed=0.8), augmented=False)
    assert len(slower) / len(base) > 1.12


def test_draws_vary_rate_pitch_and_vocal_tract_for_every_engine() -> None:
    voices = [(e, v) for e in ENGINE_CLASSES for v in ("a", "b")]
    specs = [synth.draw_spec(np.random.default_rng([4, i]), SENTENCES, voices, (4, i, 1)) for i in range(300)]
    assert {s.engine for s in specs} == set(ENGINE_CLASSES)
    for field, (lo, hi) in (("speed", synth.SPEED_RANGE), ("pitch", synth.PITCH_RANGE), ("vtl", synth.VTL_RANGE)):
        values = [getattr(s, field) for s in specs]
        assert lo <= min(values) < max(values) <= hi and len(set(values)) > 250
    assert specs[7] == synth.draw_spec(np.random.default_rng([4, 7]), SENTENCES, voices, (4, 7, 1))


def test_pitch_shift_without_praat_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "parselmouth" else real_find_spec(name, *a))
    monkeypatch.setitem(__import__("sys").modules, "parselmouth", None)  # import fails
    if get_engine("flite").available():
        assert "pip install praat-parselmouth" in unmet_requirement("flite")  # rms has no pitch control
    if get_engine("pico").available():
        assert unmet_requirement("pico") is None  # every pico voice sets its own pitch
    tone = np.sin(np.arange(8000) * 0.1).astype(np.float32)
    with pytest.raises(InputError, match="praat-parselmouth"):
        synth.shift_pitch(tone, 16000, 1.2)


# ----------------------------------------------------------------------------- splits and licenses


@pytest.mark.parametrize("seed", range(6))
def test_new_engines_keep_unseen_test_voices(seed: int) -> None:
    catalog = [(e, v) for e in ("flite", "festival", "rhvoice", "pico", "mbrola") for v in ENGINE_CLASSES[e].VOICES]
    splits = split_voices(catalog, seed)
    test = set(splits["test"])
    assert any(e == "rhvoice" for e, _ in test) and any(e == "mbrola" for e, _ in test)
    assert not any(e == "pico" for e, _ in test)  # two voices: none to spare
    # a held-out voice of a trained engine is a speaker no other engine has
    assert ("rhvoice", "slt") not in test and ("flite", "slt") not in test and ("flite", "kal16") not in test


def test_license_metadata_follows_the_copyright_files() -> None:
    rhvoice, pico, mbrola = (get_engine(n) for n in NEW_ENGINES)
    assert [v for v in ENGINE_CLASSES["rhvoice"].VOICES if not rhvoice.commercial(v)] == ["evgeniy-eng", "lyubov"]
    assert rhvoice.license("lyubov") == "CC-BY-NC-ND-4.0" and rhvoice.license("slt") == "LGPL-2.1-or-later"
    assert [v for v in ENGINE_CLASSES["mbrola"].VOICES if not mbrola.commercial(v)] == ["mb-us1", "mb-us2", "mb-us3"]
    assert pico.commercial("en-GB") and "Apache-2.0" in pico.license("en-US")
    for name in ENGINE_CLASSES:
        engine = get_engine(name)
        for voice in getattr(engine, "VOICES", ())[:3]:
            assert engine.license(voice) and isinstance(engine.commercial(voice), bool)


def test_corpus_records_licenses_and_commercial_only_excludes_the_rest(tmp_path) -> None:
    engines = ["flite", *NEW_ENGINES]  # flite's held-out rms allows commercial use: a test voice is left
    _need(*engines)
    out = tmp_path / "all"
    synthesize_corpus(out, 12 / 3600, seed=5, engines=engines, sentences=SENTENCES, progress=False)
    rows = [json.loads(line) for s in synth.SPLITS for line in (out / f"{s}.jsonl").read_text().splitlines()]
    for row in rows:
        engine = get_engine(row["engine"])
        assert row["license"] == engine.license(row["voice"])
        assert row["commercial"] == engine.commercial(row["voice"])
        assert synth.VTL_RANGE[0] <= row["vtl"] <= synth.VTL_RANGE[1]
    assert any(not r["commercial"] for r in rows)

    only = tmp_path / "commercial"
    summary = synthesize_corpus(only, 12 / 3600, seed=5, engines=engines, sentences=SENTENCES,
                                progress=False, commercial_only=True)
    assert summary["commercial_only"]
    rows = [json.loads(line) for s in ("train", "dev") for line in (only / f"{s}.jsonl").read_text().splitlines()]
    assert rows and all(r["commercial"] for r in rows)
    pools = voice_pools(engines, commercial_only=True)
    assert pools["test"] == [(e, v) for e, v in voice_pools(engines)["test"] if get_engine(e).commercial(v)]

    # extending a corpus with other settings would pair its wavs with other text: refused
    with pytest.raises(InputError, match="other --engines, --seed or --commercial-only"):
        synthesize_corpus(out, 12 / 3600, seed=5, engines=engines, sentences=SENTENCES,
                          progress=False, commercial_only=True)


def test_on_the_fly_source_commercial_only(monkeypatch: pytest.MonkeyPatch) -> None:
    _need("rhvoice", "mbrola")
    engines = ("rhvoice", "mbrola")
    full = OnTheFlySynthDataset(seed=1, sentences=SENTENCES, engines=engines)
    only = OnTheFlySynthDataset(seed=1, sentences=SENTENCES, engines=engines, commercial_only=True)
    assert any(not get_engine(e).commercial(v) for e, v in full.voices)
    assert only.voices and all(get_engine(e).commercial(v) for e, v in only.voices)
    assert all(get_engine(s.engine).commercial(s.voice) for s in map(only.spec, range(100)))

    from memasr.train.data import make_synth_source

    monkeypatch.setattr(synth, "load_text_pool", lambda **_: list(SENTENCES))
    source = make_synth_source(0, list(engines), commercial_only=True)
    assert source.voices == only.voices


# ----------------------------------------------------------------------------- CLI


def test_list_engines_shows_voices_licenses_and_speed(capsys: pytest.CaptureFixture[str]) -> None:
    from memasr.cli import main

    _need("pico", "rhvoice")
    assert main(["synth", "--list-engines", "--engines", "pico,rhvoice"]) == 0
    out = capsys.readouterr().out
    assert "pico: available; 2 voices, " in out and "x real time (measured now)" in out
    assert "CC-BY-NC-ND-4.0, no commercial use: evgeniy-eng, lyubov" in out
    assert "LGPL-2.1-or-later, commercial use allowed: alan, bdl, clb, slt" in out
    assert main(["synth", "--list-engines", "--json", "--engines", "pico"]) == 0
    (info,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert info["name"] == "pico" and info["missing"] is None and info["speed"] > 1.0
    assert info["voices"] == ["en-US", "en-GB"] and info["speed_source"] == "measured now"


def test_missing_engine_names_its_package(monkeypatch: pytest.MonkeyPatch, capsys, tmp_path) -> None:
    from memasr.cli import main

    monkeypatch.setattr(synth.RHVoiceEngine, "available", lambda self: False)
    monkeypatch.setattr(synth.MbrolaEngine, "available", lambda self: False)
    with pytest.raises(InputError, match="apt-get install rhvoice rhvoice-english"):
        resolve_engines(["rhvoice"])
    assert main(["synth", "--out", str(tmp_path / "c"), "--engines", "mbrola", "--hours", "0.001"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "apt-get install espeak-ng mbrola mbrola-us1" in err[0]
    assert main(["synth", "--list-engines", "--engines", "rhvoice"]) == 0
    out = capsys.readouterr().out
    assert "rhvoice: missing: TTS engine 'rhvoice' is not available: apt-get install rhvoice" in out
    assert "evgeniy-eng" in out  # the voices it would bring are still listed
