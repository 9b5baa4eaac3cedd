"""Text pool for synthetic training speech (DESIGN.md section 5).

Sentences come from three Debian packages that work offline: ``fortunes``,
``wordnet-base`` (quoted example phrases) and ``bible-kjv``. They are cleaned to
what a small character/BPE vocabulary can spell and a TTS engine reads
unambiguously: lower-case letters, apostrophes and single spaces, 3-20 words.
The cleaned pool is cached under ``~/.cache/memasr/`` because parsing the
sources takes a few seconds and every data-loader worker needs the pool.

Where the Debian packages cannot be installed (a rented GPU machine without
network), ``MEMASR_TEXT_POOL`` names a file holding a pool built elsewhere, one
sentence per line (``.gz`` allowed), and ``MEMASR_TEXT_POOL_SHA256`` optionally
pins its digest so a run provably uses the same sentences.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from memasr.errors import InputError

MIN_WORDS = 3
MAX_WORDS = 20
# Bump when the cleaning rules change so stale caches are not reused.
POOL_VERSION = 1

FORTUNES_DIR = Path("/usr/share/games/fortunes")
WORDNET_DIR = Path("/usr/share/wordnet")
BIBLE_DATA = Path("/usr/share/bible-kjv")  # only for the cache signature; text comes from `bible`

# Characters that a reader would voice as words ("percent", "at") or that mark
# code/ASCII art: a sentence holding one is dropped rather than mis-transcribed.
_REJECT = re.compile(r"[0-9@#$%&*+=<>|_~^{}\[\]\\/`]")
# Punctuation that is silent when read aloud: becomes a word break.
_SILENT = re.compile(r"[\s\-.,;:!?\"()]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CLAUSE_END = re.compile(r"(?<=[;:])\s+")
_WORD = re.compile(r"^[a-z]+(?:'[a-z]+)*$")
_QUOTED = re.compile(r'"([^"]+)"')


def clean_sentence(raw: str) -> str | None:
    """Return ``raw`` as lower-case words of letters/apostrophes, or None if unusable.

    None means: holds digits or symbols read as words, a word that is not
    letters with inner apostrophes, or fewer than 3 / more than 20 words.
    """
    text = unicodedata.normalize("NFKD", raw)
    text = text.encode("ascii", "ignore").decode("ascii")  # strips accents: cafe, naive
    text = text.replace("``", '"').replace("''", '"')
    if _REJECT.search(text):
        return None
    text = _SILENT.sub(" ", text.lower())
    words = []
    for word in text.split():
        word = word.strip("'")  # single quotes used as quotation marks
        if not word:
            continue
        if not _WORD.match(word):
            return None
        words.append(word)
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        return None
    return " ".join(words)


def clean_passage(raw: str) -> list[str]:
    """Clean a passage (fortune, verse): whole if short enough, else its sentences/clauses."""
    whole = clean_sentence(raw)
    if whole is not None:
        return [whole]
    out: list[str] = []
    for sentence in _SENTENCE_END.split(raw.strip()):
        cleaned = clean_sentence(sentence)
        if cleaned is not None:
            out.append(cleaned)
            continue
        # Long bible verses: fall back to clauses.
        out.extend(c for c in map(clean_sentence, _CLAUSE_END.split(sentence)) if c)
    return out


def _fortune_files() -> list[Path]:
    if not FORTUNES_DIR.is_dir():
        return []
    # Files without a suffix are the text; .dat is the index, .u8 a link to the text.
    return sorted(p for p in FORTUNES_DIR.iterdir() if p.is_file() and not p.suffix)


def _fortune_passages() -> Iterator[str]:
    for path in _fortune_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for entry in re.split(r"^%\s*$", text, flags=re.MULTILINE):
            # Drop attribution lines ("-- Mark Twain") so they are not glued to the quote.
            lines = [ln for ln in entry.splitlines() if not ln.strip().startswith(("--", "\u2014"))]
            yield " ".join(ln.strip() for ln in lines)


def _wordnet_files() -> list[Path]:
    return [p for p in (WORDNET_DIR / f"data.{pos}" for pos in ("noun", "verb", "adj", "adv")) if p.is_file()]


def _wordnet_passages() -> Iterator[str]:
    for path in _wordnet_files():
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("  "):  # licence header
                    continue
                _, _, gloss = line.partition("|")
                yield from _QUOTED.findall(gloss)


def _bible_passages() -> Iterator[str]:
    out = subprocess.run(
        ["bible", "-f", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=True
    ).stdout
    for line in out.splitlines():
        _ref, _, verse = line.partition(" ")  # "Ge1:1 In the beginning ..."
        if verse:
            yield verse


# name -> (Debian package, present?, passages, files whose stat keys the cache)
_SOURCES: dict[str, tuple[str, Callable[[], bool], Callable[[], Iterable[str]], Callable[[], list[Path]]]] = {
    "fortunes": ("fortunes", lambda: bool(_fortune_files()), _fortune_passages, _fortune_files),
    "wordnet": ("wordnet-base", lambda: bool(_wordnet_files()), _wordnet_passages, _wordnet_files),
    "bible": (
        "bible-kjv",
        lambda: shutil.which("bible") is not None,
        _bible_passages,
        lambda: sorted(BIBLE_DATA.glob("*")) if BIBLE_DATA.is_dir() else [],
    ),
}
SOURCES: tuple[str, ...] = tuple(_SOURCES)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "memasr"


def _cache_key(sources: Sequence[str]) -> str:
    h = hashlib.sha256(f"v{POOL_VERSION}".encode())
    for name in sources:
        h.update(name.encode())
        for path in _SOURCES[name][3]():
            st = path.stat()
            h.update(f"{path}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_text_pool(sources: Sequence[str]) -> list[str]:
    """Parse and clean ``sources`` (no cache): deduplicated, in source then file order."""
    seen: set[str] = set()
    pool: list[str] = []
    for name in sources:
        for passage in _SOURCES[name][2]():
            for sentence in clean_passage(passage):
                if sentence not in seen:
                    seen.add(sentence)
                    pool.append(sentence)
    return pool


POOL_FILE_ENV = "MEMASR_TEXT_POOL"
POOL_SHA_ENV = "MEMASR_TEXT_POOL_SHA256"


def read_pool_file(path: str | os.PathLike[str], sha256: str | None = None) -> list[str]:
    """A pool saved elsewhere (one sentence per line, gzip if ``.gz``), checked against ``sha256``
    of its (decompressed) text bytes, so re-compressing the file does not change the digest."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if path.suffix == ".gz" else raw
        text = data.decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise InputError(f"{POOL_FILE_ENV}={path}: cannot read the text pool ({exc})") from None
    if sha256 and hashlib.sha256(data).hexdigest() != sha256.strip().lower():
        raise InputError(f"{POOL_FILE_ENV}={path} does not match {POOL_SHA_ENV}")
    pool = [line for line in text.splitlines() if line.strip()]
    if not pool:
        raise InputError(f"{POOL_FILE_ENV}={path} holds no sentences")
    return pool


