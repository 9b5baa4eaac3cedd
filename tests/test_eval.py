"""`memasr eval` (WER, CER, RTF, bad input) and the number spelling of normalize_text."""
from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest
import soundfile as sf

from memasr.cli import main
from memasr.commands.eval import evaluate_model
from memasr.evaluate import char_score
from memasr.data.tokenizer import Tokenizer, normalize_text
from memasr.model.checkpoint import save_pretrained
from memasr.model.config import config_from_dict
from memasr.model.transducer import build_model

from test_train import TINY  # the shared tiny training config

SR = 16000
TEXTS = ["the cat sat on the mat", "hello world", "a bird in the hand is worth two in the bush"]



@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    tok = Tokenizer.train(TEXTS * 3 + ["abcdefghijklmnopqrstuvwxyz"], root / "tok", vocab_size=40)
    cfg = tomllib.loads(TINY)
    cfg["vocab_size"] = tok.vocab_size
    model = build_model(config_from_dict(cfg, "tiny"))
    model_dir = save_pretrained(model, root / "model", tokenizer_file=root / "tok" / "tokenizer.model")
    rows = []
    rng = np.random.default_rng(0)
    for i, text in enumerate(TEXTS):
        path = root / f"u{i}.wav"
        n = int(SR * (0.8 + 0.3 * i))
        sf.write(path, (0.1 * rng.standard_normal(n)).astype(np.float32), SR)
        rows.append({"audio_filepath": path.name, "duration": n / SR, "text": text.upper() + "!"})
    manifest = root / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {"root": root, "model": str(model_dir), "manifest": str(manifest), "rows": rows}


def test_normalize_spells_numbers():
    assert normalize_text("3 cats & 2 dogs") == "three cats two dogs"
    assert normalize_text("In 1999, we won!") == "in one thousand nine hundred ninety nine we won"
    assert normalize_text("the 2nd and 21ST time, the 4th") == "the second and twenty first time the fourth"
    assert normalize_text("1,000,000 people; pi is 3.14") == "one million people pi is three point one four"
    assert normalize_text("agent 007 and 0") == "agent zero zero seven and zero"
    assert normalize_text("101 dalmatians") == "one hundred one dalmatians"  # num2words' "and" is dropped
    long = "1234567890123456"  # more than 15 digits: read digit by digit
    assert normalize_text(long) == " ".join(["one", "two", "three", "four", "five", "six", "seven", "eight",
                                            "nine", "zero", "one", "two", "three", "four", "five", "six"])
    assert normalize_text("MP3 files") == "mp three files"
    for s in ("3 cats", "It's 2024.", "1st"):
        assert normalize_text(normalize_text(s)) == normalize_text(s)  # idempotent


def test_char_score_counts():
    c = char_score(["abc", "hello"], ["abd", "hell"])
    assert (c["substitutions"], c["deletions"], c["insertions"], c["ref_chars"]) == (1, 1, 0, 8)
    assert c["cer"] == pytest.approx(2 / 8)
    c = char_score(["", "ab"], ["xy", "ab"])
    assert c["insertions"] == 2 and c["cer"] == pytest.approx(1.0)


def test_eval_json_line(setup, capsys):
    status = main(["eval", "--model", setup["model"], "--manifest", setup["manifest"], "--json", "--threads", "1"])
    assert status == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    r = json.loads(out[0])
    assert r["utterances"] == 3 and r["unreadable"] == 0 and r["method"] == "greedy"
    assert r["ref_words"] == sum(len(t.split()) for t in TEXTS)
    assert r["wer"] == pytest.approx((r["substitutions"] + r["deletions"] + r["insertions"]) / r["ref_words"])
    assert r["cer"] == pytest.approx((r["char_substitutions"] + r["char_deletions"] + r["char_insertions"])
                                     / r["ref_chars"])
    assert r["rtf"] > 0 and r["audio_seconds"] == pytest.approx(sum(x["duration"] for x in setup["rows"]))
    assert r["schedule"] == "chunk:4"


