"""JSONL manifests (NeMo convention) and importers for common corpus layouts.

One JSON object per line with at least ``audio_filepath`` (str), ``duration``
(seconds) and ``text``; extra keys (``voice``, ``engine``, ``offset``...) pass
through untouched. Text is stored as found; consumers apply
``memasr.data.tokenizer.normalize_text``.

Importers take an optional ``problems`` list: when given, a bad item (missing or
unreadable audio, malformed line) is described there and skipped, so a batch
keeps going; when omitted, the first bad item raises InputError.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import soundfile as sf

from memasr.atomic import atomic_write
from memasr.errors import InputError

REQUIRED_KEYS = ("audio_filepath", "duration", "text")


def _validate_entry(entry: object, where: str) -> dict:
    if not isinstance(entry, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(entry).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in entry]
    if missing:
        raise InputError(f"{where}: missing key(s) {', '.join(missing)}")
    if not isinstance(entry["audio_filepath"], str) or not entry["audio_filepath"]:
        raise InputError(f"{where}: audio_filepath must be a non-empty string")
    if not isinstance(entry["text"], str):
        raise InputError(f"{where}: text must be a string")
    dur = entry["duration"]
    if isinstance(dur, bool) or not isinstance(dur, (int, float)) or not dur >= 0:
        raise InputError(f"{where}: duration must be a non-negative number, got {dur!r}")
    return entry


def read_manifest(path: str | os.PathLike, resolve_paths: bool = True) -> list[dict]:
    """Read a JSONL manifest; blank lines are skipped.

    With ``resolve_paths`` a relative ``audio_filepath`` is made absolute against
    the manifest's directory, so manifests can travel with their audio.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"manifest not found: {p}")
    entries = []
    with p.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{p}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}: malformed JSON ({exc.msg})") from None
            entry = _validate_entry(obj, where)
            if resolve_paths and not os.path.isabs(entry["audio_filepath"]):
                entry["audio_filepath"] = str((p.parent / entry["audio_filepath"]).resolve())
            entries.append(entry)
    return entries


def write_manifest(path: str | os.PathLike, entries: Iterable[dict]) -> int:
    """Write entries as JSONL atomically (temp file + os.replace); returns the count."""
    n = 0
    with atomic_write(path) as f:
        for n, entry in enumerate(entries, start=1):
            _validate_entry(entry, f"manifest entry {n}")
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return n


def _report(problems: list[str] | None, message: str) -> None:
    """Record a bad item when collecting problems, else fail on it."""
    if problems is None:
        raise InputError(message)
    problems.append(message)


def _entry(audio: Path, text: str, problems: list[str] | None) -> dict | None:
    """Manifest entry for ``audio`` with its duration from the header, or None if unusable."""
    if not audio.is_file():
        _report(problems, f"audio file not found: {audio}")
        return None
    try:
        info = sf.info(str(audio))
    except (sf.SoundFileError, RuntimeError) as exc:
        _report(problems, f"cannot read audio file {audio}: {exc}")
        return None
    if info.samplerate <= 0 or info.frames <= 0:
        _report(problems, f"audio file {audio} holds no samples")
        return None
    return {"audio_filepath": str(audio), "duration": round(info.frames / info.samplerate, 4), "text": text}


def prepare_librispeech(root: str | os.PathLike, problems: list[str] | None = None) -> list[dict]:
    """Import a LibriSpeech-layout tree: ``SPEAKER/CHAPTER/*.trans.txt`` with ``UTT.flac`` beside.

    ``root`` may be a subset directory (``train-clean-100``) or any directory above
    subsets (``LibriSpeech``); every transcript file below it is used.
    """
    base = Path(root)
    if not base.is_dir():
        raise InputError(f"LibriSpeech directory not found: {base}")
    transcripts = sorted(base.rglob("*.trans.txt"))
    if not transcripts:
        raise InputError(f"no *.trans.txt files under {base} (expected SPEAKER/CHAPTER/*.trans.txt)")
    entries = []
    for trans in transcripts:
        with trans.open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                utt, _, text = line.strip().partition(" ")
                if not text.strip():
                    _report(problems, f"{trans}:{lineno}: expected 'UTTERANCE-ID TEXT'")
                    continue
                entry = _entry((trans.parent / f"{utt}.flac").resolve(), text.strip(), problems)
                if entry is not None:
                    entries.append(entry)
    return entries


def prepare_list(list_file: str | os.PathLike, problems: list[str] | None = None) -> list[dict]:
    """Import a ``path<TAB>text`` list; relative paths are resolved against the list's directory.

    Blank lines and lines starting with ``#`` are skipped.
    """
    p = Path(list_file)
    if not p.is_file():
        raise InputError(f"list file not found: {p}")
    entries = []
    with p.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            audio, tab, text = line.partition("\t")
            if not tab or not audio.strip():
                _report(problems, f"{p}:{lineno}: expected 'PATH<TAB>TEXT'")
                continue
            path = Path(audio.strip())
            if not path.is_absolute():
                path = p.parent / path
            entry = _entry(path.resolve(), text.strip(), problems)
            if entry is not None:
                entries.append(entry)
    return entries


def prepare_lhotse(cuts_jsonl: str | os.PathLike, problems: list[str] | None = None) -> list[dict]:
    """Import a lhotse CutSet (``cuts.jsonl[.gz]``); segment cuts get an ``offset`` key."""
    p = Path(cuts_jsonl)
    if not p.is_file():
        raise InputError(f"lhotse cuts file not found: {p}")
    try:
        from lhotse import CutSet  # optional dependency, imported only here
    except ImportError:
        raise InputError("lhotse is not installed (pip install lhotse urllib3)") from None
    entries = []
    for cut in CutSet.from_jsonl_lazy(str(p)):
        recording = getattr(cut, "recording", None)
        sources = getattr(recording, "sources", None) or []
        files = [s.source for s in sources if s.type == "file"]
        if not files:
            _report(problems, f"{p}: cut {cut.id} has no audio file source")
            continue
        entry = {
            "audio_filepath": str(files[0]),
            "duration": round(float(cut.duration), 4),
            "text": " ".join(s.text for s in cut.supervisions if s.text),
        }
        if cut.start:
            entry["offset"] = round(float(cut.start), 4)
        speakers = {s.speaker for s in cut.supervisions if s.speaker}
        if len(speakers) == 1:
            entry["voice"] = speakers.pop()
        entries.append(entry)
    return entries


def parse_mix_source(spec: str) -> tuple[str, int]:
    """``PATH`` or ``PATH:N`` (N copies, as lhotse's ``CutSet.repeat``) -> (path, copies)."""
    path, sep, count = spec.rpartition(":")
    if not sep or not count.isdigit():
        return spec, 1
    if int(count) < 1:
        raise InputError(f"mix source {spec!r}: the copy count must be at least 1")
    return path, int(count)


def prepare_mix(sources: Sequence[str], problems: list[str] | None = None) -> list[dict]:
    """Concatenate manifests, each ``PATH[:N]`` repeated N times, with absolute audio paths.

    Repeating a small corpus is how a recipe up-weights it (e.g. a few hours of natural voices
    beside a large robotic one); the result can live anywhere because its paths are absolute.
    """
    entries: list[dict] = []
    for spec in sources:
        path, copies = parse_mix_source(spec)
        rows = read_manifest(path)
        if not rows:
            _report(problems, f"{path}: empty manifest")
        entries += [dict(row) for _ in range(copies) for row in rows]
    return entries
