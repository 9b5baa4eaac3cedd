"""Readers for the acted English speech of three freeware adventure games in Debian main.

Debian ships these games' data for ScummVM (packages ``drascula``, ``beneath-a-steel-sky``,
``flight-of-the-amazon-queen``; each freeware with a BSD-like licence that allows
redistribution). Their voice clips are hours of real human speech from a dozen or so actors,
the largest body of real English speech an offline Debian machine has. This module only reads
the containers; :mod:`memasr.data.evalsets` turns the clips into labelled sets.

``drascula`` (``/usr/share/scummvm/drascula/en/*.ALS``)
    Headerless 8-bit unsigned PCM at 11,025 Hz, one file per line. ``<P><n>.ALS`` is line
    ``n`` of the speaker table ``P`` (:data:`DRASCULA_SPEAKERS`); ``S*.ALS`` are sound
    effects. The English script is in ScummVM's ``drascula.dat`` (package ``scummvm-data``):
    15 text tables, each ``u16 count`` then per language ``u16 length`` + a block whose strings
    start at byte 4 and each sit after a big-endian u16 that says how far the next one is.
``beneath-a-steel-sky`` (``sky.dnr`` + ``sky.dsk``)
    ``sky.dnr`` is ``u32 count`` then 8-byte entries: u16 file number, u24 offset (bit 23 set:
    shift the other bits left by 4), u24 flags whose low 22 bits are the size; flag bit 22 marks
    a file without header, bit 23 an uncompressed one. Speech files are numbers 50000-59999 with
    neither bit (the intro's screens and palettes, 59501-59662, have one): a 22-byte header,
    then (mostly) RNC ProPack data (unpacked with the ``propack`` package) that holds 8-bit
    unsigned PCM at 11,025 Hz.
``flight-of-the-amazon-queen`` (``queen.1c``)
    ``QTBL``, a version string (``CEM10``), the compression at byte 12 (1: MP3), a u16
    big-endian entry count at byte 13, then 21-byte entries (name[12], bundle u8, offset u32 BE,
    size u32 BE). ``*.SB`` entries are the speech clips, MP3 at 11,025 Hz that libsndfile decodes.
"""
from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from memasr.errors import InputError

GAME_RATE = 11025

#: ALS file prefix -> position of its speaker table in drascula.dat ("" is the hero)
DRASCULA_SPEAKERS = {"": 0, "D": 1, "B": 2, "BJ": 3, "E": 4, "I": 5, "L": 6, "P": 7, "T": 8, "VB": 9}
DRASCULA_TABLES = 15  # text tables at the end of drascula.dat (speakers, system, verbs, ...)
DRASCULA_ALIGN = 4  # the first string of a block starts here
SKY_SPEECH = range(50000, 60000)
SKY_HEADER = 22  # bytes of the data-file header before the (packed) samples
SKY_NOT_SPEECH = 3 << 22  # flag bits "no header" / "not compressed": pictures and palettes
_RNC = b"RNC"
_NAME = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True)
class Clip:
    """One voice clip: a stable name, mono float32 samples in [-1, 1], and their rate."""

    name: str
    samples: np.ndarray
    sample_rate: int = GAME_RATE

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):  # the name becomes a file name in the cache
            raise InputError(f"unexpected clip name {self.name!r} in the game data")


def unsigned8(data: bytes) -> np.ndarray:
    """8-bit unsigned PCM (128 = silence) as float32 in [-1, 1)."""
    return (np.frombuffer(data, np.uint8).astype(np.float32) - 128.0) / 128.0


def _truncated(path: Path) -> InputError:
    return InputError(f"{path} is truncated or not the expected game data file")


# ------------------------------------------------------------------------------ drascula


def parse_text_block(block: bytes, count: int) -> list[str]:
    """The ``count`` strings of one language block of drascula.dat (see the module doc).

    String 0 starts the block; string ``i`` starts ``2 + u16`` bytes after the u16 that sits
    two bytes before string ``i - 1`` (the first such u16 is at byte 2).
    """
    def at(pos: int) -> str:
        end = block.find(b"\0", pos)
        return block[pos:end if end >= 0 else len(block)].decode("latin-1")

    out, pos = [at(0)], DRASCULA_ALIGN
    for _ in range(1, count):
        pos -= 2
        pos += 2 + struct.unpack_from(">H", block, pos)[0]
        if pos > len(block):
            raise ValueError("string offsets run past the block")
        out.append(at(pos))
    return out


def _parse_tables(data: bytes, at: int) -> list[list[list[str]]] | None:
    """All text tables from offset ``at`` (the language count), or None where they do not
    parse to exactly the end of the file: the check that ``at`` is the right place."""
    try:
        langs = struct.unpack_from(">H", data, at)[0]
        if not 1 <= langs <= 16:
            return None
        pos, tables = at + 2, []
        for _ in range(DRASCULA_TABLES):
            count = struct.unpack_from(">H", data, pos)[0]
            pos += 2
            table = []
            for _ in range(langs):
                length = struct.unpack_from(">H", data, pos)[0]
                block = data[pos + 2:pos + 2 + length]
                if len(block) != length:
                    return None
                table.append(block)
                pos += 2 + length
            tables.append((count, table))
        if pos != len(data):
            return None
        return [[parse_text_block(block, count) for block in table] for count, table in tables]
    except (struct.error, ValueError):
        return None


