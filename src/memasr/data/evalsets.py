"""Real human speech evaluation sets shipped in Debian packages.

Every English recording with a known transcript that ships in a Debian package, loaded from the
files the packages install (nothing is downloaded), plus game voice lines labelled by Whisper.

Sets with true transcripts (``labels="true"``):

``librivox`` (``pocketsphinx-testdata``)
    5 sentences from the public-domain LibriVox reading of *Sense and Sensibility*, one
    reader, 16 kHz wav, 24.7 s in all. Transcripts in ``librivox/transcription``, one line per
    utterance in Sphinx format: ``<s> words ... </s> (utterance-id)``; the id is the wav's stem.
``cards``  (``pocketsphinx-testdata``)
    5 short utterances of playing-card names ("ten of clubs"), 16 kHz wav, 9.6 s. Transcripts
    in ``cards/cards.transcription``, same Sphinx format; ids ``001``..``005`` are wav stems.
``pocketsphinx-raw`` (``pocketsphinx-testdata``)
    2 headerless 16 kHz recordings whose words the package states: ``goforward.raw`` is the
    ``<move>`` rule of ``goforward.gram`` ("go forward ten meters", pocketsphinx's own tests
    decode it so), ``tidigits/dhd.2934z.raw`` is a TIDIGITS utterance named by its digits
    (``z`` = zero). They are converted to wav in the cache folder on first use.
``klettres`` (``klettres-data``)
    Isolated English letters and short words spoken by two adult voices, ogg at 44.1 kHz:
    ``en/`` (US English, 26 letters + 19 syllables, about 2 s each) and ``en_GB/`` (British
    English, 26 letters + 23 words). There is no transcript file; the label is the file name.
``ktuberling`` (``ktuberling-data``)
    71 words a child's game says when a sticker is placed ("umbrella", "falling star"), one
    English voice, ogg at 44.1 kHz. Labels come from the sound names in ``sounds/en.soundtheme``
    (the word after the scene prefix: ``pizzeria_olive`` -> "olive"); four names that are glued
    or misspelt are spelled as spoken (:data:`KTUBERLING_FIXES`).
``alsa`` (``alsa-utils``)
    8 speaker-test announcements ("front left"), 48 kHz wav; the label is the file name.
    ``Noise.wav`` is noise, not speech, and is left out.
``asterisk`` (``asterisk-core-sounds-en`` + ``asterisk-core-sounds-en-wav``)
    The Asterisk PBX prompts read by Allison Smith (CC-BY-SA-3.0), 8 kHz telephone wav, with
    their transcripts in ``core-sounds-en.txt``: menus, voicemail, digits, letters. Notes in
    brackets or parentheses (``[ascending tones]``, ``at [@]``, ``(10 seconds of silence)``) are
    not spoken and are dropped, a prompt that is only a note (a beep, silence) is left out, and
    the keypad keys are spoken as "star" and "pound".
``tuxpaint`` (``tuxpaint-stamps-default``, 161 MB download: optional)
    66 spoken English names of Tux Paint animal stamps (``*_desc.ogg``). The recording says the
    stamp's name, which is the file name (``hen_desc.ogg`` -> "hen"), not the longer ``.txt``
    description ("A brown hen."); four names are spelled as spoken (:data:`TUXPAINT_FIXES`).

Sets labelled by Whisper base (``labels="pseudo"``; never inside ``real-dev``/``real-test``):

``hedgewars`` (``hedgewars-data``, 145 MB), ``warzone2100`` (``warzone2100-data``, 143 MB)
    Game voice lines without transcripts. Their labels are committed in ``pseudo_labels.json``
    beside this module (model, command and thresholds are recorded there;
    ``scripts/pseudo_label.py`` made it), so loading needs no Whisper. (pocketsphinx's
    ``numbers.raw`` and ``something.raw`` were tried too; Whisper was not sure enough of either.)
``drascula`` (``drascula``, label kind ``script``), ``sky`` (``beneath-a-steel-sky``), ``queen``
(``flight-of-the-amazon-queen``)
    Acted voice lines of three freeware adventure games, 11 kHz, a dozen or more actors each
    (containers read by :mod:`memasr.data.gamespeech`, clips decoded once into the cache by
    :func:`game_clips`). Meant for *training*: hours of real speech. drascula's text is the
    game's own script line, kept where Whisper base heard nearly the same words (actors
    paraphrase); sky and queen carry Whisper base's text. Labels: ``game_labels.json.gz``.

Splits over the true-transcript sets, by source and speaker, so that ``real-test`` holds
speakers that ``real-dev`` never has:

``real-dev`` (checkpoint choice)
    ``asterisk`` + ``klettres`` US English (``klettres/en/``) + ``pocketsphinx-raw``.
``real-test`` (reporting only)
    ``librivox`` + ``cards`` (kept here: earlier results and the peers use them) +
    ``klettres`` British English (``klettres/en_GB/``) + ``ktuberling`` + ``alsa``.

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

:func:`write_manifest` exports any set as a JSONL manifest (``audio_filepath``, ``duration``,
``text``) with 16 kHz mono wav copies, for the trainer.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from memasr.atomic import atomic_directory, atomic_path, atomic_write
from memasr.data import gamespeech
from memasr.data.audio import DEFAULT_SR
from memasr.data.text import default_cache_dir
from memasr.data.tokenizer import normalize_text
from memasr.errors import InputError

SAMPLE_RATE = DEFAULT_SR  # one rate for data, features and models (memasr.data.audio)


@dataclass(frozen=True)
class PackageRoot:
    """Where a Debian package puts its files; ``env`` overrides the folder (non-Debian layouts)."""

    package: str
    default: Path
    env: str

    def path(self) -> Path:
        return Path(os.environ.get(self.env) or self.default)


POCKETSPHINX = PackageRoot("pocketsphinx-testdata", Path("/usr/share/pocketsphinx/test/data"),
                           "MEMASR_POCKETSPHINX_TESTDATA")
KLETTRES = PackageRoot("klettres-data", Path("/usr/share/klettres"), "MEMASR_KLETTRES_DATA")
KTUBERLING = PackageRoot("ktuberling-data", Path("/usr/share/ktuberling/sounds"), "MEMASR_KTUBERLING_SOUNDS")
ALSA = PackageRoot("alsa-utils", Path("/usr/share/sounds/alsa"), "MEMASR_ALSA_SOUNDS")
ASTERISK = PackageRoot("asterisk-core-sounds-en-wav", Path("/usr/share/asterisk/sounds/en_US_f_Allison"),
                       "MEMASR_ASTERISK_SOUNDS")
ASTERISK_TEXT = PackageRoot("asterisk-core-sounds-en",
                            Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"),
                            "MEMASR_ASTERISK_TRANSCRIPTS")
TUXPAINT = PackageRoot("tuxpaint-stamps-default", Path("/usr/share/tuxpaint/stamps"), "MEMASR_TUXPAINT_STAMPS")
HEDGEWARS = PackageRoot("hedgewars-data", Path("/usr/share/games/hedgewars/Data/Sounds/voices"),
                        "MEMASR_HEDGEWARS_VOICES")
WARZONE = PackageRoot("warzone2100-data", Path("/usr/share/games/warzone2100/base.wz"), "MEMASR_WARZONE_BASE")
DRASCULA = PackageRoot("drascula", Path("/usr/share/scummvm/drascula/en"), "MEMASR_DRASCULA_VOICES")
DRASCULA_SCRIPT = PackageRoot("scummvm-data", Path("/usr/share/scummvm/drascula.dat"), "MEMASR_DRASCULA_DAT")
SKY = PackageRoot("beneath-a-steel-sky", Path("/usr/share/scummvm/beneath-a-steel-sky"), "MEMASR_SKY_DATA")
QUEEN = PackageRoot("flight-of-the-amazon-queen", Path("/usr/share/scummvm/flight-of-the-amazon-queen/queen.1c"),
                    "MEMASR_QUEEN_DATA")
#: game -> where its voice clips are (see :mod:`memasr.data.gamespeech`)
GAMES = {"drascula": DRASCULA, "sky": SKY, "queen": QUEEN}

# Backwards-compatible names of the two original roots and their environment overrides.
POCKETSPHINX_DATA, POCKETSPHINX_ENV = POCKETSPHINX.default, POCKETSPHINX.env
KLETTRES_DATA, KLETTRES_ENV = KLETTRES.default, KLETTRES.env
CACHE_ENV = "MEMASR_EVAL_CACHE"

KLETTRES_LANGS = ("en", "en_GB")
#: phonics sounds without a written word; excluded from the klettres set
KLETTRES_SOUNDS = frozenset({"aw", "ch", "th"})
#: ktuberling sound names that are glued or misspelt -> the words spoken (checked with Whisper)
KTUBERLING_FIXES = {"fallingstar": "falling star", "palmtree": "palm tree", "sphynx": "sphinx",
                    "brocolli": "broccoli"}
#: Tux Paint stamp names that are glued or not English spelling -> the words spoken (checked with Whisper)
TUXPAINT_FIXES = {"mountaingoat": "mountain goat", "wildboar": "wild boar", "tucan": "toucan", "nandou": "nandu"}
#: pocketsphinx-testdata recordings whose words the package states (see the module docstring)
POCKETSPHINX_RAW = {"goforward.raw": "go forward ten meters", "tidigits/dhd.2934z.raw": "two nine three four zero"}
#: alsa-utils files that are not speech
ALSA_NOT_SPEECH = frozenset({"Noise"})
PSEUDO_LABELS = Path(__file__).with_name("pseudo_labels.json")
GAME_LABELS = Path(__file__).with_name("game_labels.json.gz")

# "<s> words </s> (id)" ; the markers are optional in some Sphinx transcription files
_SPHINX_LINE = re.compile(r"^(?P<text>.*?)\s*\((?P<id>[^()\s]+)\)\s*$")
_SPHINX_MARKERS = re.compile(r"</?s>|<sil>", re.IGNORECASE)
_NOTE = re.compile(r"\[[^\]]*\]|\([^)]*\)")


@dataclass(frozen=True)
class EvalItem:
    """One utterance: audio file, normalized reference text, a stable id, and whether the
    text is a model's guess (pseudo label) rather than a known transcript."""

    path: Path
    text: str
    id: str
    pseudo: bool = False


