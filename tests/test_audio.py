"""Audio loading, mono mixing, soxr resampling (one-shot and streaming), bad files."""
from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf

from memasr.data.audio import (
    StreamingResampler,
    iter_audio_blocks,
    load_audio,
    resample,
    to_mono_float,
)
from memasr.errors import InputError

FREQ = 440.0
SECONDS = 1.5


def _sine(sr: int, seconds: float = SECONDS) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * FREQ * np.arange(int(sr * seconds)) / sr)).astype(np.float32)


def _assert_matches_16k(x: np.ndarray, seconds: float = SECONDS) -> None:
    ref = _sine(16000, seconds)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - len(ref)) <= 1
    n = min(len(x), len(ref))
    core = slice(400, n - 400)  # resampler edge transients
    np.testing.assert_allclose(x[core], ref[core], atol=2e-3)


@pytest.mark.parametrize("sr", [8000, 16000, 22050, 44100, 48000])
def test_load_resamples_to_16k(tmp_path, sr):
    path = tmp_path / f"sine_{sr}.wav"
    sf.write(path, _sine(sr), sr, subtype="FLOAT")
    x, out_sr = load_audio(path)
    assert out_sr == 16000
    _assert_matches_16k(x)


def test_load_stereo_int16_flac_ogg(tmp_path):
    sine = _sine(44100)
    stereo = np.stack([sine, sine], axis=1)
    sf.write(tmp_path / "stereo.wav", stereo, 44100, subtype="PCM_16")
    x, _ = load_audio(tmp_path / "stereo.wav")
    _assert_matches_16k(x)
    # channels are averaged: a channel pair that cancels gives silence
    sf.write(tmp_path / "cancel.flac", np.stack([sine, -sine], axis=1), 44100)
    assert np.abs(load_audio(tmp_path / "cancel.flac")[0]).max() < 1e-4
    sf.write(tmp_path / "mono.ogg", _sine(16000), 16000)
    y, _ = load_audio(tmp_path / "mono.ogg")
    assert abs(len(y) - 24000) <= 1 and 0.4 < np.abs(y).max() < 0.6  # lossy codec: loose


def test_load_other_target_rate(tmp_path):
    sf.write(tmp_path / "a.wav", _sine(16000), 16000)
    x, sr = load_audio(tmp_path / "a.wav", target_sr=8000)
    assert sr == 8000 and abs(len(x) - 12000) <= 1


def test_to_mono_float():
    ints = np.array([[32767, -32768], [0, 16384]], dtype=np.int16)
    np.testing.assert_allclose(to_mono_float(ints), [-0.5 / 32768, 0.25], atol=1e-7)
    np.testing.assert_allclose(to_mono_float(np.array([0, -32768], dtype=np.int16)), [0.0, -1.0])
    np.testing.assert_allclose(to_mono_float(np.array([2**30], dtype=np.int32)), [0.5])
    f64 = np.linspace(-1, 1, 5)
    out = to_mono_float(f64)
    assert out.dtype == np.float32 and out.shape == (5,)
    assert to_mono_float(np.ones((7, 1), dtype=np.float32)).shape == (7,)
    for bad in (np.zeros((2, 2, 2)), np.array(["a"]), np.array([0.0, np.nan]), np.zeros((3, 0))):
        with pytest.raises(InputError):
            to_mono_float(bad)


def test_resample_function():
    x = _sine(48000)
    y = resample(x, 48000, 16000)
    _assert_matches_16k(y)
    assert resample(x, 16000, 16000) is not None and len(resample(x, 16000, 16000)) == len(x)
    with pytest.raises(InputError):
        resample(x, 0, 16000)
    with pytest.raises(InputError):
        resample(x, 16000, -1)


@pytest.mark.parametrize("sr_in,sr_out", [(44100, 16000), (8000, 16000), (16000, 16000), (22050, 16000)])
def test_streaming_resampler_equals_one_shot(sr_in, sr_out):
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(sr_in)).astype(np.float32)
    want = resample(x, sr_in, sr_out)
    rs = StreamingResampler(sr_in, sr_out)
    parts, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, 3000))
        parts.append(rs.accept(x[i:i + n]))
        i += n
    parts.append(rs.flush())
    got = np.concatenate(parts)
    assert len(got) == len(want)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert rs.flush().size == 0
    with pytest.raises(RuntimeError):
        rs.accept(x[:10])


def test_iter_audio_blocks_equals_load(tmp_path):
    rng = np.random.default_rng(1)
    sr = 44100
    x = np.stack([_sine(sr, 3.3), (0.1 * rng.standard_normal(int(sr * 3.3))).astype(np.float32)], axis=1)
    path = tmp_path / "long.flac"
    sf.write(path, x, sr)
    whole, _ = load_audio(path)
    blocks = list(iter_audio_blocks(path, block_seconds=0.5))
    assert len(blocks) >= 6
    # bounded memory: no block is much larger than block_seconds of output audio
    assert max(len(b) for b in blocks) <= 0.5 * 16000 + 1000
    got = np.concatenate(blocks)
    assert len(got) == len(whole)
    np.testing.assert_allclose(got, whole, atol=1e-5)


def _wav_bytes(sr: int, n: int) -> bytes:
    data = np.zeros(n, dtype="<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, sr, sr * 2, 2, 16)
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", len(data)) + data)


def _bad_files(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "garbage.wav").write_bytes(b"this is not audio at all" * 10)
    (tmp_path / "truncated.wav").write_bytes(_wav_bytes(16000, 100)[:20])
    (tmp_path / "rate0.wav").write_bytes(_wav_bytes(0, 100))
    (tmp_path / "noframes.wav").write_bytes(_wav_bytes(16000, 0))
    sf.write(tmp_path / "one.wav", np.zeros(1, dtype=np.float32), 16000)
    nan = _sine(16000, 0.1)
    nan[50] = np.nan
    sf.write(tmp_path / "nan.wav", nan, 16000, subtype="FLOAT")
    inf = _sine(16000, 0.1)
    inf[-1] = np.inf
    sf.write(tmp_path / "inf.wav", inf, 16000, subtype="FLOAT")
    (tmp_path / "adir.wav").mkdir()
    return {
        "missing.wav": "not found", "adir.wav": "directory", "empty.wav": "empty",
        "garbage.wav": "cannot read", "truncated.wav": "truncated", "rate0.wav": "sample rate 0",
        "noframes.wav": "0 samples", "one.wav": "1 samples", "nan.wav": "NaN", "inf.wav": "NaN or infinite",
    }


@pytest.mark.parametrize("reader", ["load", "blocks"])
def test_bad_inputs_raise_input_error(tmp_path, reader):
    for name, fragment in _bad_files(tmp_path).items():
        with pytest.raises(InputError, match=fragment) as info:
            if reader == "load":
                load_audio(tmp_path / name)
            else:
                list(iter_audio_blocks(tmp_path / name, block_seconds=0.01))
        assert name in str(info.value)  # the message names the file


def test_bad_parameters(tmp_path):
    sf.write(tmp_path / "a.wav", _sine(16000, 0.1), 16000)
    with pytest.raises(InputError):
        load_audio(tmp_path / "a.wav", target_sr=0)
    with pytest.raises(InputError):
        list(iter_audio_blocks(tmp_path / "a.wav", block_seconds=0))
