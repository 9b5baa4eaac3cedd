"""JSONL manifests, corpus importers and the `memasr prepare` subcommand."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import soundfile as sf

from memasr.cli import main
from memasr.data.manifest import (
    prepare_lhotse,
    prepare_librispeech,
    prepare_list,
    prepare_mix,
    read_manifest,
    write_manifest,
)
from memasr.errors import InputError


def _tone(path, seconds: float, sr: int = 16000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sr * seconds)) / sr
    sf.write(path, (0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), sr)


def test_round_trip_keeps_extra_keys(tmp_path):
    entries = [
        {"audio_filepath": str(tmp_path / "a.wav"), "duration": 1.25, "text": "hello there",
         "voice": "en-us+f3", "engine": "espeak-ng"},
        {"audio_filepath": str(tmp_path / "b.flac"), "duration": 0, "text": "caf\u00e9 na\u00efve"},
    ]
    out = tmp_path / "sub" / "m.jsonl"
    assert write_manifest(out, iter(entries)) == 2
    assert read_manifest(out) == entries
    assert "caf\u00e9" in out.read_text(encoding="utf-8")  # utf-8, not \u escapes
    assert [p.name for p in out.parent.iterdir()] == ["m.jsonl"]  # no temp file left


def test_relative_paths_resolved_against_manifest(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"audio_filepath": "wav/x.wav", "duration": 1, "text": "x"}\n\n')
    [entry] = read_manifest(tmp_path / "m.jsonl")
    assert entry["audio_filepath"] == str(tmp_path / "wav" / "x.wav")
    [raw] = read_manifest(tmp_path / "m.jsonl", resolve_paths=False)
    assert raw["audio_filepath"] == "wav/x.wav"


@pytest.mark.parametrize("bad_line,fragment", [
    ('{"audio_filepath": "a.wav", "duration": 1, "text": ', "malformed JSON"),
    ('["a.wav", 1, "x"]', "JSON object"),
    ('{"audio_filepath": "a.wav", "text": "x"}', "duration"),
    ('{"audio_filepath": "a.wav", "duration": "long", "text": "x"}', "duration"),
    ('{"audio_filepath": "", "duration": 1, "text": "x"}', "audio_filepath"),
])
def test_malformed_line_reports_line_number(tmp_path, bad_line, fragment):
    good = json.dumps({"audio_filepath": "/a.wav", "duration": 1.0, "text": "ok"})
    path = tmp_path / "m.jsonl"
    path.write_text(f"{good}\n\n{bad_line}\n{good}\n")
    with pytest.raises(InputError, match=fragment) as info:
        read_manifest(path)
    assert "m.jsonl:3" in str(info.value)


def test_write_rejects_bad_entry_and_keeps_old_file(tmp_path):
    out = tmp_path / "m.jsonl"
    write_manifest(out, [{"audio_filepath": "/a.wav", "duration": 1.0, "text": "old"}])
    with pytest.raises(InputError):
        write_manifest(out, [{"audio_filepath": "/b.wav", "duration": 1.0, "text": "new"}, {"text": "x"}])
    assert read_manifest(out)[0]["text"] == "old"
    assert len(list(tmp_path.iterdir())) == 1


def test_read_missing_manifest(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_manifest(tmp_path / "nope.jsonl")


def _librispeech_tree(root):
    chapters = {("19", "198"): {"19-198-0000": ("NORTHANGER ABBEY", 0.5), "19-198-0001": ("THIS LITTLE WORK", 0.25)},
                ("26", "495"): {"26-495-0000": ("IT WAS A DARK NIGHT", 0.75)}}
    for (spk, chap), utts in chapters.items():
        d = root / "train-clean-5" / spk / chap
        d.mkdir(parents=True)
        lines = []
        for utt, (text, secs) in utts.items():
            _tone(d / f"{utt}.flac", secs)
            lines.append(f"{utt} {text}")
        (d / f"{spk}-{chap}.trans.txt").write_text("\n".join(lines) + "\n")
    return root / "train-clean-5"


def test_prepare_librispeech(tmp_path):
    subset = _librispeech_tree(tmp_path / "LibriSpeech")
    for root in (subset, tmp_path / "LibriSpeech"):  # subset dir or the directory above it
        entries = prepare_librispeech(root)
        assert [e["text"] for e in entries] == ["NORTHANGER ABBEY", "THIS LITTLE WORK", "IT WAS A DARK NIGHT"]
        assert [e["duration"] for e in entries] == [0.5, 0.25, 0.75]
        assert entries[0]["audio_filepath"].endswith("train-clean-5/19/198/19-198-0000.flac")


def test_prepare_librispeech_missing_audio(tmp_path):
    subset = _librispeech_tree(tmp_path)
    (subset / "26" / "495" / "26-495-0000.flac").unlink()
    with pytest.raises(InputError, match="26-495-0000.flac"):
        prepare_librispeech(subset)
    problems: list[str] = []
    assert len(prepare_librispeech(subset, problems=problems)) == 2
    assert len(problems) == 1 and "not found" in problems[0]
    (tmp_path / "no_transcripts").mkdir()
    with pytest.raises(InputError, match="no \\*.trans.txt"):
        prepare_librispeech(tmp_path / "no_transcripts")
    with pytest.raises(InputError):
        prepare_librispeech(tmp_path / "nope")


def _list_corpus(tmp_path):
    _tone(tmp_path / "audio" / "one.wav", 0.5)
    _tone(tmp_path / "elsewhere" / "two.flac", 1.0, sr=8000)
    listing = tmp_path / "lists" / "train.tsv"
    listing.parent.mkdir()
    listing.write_text(
        "# comment\n"
        "../audio/one.wav\tHello world\n"
        "\n"
        f"{tmp_path / 'elsewhere' / 'two.flac'}\tsecond  line's text\n"
    )
    return listing


def test_prepare_list(tmp_path):
    entries = prepare_list(_list_corpus(tmp_path))
    assert entries == [
        {"audio_filepath": str(tmp_path / "audio" / "one.wav"), "duration": 0.5, "text": "Hello world"},
        {"audio_filepath": str(tmp_path / "elsewhere" / "two.flac"), "duration": 1.0, "text": "second  line's text"},
    ]


def test_prepare_list_bad_lines(tmp_path):
    listing = tmp_path / "l.tsv"
    listing.write_text("no tab here\n")
    with pytest.raises(InputError, match="l.tsv:1"):
        prepare_list(listing)
    (tmp_path / "junk.wav").write_bytes(b"junk" * 20)
    listing.write_text("junk.wav\ttext\n")
    with pytest.raises(InputError, match="cannot read"):
        prepare_list(listing)
    with pytest.raises(InputError, match="not found"):
        prepare_list(tmp_path / "missing.tsv")


def test_prepare_lhotse_without_lhotse(tmp_path, monkeypatch):
    cuts = tmp_path / "cuts.jsonl"
    cuts.write_text("{}\n")
    monkeypatch.setitem(sys.modules, "lhotse", None)  # import lhotse -> ImportError
    with pytest.raises(InputError, match=r"lhotse is not installed \(pip install lhotse urllib3\)"):
        prepare_lhotse(cuts)


def test_cli_prepare_list(tmp_path, capsys):
    listing = _list_corpus(tmp_path)
    out = tmp_path / "m.jsonl"
    assert main(["prepare", "list", str(listing), "--out", str(out)]) == 0
    assert "wrote 2 entries" in capsys.readouterr().out
    assert [e["duration"] for e in read_manifest(out)] == [0.5, 1.0]

    assert main(["prepare", "list", str(listing), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["entries"] == 2 and summary["skipped"] == 0


def test_cli_prepare_errors(tmp_path, capsys):
    out = tmp_path / "m.jsonl"
    assert main(["prepare", "list", str(tmp_path / "missing.tsv"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not found" in err
    assert not out.exists()

    # a bad item is reported and skipped; the rest is written; exit status says so
    listing = _list_corpus(tmp_path)
    with listing.open("a") as f:
        f.write("gone.wav\tmissing audio\n")
    assert main(["prepare", "list", str(listing), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "gone.wav" in err and len(read_manifest(out)) == 2

    subset = _librispeech_tree(tmp_path / "ls")
    assert main(["prepare", "librispeech", str(subset), "--out", str(out)]) == 0
    assert len(read_manifest(out)) == 3


def test_prepare_mix_repeats_and_absolutizes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "m.jsonl").write_text('{"audio_filepath": "w/1.wav", "duration": 1, "text": "one"}\n')
    write_manifest(tmp_path / "b.jsonl", [{"audio_filepath": "/x/2.wav", "duration": 2.0, "text": "two"},
                                          {"audio_filepath": "/x/3.wav", "duration": 3.0, "text": "three"}])
    entries = prepare_mix([str(tmp_path / "a" / "m.jsonl"), f"{tmp_path / 'b.jsonl'}:2"])
    assert [e["text"] for e in entries] == ["one", "two", "three", "two", "three"]
    assert entries[0]["audio_filepath"] == str(tmp_path / "a" / "w" / "1.wav")
    with pytest.raises(InputError, match="at least 1"):
        prepare_mix([f"{tmp_path / 'b.jsonl'}:0"])


def test_cli_prepare_mix_and_path_count(tmp_path, capsys):
    write_manifest(tmp_path / "b.jsonl", [{"audio_filepath": "/x/2.wav", "duration": 2.0, "text": "two"}])
    out = tmp_path / "mix.jsonl"
    assert main(["prepare", "mix", str(tmp_path / "b.jsonl"), f"{tmp_path / 'b.jsonl'}:3", "--out", str(out)]) == 0
    assert len(read_manifest(out)) == 4
    assert "wrote 4 entries" in capsys.readouterr().out
    assert main(["prepare", "list", "a.tsv", "b.tsv", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "takes one path" in err and "Traceback" not in err
