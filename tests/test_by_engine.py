"""docs/results/reference_pair/by_engine.py: per-engine WER from `memasr eval --details` rows."""
from __future__ import annotations

import json
from pathlib import Path

from tests.scripts import load_script


def _load():
    return load_script("docs/results/reference_pair/by_engine.py")


def _write(tmp_path: Path) -> tuple[Path, Path]:
    manifest = tmp_path / "test.jsonl"
    manifest.write_text("\n".join(json.dumps(e) for e in [
        {"audio_filepath": "wavs/a.wav", "text": "one two three four", "engine": "flite", "voice": "rms", "duration": 2.0},
        {"audio_filepath": "wavs/b.wav", "text": "five six", "engine": "festival", "voice": "ked", "duration": 1.0},
    ]) + "\n")
    details = tmp_path / "d.jsonl"
    details.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "ref": "one two three four", "hyp": "one two", "substitutions": 0, "deletions": 2, "insertions": 0},
        {"id": "b", "ref": "five six", "hyp": "five sex seven", "substitutions": 1, "deletions": 0, "insertions": 1},
    ]) + "\n")
    return manifest, details


def test_groups_word_errors_by_engine_and_overall(tmp_path, capsys):
    manifest, details = _write(tmp_path)
    assert _load().main([str(manifest), f"run={details}"]) == 0
    rows = {line.split("|")[1].strip(): line.split("|")[2:4] for line in capsys.readouterr().out.splitlines()[2:]}
    assert [c.strip() for c in rows["all"]] == ["6", "66.7"]  # 4 errors / 6 words
    assert [c.strip() for c in rows["flite"]] == ["4", "50.0"]
    assert [c.strip() for c in rows["festival"]] == ["2", "100.0"]


def test_missing_details_file_is_one_error_line(tmp_path, capsys):
    manifest, _ = _write(tmp_path)
    assert _load().main([str(manifest), f"run={tmp_path / 'absent.jsonl'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: FileNotFoundError")
