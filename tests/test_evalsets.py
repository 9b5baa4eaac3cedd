"""Evaluation-set loaders (Debian real speech) and WER scoring."""
from pathlib import Path

import numpy as np
import pytest

from memasr.data import evalsets
from memasr.data.evalsets import (EvalItem, available_eval_sets, klettres_text, load_eval_set,
                                  parse_sphinx_transcription)
from memasr.data.tokenizer import normalize_text
from memasr.errors import InputError
from memasr.evaluate import evaluate_transcriber, score

HAVE_PS = (evalsets.POCKETSPHINX_DATA / "librivox" / "transcription").is_file()
HAVE_KL = (evalsets.KLETTRES_DATA / "en" / "alpha").is_dir()
needs_ps = pytest.mark.skipif(not HAVE_PS, reason="Debian package pocketsphinx-testdata not installed")
needs_kl = pytest.mark.skipif(not HAVE_KL, reason="Debian package klettres-data not installed")


def _check(items, count):
    assert len(items) == count
    assert len({it.id for it in items}) == count
    for it in items:
        assert isinstance(it, EvalItem)
        assert Path(it.path).is_file()
        assert it.text and it.text == normalize_text(it.text)
        assert "<s>" not in it.text and "(" not in it.text


@needs_ps
def test_librivox():
    items = load_eval_set("librivox")
    _check(items, 5)
    assert items[1].text == "he was not an ill disposed young man"
    assert items[1].id == "librivox/sense_and_sensibility_01_austen_64kb-0880"


@needs_ps
def test_cards():
    items = load_eval_set("cards")
    _check(items, 5)
    assert [it.text for it in items[:2]] == ["ten of clubs", "four queen of clubs"]
    assert items[0].path.name == "001.wav"


@needs_kl
def test_klettres():
    items = load_eval_set("klettres")
    _check(items, 91)  # en: 26 letters + 16 words; en_GB: 26 letters + 23 words
    by_id = {it.id: it.text for it in items}
    assert by_id["klettres/en/alpha/a"] == "a"
    assert by_id["klettres/en_GB/alpha/z"] == "z"
    assert by_id["klettres/en_GB/syllab/the"] == "the"
    assert "klettres/en/syllab/th" not in by_id  # phonics sound, no written word
    letters = [t for t in by_id.values() if len(t) == 1]
    assert len(letters) == 52


@needs_ps
@needs_kl
def test_available_sets():
    assert available_eval_sets() == ["librivox", "cards", "klettres"]


def test_unknown_and_missing(monkeypatch, tmp_path):
    with pytest.raises(InputError, match="unknown evaluation set"):
        load_eval_set("timit")
    monkeypatch.setenv(evalsets.POCKETSPHINX_ENV, str(tmp_path))
    monkeypatch.setenv(evalsets.KLETTRES_ENV, str(tmp_path))
    for name, pkg in [("librivox", "pocketsphinx-testdata"), ("cards", "pocketsphinx-testdata"),
                      ("klettres", "klettres-data")]:
        with pytest.raises(InputError, match=pkg):
            load_eval_set(name)
    assert available_eval_sets() == []


def test_parse_sphinx_transcription():
    text = "<s> ten of clubs  </s> (001)\n\n<s> Five, FIVE </s> (002)\nno markers here (x-3)\n"
    assert parse_sphinx_transcription(text) == {"001": "ten of clubs", "002": "Five, FIVE",
                                                "x-3": "no markers here"}
    with pytest.raises(InputError, match="line 1"):
        parse_sphinx_transcription("<s> no id </s>\n")


def test_klettres_text_mapping():
    assert klettres_text(Path("en/alpha/Q.ogg")) == "q"
    assert klettres_text(Path("en/syllab/dog.ogg")) == "dog"
    assert klettres_text(Path("en/syllab/ch.ogg")) is None


def test_score_known_counts():
    # one substitution (b->x), one insertion (e)
    s = score(["a b c d"], ["a x c d e"])
    assert (s["substitutions"], s["deletions"], s["insertions"], s["hits"], s["ref_words"]) == (1, 0, 1, 3, 4)
    assert s["wer"] == pytest.approx(0.5)
    # deletions, over a corpus of two utterances
    s = score(["the cat sat on the mat", "hello world"], ["the cat on mat", "hello world"])
    assert (s["substitutions"], s["deletions"], s["insertions"]) == (0, 2, 0)
    assert s["ref_words"] == 8 and s["wer"] == pytest.approx(2 / 8)
    # normalization: case and punctuation never count
    assert score(["Hello, World!"], ["hello world"])["wer"] == 0.0
    # empty hypothesis: all deletions; empty reference: insertions
    assert score(["a b c"], [""])["deletions"] == 3
    s = score(["", "a"], ["x y", "a"])
    assert (s["insertions"], s["ref_words"], s["wer"]) == (2, 1, 2.0)
    with pytest.raises(InputError):
        score(["a"], ["a", "b"])


def test_evaluate_transcriber(tmp_path):
    import soundfile as sf

    items = []
    for i, text in enumerate(["one two three", "four five"]):
        p = tmp_path / f"{i}.wav"
        sf.write(p, np.zeros(16000 * (i + 1), dtype=np.float32), 16000)
        items.append(EvalItem(p, text, f"t/{i}"))
    hyps = iter(["one two tree", "four five six"])
    result, rtf, rows = evaluate_transcriber(lambda x: next(hyps), items)
    assert (result["substitutions"], result["deletions"], result["insertions"]) == (1, 0, 1)
    assert result["ref_words"] == 5
    assert rtf >= 0 and len(rows) == 2
    assert rows[1]["audio_seconds"] == pytest.approx(2.0) and rows[1]["insertions"] == 1
