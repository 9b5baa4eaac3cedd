"""benchmarks/fit_gap.py: WER on training clips beside dev and held-out clips, same clips per model."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "src/memasr/examples"
DEFAULT_MODEL = ROOT / "src/memasr/pretrained/default"


def _load():
    return load_script("benchmarks/fit_gap.py")


def _manifest(path: Path, wavs: list[Path]) -> Path:
    # the examples' transcripts are their file names
    path.write_text("".join(json.dumps({"audio_filepath": str(w), "duration": sf.info(str(w)).duration,
                                        "text": w.stem.split("-", 1)[1].replace("-", " ")}) + "\n" for w in wavs))
    return path


def test_sample_is_seeded_and_capped(tmp_path):
    fit_gap = _load()
    wavs = sorted(EXAMPLES.glob("*.wav"))
    manifest = _manifest(tmp_path / "m.jsonl", wavs)
    a = fit_gap.sample_items(str(manifest), 2, seed=3)
    assert [i.id for i in a] == [i.id for i in fit_gap.sample_items(str(manifest), 2, seed=3)]
    assert len(a) == 2 and len({i.id for i in a}) == 2
    assert len(fit_gap.sample_items(str(manifest), 50, seed=3)) == len(wavs)  # fewer clips than asked: all


def test_same_clips_everywhere_give_zero_gaps(tmp_path, capsys):
    fit_gap = _load()
    manifest = _manifest(tmp_path / "m.jsonl", [next(EXAMPLES.glob("synthetic-*.wav"))])
    out = tmp_path / "gap.md"
    assert fit_gap.main(["--model", f"default={DEFAULT_MODEL}", "--train", str(manifest), "--dev", str(manifest),
                         "--test", str(manifest), "--clips", "1", "--threads", "2", "--out", str(out)]) == 0
    row = next(line for line in out.read_text().splitlines() if line.startswith("| default |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == cells[3] == cells[4]  # one clip scored three times, one WER
    assert cells[6:] == ["+0.0", "+0.0"]
    assert float(cells[1].replace(",", "")) > 0  # hours seen, from meta.json


def test_bad_model_is_one_error_line(tmp_path, capsys):
    fit_gap = _load()
    manifest = _manifest(tmp_path / "m.jsonl", [next(EXAMPLES.glob("synthetic-*.wav"))])
    assert fit_gap.main(["--model", f"x={tmp_path}", "--train", str(manifest), "--dev", str(manifest),
                         "--test", str(manifest), "--threads", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
    with pytest.raises(SystemExit):
        fit_gap.main(["--model", "no-equals-sign"])
    with pytest.raises(SystemExit):  # two models under one label would overwrite each other
        fit_gap.main(["--model", f"a={DEFAULT_MODEL}", "--model", f"a={DEFAULT_MODEL}"])