@dataclass(frozen=True)
class EvalSetInfo:
    """An evaluation set: the Debian package(s) it needs, what it is, label kind, loader."""

    package: str
    description: str
    labels: str  # "true", "script" (a game's script, kept where Whisper agrees) or "pseudo"
    load: Callable[[], list[EvalItem]]


# ------------------------------------------------------------------------------ helpers


def cache_dir() -> Path:
    """Folder for converted audio (raw -> wav, archive members): ``MEMASR_EVAL_CACHE`` or
    ``~/.cache/memasr/evalsets``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return default_cache_dir() / "evalsets"


def _missing(root: PackageRoot, what: Path, name: str) -> InputError:
    return InputError(f"evaluation set {name!r} needs the Debian package {root.package!r} "
                      f"(missing {what}); install it with `sudo apt-get install {root.package}`")


def _write_wav(path: Path, samples: np.ndarray, sr: int, source: Path | None = None) -> Path:
    """Write a 16-bit wav atomically; with ``source``, stamp it with the source's mtime (see
    :func:`_is_stale`)."""
    with atomic_path(path) as tmp:  # readers never see half a file
        sf.write(str(tmp), samples, sr, subtype="PCM_16", format="WAV")
        if source is not None:
            _stamp(tmp, source)
    return path


def _stamp(derived: Path, source: Path) -> None:
    """Give ``derived`` its source's modification time, the mark :func:`_is_stale` checks."""
    st = Path(source).stat()
    os.utime(derived, ns=(st.st_atime_ns, st.st_mtime_ns))