def drascula_script(dat: Path, language: int = 0) -> dict[str, list[str]]:
    """{ALS prefix: lines} of one language (0 = English) from ScummVM's drascula.dat.

    The text tables close the file; their start is found as the one offset from which they
    parse to exactly the end of the file.
    """
    try:
        data = dat.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {dat}: {exc}") from None
    if not data.startswith(b"DRASCULA"):
        raise InputError(f"{dat} is not ScummVM's drascula.dat (no DRASCULA signature)")
    for at in range(len(data) - 2, 8, -1):
        if data[at] == 0 and 0 < data[at + 1] <= 16:
            tables = _parse_tables(data, at)
            if tables is not None:
                if language >= len(tables[0]):
                    raise InputError(f"{dat} has {len(tables[0])} languages, not {language + 1}")
                return {prefix: tables[i][language] for prefix, i in DRASCULA_SPEAKERS.items()}
    raise _truncated(dat)


def drascula_clips(folder: Path) -> Iterator[tuple[str, int, Path]]:
    """(speaker prefix, line number, file) for each voice line in ``folder`` (the ``en/`` folder),
    in a fixed order; sound effects and files of unknown speakers are skipped."""
    for path in sorted(folder.glob("*.ALS")):
        stem = path.stem.upper()
        prefix = stem.rstrip("0123456789")
        number = stem[len(prefix):]
        if prefix in DRASCULA_SPEAKERS and number:
            yield prefix, int(number), path


def drascula_voice(folder: Path) -> Iterator[Clip]:
    """Every voice line in drascula's ``en/`` folder, named by its file stem (``VB10``)."""
    for prefix, number, path in drascula_clips(folder):
        try:
            yield Clip(f"{prefix}{number}", unsigned8(path.read_bytes()))
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc}") from None


# ------------------------------------------------------------------------------ beneath a steel sky


def read_sky_index(dnr: Path) -> dict[int, tuple[int, int, int]]:
    """{file number: (offset in sky.dsk, size, flags)} from sky.dnr."""
    try:
        data = dnr.read_bytes()
        count = struct.unpack_from("<I", data)[0]
        out = {}
        for i in range(count):
            number, off_lo, off_hi, flags_lo, flags_hi = struct.unpack_from("<HHBHB", data, 4 + 8 * i)
            offset = off_lo | off_hi << 16
            if offset & 0x800000:  # stored in 16-byte units
                offset = (offset & 0x7FFFFF) << 4
            flags = flags_lo | flags_hi << 16
            out[number] = (offset, flags & 0x3FFFFF, flags)
        return out
    except OSError as exc:
        raise InputError(f"cannot read {dnr}: {exc}") from None
    except struct.error:
        raise _truncated(dnr) from None


def sky_samples(raw: bytes) -> np.ndarray:
    """Samples of one speech file as stored in sky.dsk: header, then RNC-packed or plain PCM."""
    body = raw[SKY_HEADER:]
    if body.startswith(_RNC):
        from propack import unpack

        body = unpack(body)
    return unsigned8(body)


def sky_clips(folder: Path) -> Iterator[Clip]:
    """Every speech file (numbers 50000-59999, header and compression flags clear) of
    beneath-a-steel-sky in ``folder``."""
    index = read_sky_index(folder / "sky.dnr")
    dsk = folder / "sky.dsk"
    try:
        with dsk.open("rb") as fh:
            for number in sorted(n for n in index if n in SKY_SPEECH and not index[n][2] & SKY_NOT_SPEECH):
                offset, size, _ = index[number]
                fh.seek(offset)
                raw = fh.read(size)
                if len(raw) != size:
                    raise _truncated(dsk)
                try:
                    samples = sky_samples(raw)
                except Exception as exc:  # a damaged packed file: name it, do not crash deep in propack
                    raise InputError(f"{dsk}: speech file {number} does not unpack ({exc})") from None
                yield Clip(str(number), samples)
    except OSError as exc:
        raise InputError(f"cannot read {dsk}: {exc}") from None


# ------------------------------------------------------------------------------ flight of the amazon queen


def read_queen_table(data: bytes) -> list[tuple[str, int, int]]:
    """(name, offset, size) of every entry of a QTBL-indexed queen.1c image."""
    if not data.startswith(b"QTBL"):
        raise ValueError("no QTBL signature")
    count = struct.unpack_from(">H", data, 13)[0]
    out = []
    for i in range(count):
        name, _bundle, offset, size = struct.unpack_from(">12sBII", data, 15 + 21 * i)
        out.append((name.rstrip(b"\0").decode("latin-1"), offset, size))
    return out


def queen_clips(path: Path) -> Iterator[Clip]:
    """Every ``.SB`` speech clip of flight-of-the-amazon-queen's ``queen.1c``, decoded."""
    try:
        data = path.read_bytes()
        entries = read_queen_table(data)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    except (ValueError, struct.error):
        raise _truncated(path) from None
    for name, offset, size in sorted(entries):
        if not name.upper().endswith(".SB"):
            continue
        if offset + size > len(data):
            raise _truncated(path)
        try:
            samples, rate = sf.read(io.BytesIO(data[offset:offset + size]), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise InputError(f"{path}: clip {name} does not decode ({exc})") from None
        yield Clip(name[:-3], samples.mean(axis=1), rate)
