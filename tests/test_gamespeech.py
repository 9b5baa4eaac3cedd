"""Readers of the ScummVM games' voice containers, on small files built here in each format."""
from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from memasr.data import evalsets, gamespeech
from memasr.errors import InputError


def text_block(lines: list[str]) -> bytes:
    """One language block as drascula.dat stores it: string 0 ("") at byte 0, the u16 at byte 2
    puts string 1 four bytes on, and every later distance is the u16 just before a string."""
    slots = []
    for line in lines[1:]:
        raw = line.encode("latin-1") + b"\0"
        slots.append(raw + b"\0" * (-(len(raw) + 2) % 8))  # padded as the real file is
    sizes = [len(raw) + 2 for raw in slots] + [0]
    data = bytearray(b"\0\0" + struct.pack(">H", 4) + b"\0\0" + struct.pack(">H", sizes[0]))
    for raw, following in zip(slots, sizes[1:]):
        data += raw + struct.pack(">H", following)
    return bytes(data)


def drascula_dat(tables: list[list[list[str]]]) -> bytes:
    """A drascula.dat: signature, unrelated header bytes, then the text tables to the end."""
    out = bytearray(b"DRASCULA\x06" + bytes(range(40)))
    langs = len(tables[0])
    out += struct.pack(">H", langs)
    for table in tables:
        out += struct.pack(">H", len(table[0]))
        for lines in table:
            block = text_block(lines)
            out += struct.pack(">H", len(block)) + block
    return bytes(out)


def test_drascula_script_reads_each_speaker_table_and_language(tmp_path: Path) -> None:
    tables = [[["", f"LINE ONE OF {t}", f"SECOND LINE, {t}!"], ["", f"UNO {t}", f"DOS {t}"]]
              for t in range(gamespeech.DRASCULA_TABLES)]
    dat = tmp_path / "drascula.dat"
    dat.write_bytes(drascula_dat(tables))
    english = gamespeech.drascula_script(dat)
    assert english[""] == ["", "LINE ONE OF 0", "SECOND LINE, 0!"]
    assert english["VB"] == ["", "LINE ONE OF 9", "SECOND LINE, 9!"]
    assert gamespeech.drascula_script(dat, language=1)["D"][2] == "DOS 1"
    with pytest.raises(InputError, match="languages"):
        gamespeech.drascula_script(dat, language=2)
    dat.write_bytes(drascula_dat(tables)[:-3])  # truncated: the tables no longer end at the end
    with pytest.raises(InputError, match="truncated"):
        gamespeech.drascula_script(dat)
    dat.write_bytes(b"NOTDRASC" + bytes(100))
    with pytest.raises(InputError, match="signature"):
        gamespeech.drascula_script(dat)


def test_drascula_voice_names_lines_and_skips_effects(tmp_path: Path) -> None:
    for name in ("1.ALS", "VB10.ALS", "S3.ALS", "F2.ALS", "12.ALD"):
        (tmp_path / name).write_bytes(bytes([128, 255, 0, 128]))
    clips = list(gamespeech.drascula_voice(tmp_path))
    assert [c.name for c in clips] == ["1", "VB10"]
    assert clips[0].sample_rate == 11025
    np.testing.assert_allclose(clips[0].samples, [0.0, 127 / 128, -1.0, 0.0])