def _is_stale(derived: Path, source: Path) -> bool:
    """Must ``derived`` (made from ``source``) be rebuilt: missing, or not stamped with the
    source's current mtime? Equality, not "older than": dpkg installs files with the mtime
    stored in the package, so an upgraded source can be older than a wav made before."""
    return not derived.is_file() or derived.stat().st_mtime_ns != Path(source).stat().st_mtime_ns


def _raw_as_wav(raw: Path, key: str) -> Path:
    """A headerless 16 kHz little-endian int16 file as a cached wav (soundfile cannot guess raw)."""
    out = cache_dir() / f"{key}.wav"
    if _is_stale(out, raw):
        _write_wav(out, np.fromfile(raw, dtype="<i2"), SAMPLE_RATE, source=raw)
    return out


def _archive_members(archive: Path, members: list[str], folder: str) -> list[Path]:
    """``members`` of zip ``archive`` extracted to ``<cache>/<folder>/<member>`` (warzone2100 keeps
    its sounds in base.wz); the archive is opened once, and members already extracted are kept."""
    outs = [cache_dir() / folder / m for m in members]
    stale = [(m, out) for m, out in zip(members, outs) if _is_stale(out, archive)]
    if stale:
        with zipfile.ZipFile(archive) as zf:
            for member, out in stale:
                data = zf.read(member)
                with atomic_write(out, "wb") as fh:
                    fh.write(data)
                _stamp(out, archive)
    return outs


