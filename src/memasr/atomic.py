"""Atomic writes of files and directories.

Everything memasr writes (manifests, tokenizers, models, ARPA LMs, reports, wavs) goes to a
temporary sibling first and is renamed onto the target only once complete, so a killed run
never leaves a half-written file under the final name and a reader never sees one.

``tempfile.mkstemp``/``mkdtemp`` create their files 0600/0700; the helpers here give the
finished file or directory the permissions a plain ``open(path, "w")``/``mkdir`` would
(0666/0777 minus the umask), so outputs stay readable to other users as usual.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (``/proc``), else by
    setting and restoring it."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_mode(directory: bool = False) -> int:
    """Permissions ``open(path, "w")`` (or ``mkdir`` for a directory) would give a new one."""
    return (0o777 if directory else 0o666) & ~current_umask()


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that takes a file name
    (``torch.save``, ``soundfile.write``, ``savefig``...); when the body finishes it gets
    :func:`default_mode` and replaces ``path``. On any exception it is removed (``path`` is
    left untouched) and the exception re-raised.

    The temporary name is ``.NAME.XXXXXXXX.tmp`` (leftovers match ``*.tmp``), so a writer
    that picks its format from the file name must be given the format explicitly."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8",
                 newline: str | None = None) -> Iterator[IO[Any]]:
    """Yield a file object (``mode`` ``"w"`` or ``"wb"``) whose content replaces ``path``
    atomically once the body finishes; see :func:`atomic_path`."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as tmp:
        if mode == "wb":
            with open(tmp, "wb") as fh:
                yield fh
        else:
            with open(tmp, "w", encoding=encoding, newline=newline) as fh:
                yield fh


@contextmanager
def atomic_directory(directory: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``directory``; when the body finishes it gets
    :func:`default_mode` and replaces ``directory`` (see :func:`swap_into_place`). On any
    exception it is removed with its content and the exception re-raised."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        yield tmp
        os.chmod(tmp, default_mode(directory=True))
        swap_into_place(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def swap_into_place(new: Path, directory: Path) -> None:
    """Replace ``directory`` by ``new``; if that fails, the old directory is put back."""
    old = None
    if directory.exists():
        old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(directory, old)
    try:
        os.replace(new, directory)
    except BaseException:
        if old is not None and not directory.exists():
            os.replace(old, directory)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