def load_text_pool(
    sources: Sequence[str] = SOURCES,
    *,
    allow_missing: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
) -> list[str]:
    """Return the cleaned, deduplicated sentence pool (deterministic order).

    ``MEMASR_TEXT_POOL`` (see the module docstring) overrides the sources.

    A source whose Debian package is absent raises :class:`InputError` naming the
    package; with ``allow_missing`` it is skipped with a warning (at least one
    source must remain). The result is cached in ``cache_dir`` (default
    ``~/.cache/memasr``) keyed by the sources and their files' size/mtime.
    """
    pool_file = os.environ.get(POOL_FILE_ENV)
    if pool_file:
        return read_pool_file(pool_file, os.environ.get(POOL_SHA_ENV) or None)
    unknown = [s for s in sources if s not in _SOURCES]
    if unknown:
        raise InputError(f"unknown text source(s) {', '.join(unknown)}; choose from {', '.join(SOURCES)}")
    present = []
    for name in dict.fromkeys(sources):  # dedupe, keep order
        package, available, _, _ = _SOURCES[name]
        if available():
            present.append(name)
            continue
        hint = f"text source '{name}' is missing: install the Debian package '{package}' (apt-get install {package})"
        if not allow_missing:
            raise InputError(hint)
        warnings.warn(hint + "; continuing without it", stacklevel=2)
    if not present:
        raise InputError("no text source is available (need Debian fortunes, wordnet-base or bible-kjv)")

    if not use_cache:
        return build_text_pool(present)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"text_pool-{'+'.join(present)}-{_cache_key(present)}.txt"
    if path.is_file():
        return path.read_text(encoding="utf-8").splitlines()
    pool = build_text_pool(present)
    try:
        _atomic_write_text(path, "\n".join(pool) + "\n")
    except OSError as exc:  # read-only home: still usable, just slower next time
        warnings.warn(f"could not cache the text pool at {path}: {exc}", stacklevel=2)
    return pool
