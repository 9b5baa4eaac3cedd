"""``memasr transcribe`` end to end through ``memasr.cli.main``, including every bad input."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import soundfile as sf

from memasr.cli import main
from memasr.model.checkpoint import save_pretrained
from test_decode_models import speechlike, tiny_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return str(save_pretrained(tiny_model("grc", seed=1), tmp_path_factory.mktemp("m") / "model"))


@pytest.fixture()
def good(tmp_path):
    path = tmp_path / "good.wav"
    sf.write(path, speechlike(1.0), 16000)
    return str(path)


def _run(capsys, *argv):
    status = main(["transcribe", *argv])
    out, err = capsys.readouterr()
    return status, [line for line in out.splitlines() if line], [line for line in err.splitlines() if line]


def test_transcribe_json(capsys, model_dir, good, tmp_path):
    stereo = tmp_path / "d" / "sub" / "stereo44k.flac"
    stereo.parent.mkdir(parents=True)
    import soxr

    x = soxr.resample(speechlike(1.0), 16000, 44100)
    sf.write(stereo, np.stack([x, x], axis=1), 44100)
    (tmp_path / "d" / "notes.txt").write_text("not audio")
    status, out, err = _run(capsys, good, str(tmp_path / "d"), "--model", model_dir, "--json")
    assert status == 0 and err == []
    records = [json.loads(line) for line in out]
    assert [r["file"] for r in records] == [good, str(stereo)]
    for r in records:
        assert set(r) == {"file", "text", "duration", "rtf"}
        assert r["duration"] == pytest.approx(1.0, abs=0.01) and r["rtf"] > 0
        assert isinstance(r["text"], str)


@pytest.mark.parametrize("method", ["greedy", "modified_beam_search", "beam_search"])
def test_transcribe_methods_and_schedules(capsys, model_dir, good, method):
    texts = set()
    for schedule in ["frame", "chunk:8"]:
        status, out, err = _run(capsys, good, "--model", model_dir, "--method", method, "--schedule", schedule,
                                "--beam", "3")
        assert status == 0 and err == [] and len(out) == 1 and out[0].startswith(good + ":")
        texts.add(out[0])
    assert len(texts) == 1


def test_transcribe_trace(capsys, model_dir, good, tmp_path):
    from importlib import resources

    # a buffer far smaller than the tiny model, so weights really stream from off-chip memory
    text = (resources.files("memasr") / "profiles" / "default.toml").read_text()
    profile = tmp_path / "tiny.toml"
    profile.write_text(text.replace("onchip_bytes = 2097152", "onchip_bytes = 4096"))
    # 2 s, not 1 s: the analytic figure is steady state, and the last, padded chunk of a 1 s clip
    # (whose decoder runs at this random model's 50 tokens/s) moves the traced rate by ~5%
    longer = tmp_path / "two-seconds.wav"
    sf.write(longer, speechlike(2.0), 16000)
    status, out, err = _run(capsys, str(longer), "--model", model_dir, "--json", "--trace", "--profile", str(profile))
    assert status == 0, err
    r = json.loads(out[0])
    assert r["offchip_bytes_per_s"] > 0 and r["token_rate"] >= 0 and r["symbols_per_frame"] >= 0
    assert r["offchip_bytes_per_s"] == pytest.approx(r["analytic_offchip_bytes_per_s"], rel=0.05)


def _wav_header(rate: int, frames: int = 100) -> bytes:
    data = frames * 2
    return (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE" + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate,
            rate * 2, 2, 16) + b"data" + struct.pack("<I", data) + b"\0" * data)


def _bad_inputs(tmp_path, good_wav: str) -> dict[str, str]:
    """name -> path of every bad input of the issue."""
    bad = {"missing": str(tmp_path / "nope.wav")}
    d = tmp_path / "texts"
    d.mkdir()
    (d / "a.txt").write_text("hello")
    (d / "b.json").write_text("{}")
    bad["dir_without_audio"] = str(d)
    (tmp_path / "empty.wav").write_bytes(b"")
    bad["empty"] = str(tmp_path / "empty.wav")
    sf.write(tmp_path / "zero.wav", np.zeros(0, dtype=np.float32), 16000)
    bad["zero_length"] = str(tmp_path / "zero.wav")
    (tmp_path / "trunc.wav").write_bytes(open(good_wav, "rb").read()[:30])
    bad["truncated_header"] = str(tmp_path / "trunc.wav")
    (tmp_path / "trunc20.wav").write_bytes(open(good_wav, "rb").read()[:20])
    bad["truncated_fmt"] = str(tmp_path / "trunc20.wav")
    x = speechlike(0.5)
    x[1000] = np.nan
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    bad["nan"] = str(tmp_path / "nan.wav")
    y = speechlike(0.5)
    y[10] = np.inf
    sf.write(tmp_path / "inf.wav", y, 16000, subtype="FLOAT")
    bad["inf"] = str(tmp_path / "inf.wav")
    (tmp_path / "rate0.wav").write_bytes(_wav_header(0))
    bad["rate_zero"] = str(tmp_path / "rate0.wav")
    sf.write(tmp_path / "one.wav", np.zeros(1, dtype=np.float32), 16000)
    bad["one_sample"] = str(tmp_path / "one.wav")
    return bad


@pytest.mark.timeout(60)
def test_bad_inputs_each_get_one_line_and_the_batch_goes_on(capsys, model_dir, good, tmp_path):
    bad = _bad_inputs(tmp_path, good)
    for name, path in bad.items():
        status, out, err = _run(capsys, path, good, "--model", model_dir, "--json")
        assert status == 2, name
        assert len(err) == 1 and err[0].startswith("memasr transcribe: error:"), (name, err)
        assert "Traceback" not in err[0]
        assert [json.loads(line)["file"] for line in out] == [good], name
    # all at once: one line each, the good file still transcribed, exit 2 at the end
    status, out, err = _run(capsys, *bad.values(), good, "--model", model_dir)
    assert status == 2 and len(err) == len(bad) and len(out) == 1


def test_error_messages_say_what_is_wrong(capsys, model_dir, good, tmp_path):
    bad = _bad_inputs(tmp_path, good)
    expect = {"missing": "not found", "dir_without_audio": "no audio files", "empty": "empty",
              "zero_length": "samples", "truncated_header": "'data' chunk", "nan": "NaN", "inf": "infinite",
              "rate_zero": "sample rate 0", "truncated_fmt": "truncated", "one_sample": "1 samples"}
    for name, path in bad.items():
        _, _, err = _run(capsys, path, "--model", model_dir)
        assert expect[name] in err[0], (name, err[0])


def test_bad_usage(capsys, model_dir, good, tmp_path):
    status, _, err = _run(capsys, good, "--model", str(tmp_path / "absent"))
    assert status == 2 and "model directory not found" in err[0]
    status, _, err = _run(capsys, good, "--model", model_dir, "--schedule", "chunk:3")
    assert status == 2 and "multiple" in err[0]
    status, _, err = _run(capsys, good, "--model", model_dir, "--schedule", "sometimes")
    assert status == 2 and "schedule" in err[0]
    status, _, err = _run(capsys, good, "--model", model_dir, "--beam", "0")
    assert status == 2 and len(err) == 1