def test_sky_reads_index_and_unpacks_rnc(tmp_path: Path) -> None:
    from propack import pack

    pcm = (128 + 100 * np.sin(np.arange(4000) / 5)).astype(np.uint8).tobytes()
    # file -> (data, flag bits above the size): 59600 is an intro screen (flag "no header")
    files = {50001: (bytes(22) + pack(pcm, method=1), 0), 50002: (bytes(22) + pcm[:1000], 0),
             40000: (b"not speech", 0), 59600: (bytes(64000), 1 << 22), 50003: (bytes(22) + pcm[:500], 0)}
    dsk, entries = bytearray(), []
    for number, (data, flags) in files.items():
        offset = len(dsk)
        if number == 50003:  # stored in 16-byte units, as large offsets are
            dsk += bytes(-len(dsk) % 16)
            offset = len(dsk) >> 4 | 0x800000
        entries.append(struct.pack("<HHBHB", number, offset & 0xFFFF, offset >> 16, len(data) & 0xFFFF,
                                   (len(data) | flags) >> 16))
        dsk += data
    (tmp_path / "sky.dnr").write_bytes(struct.pack("<I", len(entries)) + b"".join(entries))
    (tmp_path / "sky.dsk").write_bytes(bytes(dsk))
    clips = list(gamespeech.sky_clips(tmp_path))
    assert [c.name for c in clips] == ["50001", "50002", "50003"]
    np.testing.assert_array_equal(clips[0].samples, gamespeech.unsigned8(pcm))
    assert len(clips[1].samples) == 1000
    np.testing.assert_array_equal(clips[2].samples, gamespeech.unsigned8(pcm[:500]))
    (tmp_path / "sky.dsk").write_bytes(bytes(dsk[:30]))
    with pytest.raises(InputError, match="truncated"):
        list(gamespeech.sky_clips(tmp_path))


def test_queen_table_decodes_mp3_speech_only(tmp_path: Path) -> None:
    buf = io.BytesIO()
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(11025) / 11025)
    sf.write(buf, tone, 11025, format="MP3")
    mp3 = buf.getvalue()
    names = [b"020001P2.SB", b"ROOM1.DOG"]
    header = b"QTBL" + b"CEM10\0\0\0" + b"\x01" + struct.pack(">H", len(names))  # version, MP3, count
    start = len(header) + 21 * len(names)
    table, body = b"", b""
    for name, data in zip(names, (mp3, b"dialogue text")):
        table += name.ljust(12, b"\0") + b"\x01" + struct.pack(">II", start + len(body), len(data))
        body += data
    image = tmp_path / "queen.1c"
    image.write_bytes(header + table + body)
    clips = list(gamespeech.queen_clips(image))
    assert [c.name for c in clips] == ["020001P2"]
    assert clips[0].sample_rate == 11025 and abs(len(clips[0].samples) - 11025) < 2000
    image.write_bytes(b"XXXX" + bytes(40))
    with pytest.raises(InputError, match="not the expected"):
        list(gamespeech.queen_clips(image))
    bad = header + b"../EVIL.SB".ljust(12, b"\0") + b"\x01" + struct.pack(">II", start, len(mp3))
    image.write_bytes(bad + b"\0" * 21 + mp3)
    with pytest.raises(InputError, match="unexpected clip name"):  # names become cache file names
        list(gamespeech.queen_clips(image))


def test_game_clips_cached_and_rebuilt_when_the_source_changes(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    voices = tmp_path / "en"
    voices.mkdir()
    (voices / "1.ALS").write_bytes(bytes([128] * 500))
    monkeypatch.setenv(evalsets.DRASCULA.env, str(voices))
    monkeypatch.setenv(evalsets.CACHE_ENV, str(tmp_path / "cache"))
    clips = evalsets.game_clips("drascula")
    assert list(clips) == ["1"] and sf.info(str(clips["1"])).samplerate == 11025
    mtime = clips["1"].stat().st_mtime_ns
    assert evalsets.game_clips("drascula")["1"].stat().st_mtime_ns == mtime  # cached: not decoded again
    (voices / "1.ALS").write_bytes(bytes([128] * 900))  # another package version
    (voices / "D2.ALS").write_bytes(bytes([128] * 300))
    clips = evalsets.game_clips("drascula")
    assert list(clips) == ["1", "D2"] and sf.info(str(clips["1"])).frames == 900
    clips["D2"].unlink()  # a wav lost from the cache
    assert evalsets.game_clips("drascula")["D2"].is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(evalsets.DRASCULA.env, str(empty))
    with pytest.raises(InputError, match="no voice clips"):
        evalsets.game_clips("drascula")
    assert (tmp_path / "cache" / "drascula" / "D2.wav").is_file()  # a failed rebuild leaves the cache as it was
    monkeypatch.setenv(evalsets.DRASCULA.env, str(tmp_path / "absent"))
    with pytest.raises(InputError, match="apt-get install drascula"):
        evalsets.game_clips("drascula")