# ------------------------------------------------------------------------------ true transcripts


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


def _load_sphinx(name: str, folder: str, transcription: str) -> list[EvalItem]:
    base = POCKETSPHINX.path() / folder
    trans = base / transcription
    if not trans.is_file():
        raise _missing(POCKETSPHINX, trans, name)
    refs = parse_sphinx_transcription(trans.read_text(encoding="utf-8"))
    items = []
    for uid, words in refs.items():
        wav = base / f"{uid}.wav"
        if not wav.is_file():
            raise _missing(POCKETSPHINX, wav, name)
        items.append(EvalItem(wav, normalize_text(words), f"{name}/{uid}"))
    if not items:
        raise InputError(f"{trans} lists no utterances")
    return items


def _load_pocketsphinx_raw() -> list[EvalItem]:
    items = []
    for rel, text in POCKETSPHINX_RAW.items():
        raw = POCKETSPHINX.path() / rel
        if not raw.is_file():
            raise _missing(POCKETSPHINX, raw, "pocketsphinx-raw")
        stem = Path(rel).stem
        items.append(EvalItem(_raw_as_wav(raw, f"pocketsphinx/{stem}"), text, f"pocketsphinx-raw/{stem}"))
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
    root = KLETTRES.path()
    items = []
    for lang in KLETTRES_LANGS:
        base = root / lang
        if not base.is_dir():
            raise _missing(KLETTRES, base, "klettres")
        for kind in ("alpha", "syllab"):
            for f in sorted((base / kind).glob("*.ogg"), key=lambda p: p.name.lower()):
                text = klettres_text(f)
                if text:
                    items.append(EvalItem(f, text, f"klettres/{lang}/{kind}/{f.stem.lower()}"))
    if not items:
        raise _missing(KLETTRES, root / "en" / "alpha", "klettres")
    return items


def ktuberling_text(sound_name: str) -> str:
    """``pizzeria_olive`` -> "olive", ``moon_fallingstar`` -> "falling star" (scene prefix dropped)."""
    word = sound_name.rsplit("_", 1)[-1].lower()
    return normalize_text(KTUBERLING_FIXES.get(word, word))


def _load_ktuberling() -> list[EvalItem]:
    root = KTUBERLING.path()
    theme = root / "en.soundtheme"
    if not theme.is_file():
        raise _missing(KTUBERLING, theme, "ktuberling")
    items = []
    for sound in ET.parse(theme).getroot().iter("sound"):
        path = root / sound.get("file", "")
        if not path.is_file():
            raise _missing(KTUBERLING, path, "ktuberling")
        items.append(EvalItem(path, ktuberling_text(sound.get("name", "")), f"ktuberling/{path.stem}"))
    return sorted(items, key=lambda it: it.id)


def _load_alsa() -> list[EvalItem]:
    root = ALSA.path()
    files = sorted(p for p in root.glob("*.wav") if p.stem not in ALSA_NOT_SPEECH) if root.is_dir() else []
    if not files:
        raise _missing(ALSA, root / "Front_Center.wav", "alsa")
    return [EvalItem(p, normalize_text(p.stem.replace("_", " ")), f"alsa/{p.stem}") for p in files]


def asterisk_text(raw: str) -> str | None:
    """A ``core-sounds-en.txt`` transcript as spoken, or None for a prompt that is only a note.

    "[ascending tones]" -> None; "(1 second of silence)" -> None; "at [@]" -> "at";
    "press * to ..." -> "press star to ..."; "followed by #" -> "followed by pound"; digits are
    spelled by :func:`normalize_text`.
    """
    spoken = _NOTE.sub(" ", raw).replace("*", " star ").replace("#", " pound ")
    return normalize_text(spoken) or None


