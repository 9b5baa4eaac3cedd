"""Real human speech evaluation sets shipped in Debian packages.

Three small sets, loaded from the files the packages install (nothing is downloaded):

``librivox`` (Debian ``pocketsphinx-testdata``)
    5 sentences from the public-domain LibriVox reading of *Sense and Sensibility*, one
    reader, 16 kHz wav, 24.7 s in all. Transcripts in ``librivox/transcription``, one line per
    utterance in Sphinx format: ``<s> words ... </s> (utterance-id)``; the id is the wav's stem.
``cards``  (Debian ``pocketsphinx-testdata``)
    5 short utterances of playing-card names ("ten of clubs"), 16 kHz wav, 9.6 s. Transcripts
    in ``cards/cards.transcription``, same Sphinx format; ids ``001``..``005`` are wav stems.
``klettres`` (Debian ``klettres-data``)
    Isolated English letters and short words spoken by two adult voices, ogg at 44.1 kHz:
    ``en/`` (US English, 26 letters + 19 syllables, about 2 s each) and ``en_GB/`` (British
    English, 26 letters + 23 words). There is no transcript file; the label is the file name.

klettres file name -> reference text (then :func:`normalize_text`):

* ``alpha/<L>.ogg`` is the *name* of letter ``L`` ("bee", British "zed", "aitch"...). The
  reference is the bare letter, ``"b"``, i.e. the word a speller writes; a system that
  writes the letter name as a homophone ("see", "you", "why", "pee") is counted wrong,
  because no written form other than the letter itself is the canonical transcript.
* ``syllab/<word>.ogg`` is the word itself (``car``, ``dog``, ``the``, ``well``...): the
  reference is the stem.
* Three US files are phonics sounds, not words (``aw``, ``ch``, ``th``: the sound a
  letter group makes). They have no orthographic transcript and are left out.

So ``klettres`` has 26 + 16 (en) + 26 + 23 (en_GB) = **91** items. Item ids are
``klettres/<lang>/<alpha|syllab>/<stem>``.

All texts are normalized with :func:`memasr.data.tokenizer.normalize_text` (lower case,
no punctuation; the Sphinx ``<s>``/``</s>`` markers are removed before that).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from memasr.data.tokenizer import normalize_text
from memasr.errors import InputError

POCKETSPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")
KLETTRES_DATA = Path("/usr/share/klettres")
# Environment overrides for the package roots (for non-Debian layouts)
POCKETSPHINX_ENV = "MEMASR_POCKETSPHINX_TESTDATA"
KLETTRES_ENV = "MEMASR_KLETTRES_DATA"

KLETTRES_LANGS = ("en", "en_GB")
#: phonics sounds without a written word; excluded from the klettres set
KLETTRES_SOUNDS = frozenset({"aw", "ch", "th"})

# "<s> words </s> (id)" ; the markers are optional in some Sphinx transcription files
_SPHINX_LINE = re.compile(r"^(?P<text>.*?)\s*\((?P<id>[^()\s]+)\)\s*$")
_SPHINX_MARKERS = re.compile(r"</?s>|<sil>", re.IGNORECASE)


@dataclass(frozen=True)
class EvalItem:
    """One utterance: audio file, normalized reference text, and a stable id."""

    path: Path
    text: str
    id: str


@dataclass(frozen=True)
class _SetInfo:
    package: str
    description: str


EVAL_SETS: dict[str, _SetInfo] = {
    "librivox": _SetInfo("pocketsphinx-testdata", "5 LibriVox read sentences, one speaker, 16 kHz"),
    "cards": _SetInfo("pocketsphinx-testdata", "5 playing-card utterances, 16 kHz"),
    "klettres": _SetInfo("klettres-data", "91 isolated English letters and short words, en + en_GB, 44.1 kHz"),
}


def _root(env: str, default: Path) -> Path:
    return Path(os.environ.get(env) or default)


def _missing(name: str, what: Path) -> InputError:
    pkg = EVAL_SETS[name].package
    return InputError(f"evaluation set {name!r} needs the Debian package {pkg!r} "
                      f"(missing {what}); install it with `sudo apt-get install {pkg}`")


def parse_sphinx_transcription(text: str) -> dict[str, str]:
    """Parse a Sphinx ``.transcription`` file: ``<s> words </s> (id)`` per line.

    Returns {utterance id: raw words} (markers removed, not yet normalized). Blank lines are
    skipped; a line without a trailing ``(id)`` raises InputError.
    """
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _SPHINX_LINE.match(line.strip())
        if not m:
            raise InputError(f"transcription line {n} has no '(utterance-id)': {line!r}")
        words = " ".join(_SPHINX_MARKERS.sub(" ", m.group("text")).split())
        out[m.group("id")] = words
    return out


def _load_sphinx(name: str, folder: Path, transcription: str) -> list[EvalItem]:
    trans = folder / transcription
    if not trans.is_file():
        raise _missing(name, trans)
    refs = parse_sphinx_transcription(trans.read_text(encoding="utf-8"))
    items = []
    for uid, words in refs.items():
        wav = folder / f"{uid}.wav"
        if not wav.is_file():
            raise _missing(name, wav)
        items.append(EvalItem(wav, normalize_text(words), f"{name}/{uid}"))
    if not items:
        raise InputError(f"{trans} lists no utterances")
    return items


def klettres_text(path: Path) -> str | None:
    """Reference text for a klettres file (see the module docstring), or None if excluded."""
    stem = path.stem.lower()
    if path.parent.name == "alpha":
        return normalize_text(stem) if len(stem) == 1 and stem.isalpha() else None
    if stem in KLETTRES_SOUNDS:
        return None
    return normalize_text(stem) or None


def _load_klettres() -> list[EvalItem]:
    root = _root(KLETTRES_ENV, KLETTRES_DATA)
    items = []
    for lang in KLETTRES_LANGS:
        base = root / lang
        if not base.is_dir():
            raise _missing("klettres", base)
        for kind in ("alpha", "syllab"):
            for f in sorted((base / kind).glob("*.ogg"), key=lambda p: p.name.lower()):
                text = klettres_text(f)
                if text:
                    items.append(EvalItem(f, text, f"klettres/{lang}/{kind}/{f.stem.lower()}"))
    if not items:
        raise _missing("klettres", root / "en" / "alpha")
    return items


def available_eval_sets() -> list[str]:
    """Names of the evaluation sets whose Debian packages are installed here."""
    out = []
    for name in EVAL_SETS:
        try:
            load_eval_set(name)
        except InputError:
            continue
        out.append(name)
    return out


def load_eval_set(name: str) -> list[EvalItem]:
    """Items of evaluation set ``name`` (``librivox``, ``cards`` or ``klettres``), in a fixed order.

    Raises InputError for an unknown name, or naming the Debian package when its files are missing.
    """
    if name not in EVAL_SETS:
        raise InputError(f"unknown evaluation set {name!r}; choose from {', '.join(EVAL_SETS)}")
    if name == "klettres":
        return _load_klettres()
    root = _root(POCKETSPHINX_ENV, POCKETSPHINX_DATA)
    if name == "librivox":
        return _load_sphinx(name, root / "librivox", "transcription")
    return _load_sphinx(name, root / "cards", "cards.transcription")
