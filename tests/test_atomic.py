import os
import stat

import pytest

from memasr.atomic import atomic_directory, atomic_path, atomic_write, current_umask, default_mode


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_umask_is_read_without_changing_it(umask_027):
    assert current_umask() == 0o027
    assert current_umask() == 0o027
    assert default_mode() == 0o640 and default_mode(directory=True) == 0o750


def test_text_write_has_content_and_plain_open_permissions(tmp_path, umask_027):
    target = tmp_path / "sub" / "out.jsonl"
    with atomic_write(target) as fh:
        fh.write("caf\u00e9\n")
    assert target.read_text(encoding="utf-8") == "caf\u00e9\n"
    plain = tmp_path / "plain.txt"
    with open(plain, "w"):
        pass
    assert _mode(target) == 0o666 & ~umask_027 == _mode(plain)
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.jsonl"]


def test_binary_write_replaces_existing_file(tmp_path, umask_027):
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    with atomic_write(target, "wb") as fh:
        fh.write(b"\x00new")
    assert target.read_bytes() == b"\x00new"
    assert _mode(target) == 0o640


@pytest.mark.parametrize("mode", ["w", "wb"])
def test_failure_removes_temp_and_leaves_target(tmp_path, mode):
    target = tmp_path / "keep.txt"
    target.write_text("original")
    with pytest.raises(RuntimeError), atomic_write(target, mode) as fh:
        fh.write("half" if mode == "w" else b"half")
        raise RuntimeError("killed")
    assert target.read_text() == "original"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_bad_mode_is_refused(tmp_path):
    with pytest.raises(ValueError), atomic_write(tmp_path / "x", "a"):
        pass


def test_path_writer_gets_permissions(tmp_path, umask_027):
    import numpy as np
    import soundfile as sf

    target = tmp_path / "a.wav"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".a.wav.") and tmp.name.endswith(".tmp")
        sf.write(tmp, np.zeros(160, dtype=np.float32), 16000, format="WAV")
    assert sf.info(target).frames == 160
    assert _mode(target) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]


def test_path_writer_failure_cleans_up(tmp_path):
    target = tmp_path / "ckpt.pt"
    with pytest.raises(OSError), atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise OSError("disk full")
    assert not list(tmp_path.iterdir())


def test_directory_gets_mkdir_permissions_and_replaces_old(tmp_path, umask_027):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_directory(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert _mode(target) == 0o750
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    with pytest.raises(KeyboardInterrupt), atomic_directory(target) as tmp:
        (tmp / "half.txt").write_text("half")
        raise KeyboardInterrupt
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