def parse_asterisk_transcripts(text: str) -> dict[str, str]:
    """``core-sounds-en.txt`` lines ``path: transcript`` -> {path: transcript}; ``;`` starts a comment."""
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip() and " " not in key.strip():
            out[key.strip()] = value.strip()
    return out


def _load_asterisk() -> list[EvalItem]:
    sounds, trans = ASTERISK.path(), ASTERISK_TEXT.path()
    if not trans.is_file():
        raise _missing(ASTERISK_TEXT, trans, "asterisk")
    if not sounds.is_dir():
        raise _missing(ASTERISK, sounds, "asterisk")
    opener = gzip.open if trans.suffix == ".gz" else open
    with opener(trans, "rt", encoding="utf-8") as fh:
        refs = parse_asterisk_transcripts(fh.read())
    items = []
    for key, raw in sorted(refs.items()):
        wav = sounds / f"{key}.wav"
        text = asterisk_text(raw)
        if text and wav.is_file():  # a few listed prompts are not recorded in this language pack
            items.append(EvalItem(wav, text, f"asterisk/{key}"))
    if not items:
        raise _missing(ASTERISK, sounds / "hello.wav", "asterisk")
    return items


def tuxpaint_text(desc: Path) -> str:
    """``.../hen_desc.ogg`` -> "hen", ``wildboar_desc.ogg`` -> "wild boar" (the stamp's name as spoken)."""
    name = desc.name[: -len("_desc.ogg")].lower()
    return normalize_text(TUXPAINT_FIXES.get(name, name))


def _load_tuxpaint() -> list[EvalItem]:
    root = TUXPAINT.path()
    descs = sorted(root.rglob("*_desc.ogg")) if root.is_dir() else []
    if not descs:
        raise _missing(TUXPAINT, root, "tuxpaint")
    return [EvalItem(ogg, tuxpaint_text(ogg), f"tuxpaint/{ogg.relative_to(root).as_posix()[: -len('_desc.ogg')]}")
            for ogg in descs]


# ------------------------------------------------------------------------------ pseudo labels


def read_pseudo_labels(path: Path | None = None) -> dict:
    """Committed Whisper labels: {"model", "command", "thresholds", "items": [...]}; ``.gz`` is read too."""
    path = path or PSEUDO_LABELS
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        return json.loads(raw.decode("utf-8"))
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the pseudo labels {path}: {exc}") from None


#: Whisper-labelled set -> the package root its audio comes from, and the committed labels file
_PSEUDO_ROOTS = {"hedgewars": HEDGEWARS, "warzone2100": WARZONE, **GAMES}
_LABEL_FILES = {"hedgewars": PSEUDO_LABELS, "warzone2100": PSEUDO_LABELS,
                **{game: GAME_LABELS for game in GAMES}}


#: game -> the reader of its voice containers
_GAME_READERS: dict[str, Callable[[Path], Iterator[gamespeech.Clip]]] = {
    "drascula": gamespeech.drascula_voice, "sky": gamespeech.sky_clips, "queen": gamespeech.queen_clips}


def _source_stamp(source: Path) -> dict:
    """What the cached clips were decoded from: path, and each file's size and mtime (dpkg keeps
    upstream dates, so a size or date change either way counts)."""
    files = [source] if source.is_file() else sorted(p for p in source.iterdir() if p.is_file())
    return {"source": str(source.resolve()),
            "files": [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]}


def game_clips(name: str) -> dict[str, Path]:
    """{clip name: wav} for every voice clip of game ``name`` (a key of :data:`GAMES`).

    The clips are decoded from the game's containers once, into ``<cache>/<name>/`` as wav at
    the game's own rate. The folder is built aside and swapped in whole, with an ``index.json``
    naming the clips and the source files' stamp; it is rebuilt when the stamp differs or a wav
    is missing.
    """
    root = GAMES[name]
    source = root.path()
    if not source.exists():
        raise _missing(root, source, name)
    folder = cache_dir() / name
    stamp = _source_stamp(source)
    try:
        cached = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        cached = None
    if not (isinstance(cached, dict) and cached.get("stamp") == stamp
            and all((folder / f"{n}.wav").is_file() for n in cached.get("clips", []))):
        with atomic_directory(folder) as tmp:
            names = []
            for clip in _GAME_READERS[name](source):
                _write_wav(tmp / f"{clip.name}.wav", clip.samples, clip.sample_rate)
                names.append(clip.name)
            if not names:
                raise InputError(f"no voice clips of {name} in {source}; is {root.env} set to the right folder?")
            cached = {"stamp": stamp, "clips": names}
            with atomic_write(tmp / "index.json") as fh:
                json.dump(cached, fh)
    return {n: folder / f"{n}.wav" for n in cached["clips"]}