def test_eval_perfect_transcriber_scores_zero(setup, monkeypatch):
    """Scoring path: a transcriber that returns the reference gives WER = CER = 0 (text normalized)."""
    import memasr.evaluate as E

    by_len = {int(SR * (0.8 + 0.3 * i)): t for i, t in enumerate(TEXTS)}
    monkeypatch.setattr(E, "streaming_transcriber", lambda rec, **kw: lambda x: by_len[len(x)].title() + ".")
    r = evaluate_model(setup["model"], setup["manifest"])
    assert r["wer"] == 0 and r["cer"] == 0 and r["hits"] == r["ref_words"]
    assert [row["hyp"] for row in r["rows"]] == TEXTS
    r = evaluate_model(setup["model"], setup["manifest"], limit=1)
    assert r["utterances"] == 1


def test_eval_text_and_options(setup, capsys, tmp_path):
    details = tmp_path / "rows.jsonl"
    assert main(["eval", "--model", setup["model"], "--manifest", setup["manifest"], "--limit", "2",
                 "--method", "modified_beam_search", "--beam", "2", "--schedule", "frame",
                 "--details", str(details), "--threads", "1"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("WER ") and "CER " in line and "RTF " in line and "2 utterances" in line
    assert "modified_beam_search beam 2" in line
    rows = [json.loads(x) for x in details.read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["ref"] == TEXTS[0]


def test_eval_bad_input_exit_2(setup, capsys, tmp_path):
    m, man = setup["model"], setup["manifest"]
    assert main(["eval", "--model", str(tmp_path / "nope"), "--manifest", man]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model directory not found" in err[0]
    assert main(["eval", "--model", str(tmp_path), "--manifest", man]) == 2  # a dir, but not a model
    assert "not a memasr model directory" in capsys.readouterr().err
    assert main(["eval", "--model", m, "--manifest", str(tmp_path / "none.jsonl")]) == 2
    assert "manifest not found" in capsys.readouterr().err
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"audio_filepath": "a.wav", "duration": 1, "text": "x"}\n{not json\n')
    assert main(["eval", "--model", m, "--manifest", str(broken)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.jsonl:2: malformed JSON" in err[0]
    broken.write_text('{"audio_filepath": "a.wav", "text": "x"}\n')
    assert main(["eval", "--model", m, "--manifest", str(broken)]) == 2
    assert "missing key(s) duration" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert main(["eval", "--model", m, "--manifest", str(empty)]) == 2
    assert "no entries" in capsys.readouterr().err
    assert main(["eval", "--model", m, "--manifest", man, "--beam", "0"]) == 2
    capsys.readouterr()


def test_eval_unreadable_entries_counted(setup, capsys, tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio" * 8)
    good = [dict(r, audio_filepath=str(setup["root"] / r["audio_filepath"])) for r in setup["rows"]]
    entries = good[:2] + [{"audio_filepath": str(tmp_path / "missing.wav"), "duration": 1.0, "text": "gone"},
                          {"audio_filepath": str(garbage), "duration": 1.0, "text": "junk"}]
    man = tmp_path / "mixed.jsonl"
    man.write_text("".join(json.dumps(e) + "\n" for e in entries))
    assert main(["eval", "--model", setup["model"], "--manifest", str(man), "--json", "--threads", "1"]) == 2
    cap = capsys.readouterr()
    r = json.loads(cap.out.strip())
    assert r["utterances"] == 2 and r["unreadable"] == 2
    err = cap.err.strip().splitlines()
    assert len(err) == 3 and "missing.wav" in err[0] and "garbage.wav" in err[1]
    assert "2 of 4 audio entries could not be read" in err[2]
    # nothing readable at all: one clear error line
    allbad = tmp_path / "allbad.jsonl"
    allbad.write_text("".join(json.dumps(e) + "\n" for e in entries[2:]))
    assert main(["eval", "--model", setup["model"], "--manifest", str(allbad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("memasr eval: error: none of the 2 audio files")
    assert "relative paths are read from the manifest's folder" in err[-1]
    # a manifest of wrong paths lists the first few and counts the rest
    many = tmp_path / "many.jsonl"
    many.write_text("".join(json.dumps({"audio_filepath": f"nowhere/{i}.wav", "duration": 1.0, "text": "x"}) + "\n"
                            for i in range(12)))
    assert main(["eval", "--model", setup["model"], "--manifest", str(many)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 7 and sum("audio file not found" in line for line in err) == 5
    assert "counted, not listed" in err[5] and "none of the 12 audio files" in err[6]