def _pseudo_sources(name: str, rows: list[dict]) -> list[Path]:
    """Audio files of pseudo-labelled rows: package files, members of warzone2100's base.wz, or
    clips decoded from a game's containers."""
    root = _PSEUDO_ROOTS[name].path()
    if name == "warzone2100":
        return _archive_members(root, [r["file"] for r in rows], "warzone2100")
    if name in GAMES:
        clips = game_clips(name)
        missing = [r["file"] for r in rows if r["file"] not in clips]
        if missing:
            raise InputError(f"{name}: {len(missing)} labelled clips (first {missing[0]!r}) are not in "
                             f"{root}; is it another version of {GAMES[name].package}?")
        return [clips[r["file"]] for r in rows]
    paths = [root / row["file"] for row in rows]
    for path in paths:
        if not path.is_file():
            raise _missing(_PSEUDO_ROOTS[name], path, name)
    return paths


def _labelled_rows(name: str) -> list[dict]:
    """The label rows of pseudo-labelled set ``name``; InputError when its package is missing or
    the labels hold none of it. Cheap: no audio is touched."""
    root = _PSEUDO_ROOTS[name]
    if not root.path().exists():
        raise _missing(root, root.path(), name)
    labels = _LABEL_FILES[name]
    rows = [r for r in read_pseudo_labels(labels)["items"] if r["set"] == name]
    if not rows:
        raise InputError(f"{labels.name} holds no labels for {name!r}; run scripts/pseudo_label.py")
    return rows


def _load_pseudo(name: str) -> list[EvalItem]:
    rows = _labelled_rows(name)
    paths = _pseudo_sources(name, rows)
    script = EVAL_SETS[name].labels == "script"  # the text is the game's own line, not Whisper's guess
    return [EvalItem(p, normalize_text(r["text"]), r["id"], pseudo=not script) for p, r in zip(paths, rows)]


# ------------------------------------------------------------------------------ registry and splits

#: split -> (set, id prefix) parts; a set lies wholly in one split, or is cut by speaker (prefix)
SPLITS: dict[str, tuple[tuple[str, str], ...]] = {
    "real-dev": (("asterisk", ""), ("klettres", "klettres/en/"), ("pocketsphinx-raw", "")),
    "real-test": (("librivox", ""), ("cards", ""), ("klettres", "klettres/en_GB/"), ("ktuberling", ""),
                  ("alsa", "")),
}


def _load_split(name: str) -> list[EvalItem]:
    items = []
    for set_name, prefix in SPLITS[name]:
        items.extend(it for it in load_eval_set(set_name) if it.id.startswith(prefix))
    return items


def _split_info(name: str, description: str) -> EvalSetInfo:
    packages = dict.fromkeys(p for s, _ in SPLITS[name] for p in EVAL_SETS[s].package.split(", "))
    return EvalSetInfo(", ".join(packages), description, "true", lambda: _load_split(name))


EVAL_SETS: dict[str, EvalSetInfo] = {
    "librivox": EvalSetInfo(POCKETSPHINX.package, "5 LibriVox read sentences, one speaker, 16 kHz", "true",
                            lambda: _load_sphinx("librivox", "librivox", "transcription")),
    "cards": EvalSetInfo(POCKETSPHINX.package, "5 playing-card utterances, 16 kHz", "true",
                         lambda: _load_sphinx("cards", "cards", "cards.transcription")),
    "klettres": EvalSetInfo(KLETTRES.package, "91 isolated English letters and short words, en + en_GB, 44.1 kHz",
                            "true", _load_klettres),
    "pocketsphinx-raw": EvalSetInfo(POCKETSPHINX.package, "2 raw 16 kHz test recordings with stated words",
                                    "true", _load_pocketsphinx_raw),
    "ktuberling": EvalSetInfo(KTUBERLING.package, "71 spoken sticker names, one voice, 44.1 kHz", "true",
                              _load_ktuberling),
    "alsa": EvalSetInfo(ALSA.package, "8 speaker-test channel names, 48 kHz", "true", _load_alsa),
    "asterisk": EvalSetInfo(f"{ASTERISK_TEXT.package}, {ASTERISK.package}",
                            "Asterisk PBX prompts, one voice, 8 kHz telephone speech", "true", _load_asterisk),
    "tuxpaint": EvalSetInfo(TUXPAINT.package, "66 spoken Tux Paint stamp names, 44.1 kHz (optional package)",
                            "true", _load_tuxpaint),
    "hedgewars": EvalSetInfo(HEDGEWARS.package, "game voice lines, Whisper base labels (optional package)",
                             "pseudo", lambda: _load_pseudo("hedgewars")),
    "warzone2100": EvalSetInfo(WARZONE.package, "game voice lines, Whisper base labels (optional package)",
                               "pseudo", lambda: _load_pseudo("warzone2100")),
    "drascula": EvalSetInfo(DRASCULA.package, "adventure-game voice lines (~8 actors), script text kept where "
                            "Whisper base agrees, 11 kHz (optional package)", "script",
                            lambda: _load_pseudo("drascula")),
    "sky": EvalSetInfo(SKY.package, "Beneath a Steel Sky voice lines (many actors), Whisper base labels, 11 kHz "
                       "(optional package)", "pseudo", lambda: _load_pseudo("sky")),
    "queen": EvalSetInfo(QUEEN.package, "Flight of the Amazon Queen voice lines (many actors, MP3), Whisper base "
                         "labels, 11 kHz (optional package)", "pseudo", lambda: _load_pseudo("queen")),
}
EVAL_SETS["real-dev"] = _split_info("real-dev", "checkpoint choice: asterisk + klettres en + pocketsphinx-raw")
EVAL_SETS["real-test"] = _split_info("real-test", "reporting only: librivox + cards + klettres en_GB + ktuberling "
                                                  "+ alsa")


def available_eval_sets() -> list[str]:
    """Names of the evaluation sets whose Debian packages are installed here. A game set is
    checked by its package files and labels only: loading it decodes every clip (minutes)."""
    out = []
    for name in EVAL_SETS:
        try:
            if name in GAMES:
                _labelled_rows(name)
            else:
                load_eval_set(name)
        except InputError:
            continue
        out.append(name)
    return out


def load_eval_set(name: str) -> list[EvalItem]:
    """Items of evaluation set ``name`` (see :data:`EVAL_SETS`), in a fixed order.

    Raises InputError for an unknown name, or naming the Debian package when its files are missing.
    """
    if name not in EVAL_SETS:
        raise InputError(f"unknown evaluation set {name!r}; choose from {', '.join(EVAL_SETS)}")
    return EVAL_SETS[name].load()


# ------------------------------------------------------------------------------ manifest export


def write_manifest(name: str, path: str | os.PathLike, audio_dir: str | os.PathLike | None = None) -> int:
    """Export set ``name`` as a JSONL manifest for training code; returns the number of rows.

    Each item's audio is written as 16 kHz mono 16-bit wav (resampled with soxr) into
    ``audio_dir`` (default ``<manifest stem>-wav/`` beside the manifest) and each row holds
    ``audio_filepath`` (relative to the manifest's folder, as :func:`memasr.data.manifest.read_manifest`
    resolves it), ``duration``, ``text``, ``id`` and ``pseudo``. Each wav carries its source audio
    file's mtime; an existing wav is reused only while the two still match (:func:`_is_stale`).
    """
    from memasr.data.audio import load_audio
    from memasr.data.manifest import write_manifest as write_jsonl

    items = load_eval_set(name)
    out = Path(path)
    folder = Path(audio_dir) if audio_dir is not None else out.with_name(out.stem + "-wav")
    rows = []
    for it in items:
        wav = folder / f"{it.id}.wav"
        if not _is_stale(wav, it.path):
            duration = sf.info(str(wav)).frames / SAMPLE_RATE
        else:
            x, _ = load_audio(it.path, SAMPLE_RATE)
            _write_wav(wav, x, SAMPLE_RATE, source=it.path)
            duration = len(x) / SAMPLE_RATE
        rows.append({"audio_filepath": os.path.relpath(wav.resolve(), out.parent.resolve()),
                     "duration": round(duration, 4), "text": it.text, "id": it.id, "pseudo": it.pseudo})
    return write_jsonl(out, rows)
