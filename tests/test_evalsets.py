"""Evaluation-set loaders (Debian real speech) and WER scoring."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from memasr.data import evalsets
from memasr.data.evalsets import (EVAL_SETS, SPLITS, EvalItem, asterisk_text, available_eval_sets, klettres_text,
                                  ktuberling_text, load_eval_set, tuxpaint_text, parse_asterisk_transcripts,
                                  parse_sphinx_transcription, write_manifest)
from memasr.data.manifest import read_manifest
from memasr.data.tokenizer import normalize_text
from memasr.errors import InputError
from memasr.evaluate import evaluate_transcriber, score

HAVE_PS = (evalsets.POCKETSPHINX_DATA / "librivox" / "transcription").is_file()
HAVE_KL = (evalsets.KLETTRES_DATA / "en" / "alpha").is_dir()
needs_ps = pytest.mark.skipif(not HAVE_PS, reason="Debian package pocketsphinx-testdata not installed")
needs_kl = pytest.mark.skipif(not HAVE_KL, reason="Debian package klettres-data not installed")


def _installed(root: evalsets.PackageRoot) -> bool:
    return root.default.exists()


def needs(*roots: evalsets.PackageRoot):
    missing = [r.package for r in roots if not _installed(r)]
    return pytest.mark.skipif(bool(missing), reason=f"Debian package(s) {', '.join(missing)} not installed")


SPLIT_ROOTS = (evalsets.POCKETSPHINX, evalsets.KLETTRES, evalsets.KTUBERLING, evalsets.ALSA, evalsets.ASTERISK,
               evalsets.ASTERISK_TEXT)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Converted audio (raw -> wav, archive members) goes to a per-session temp folder."""
    monkeypatch.setenv(evalsets.CACHE_ENV, str(tmp_path_factory.getbasetemp() / "evalset-cache"))


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
    have = available_eval_sets()
    assert have[:3] == ["librivox", "cards", "klettres"]
    assert all(EVAL_SETS[n].labels in ("true", "script", "pseudo") for n in have)
    # game sets are judged by their package files, without decoding their clips
    for name, root in evalsets.GAMES.items():
        assert (name in have) == root.path().exists()
    assert not any((evalsets.cache_dir() / name).exists() for name in evalsets.GAMES)


@needs_ps
def test_pocketsphinx_raw_converted_to_16k_wav():
    items = load_eval_set("pocketsphinx-raw")
    _check(items, 2)
    assert items[0].text == "go forward ten meters" and items[1].text == "two nine three four zero"
    info = sf.info(str(items[0].path))
    raw = evalsets.POCKETSPHINX.path() / "goforward.raw"
    assert info.samplerate == 16000 and info.frames == raw.stat().st_size // 2


@needs(evalsets.KTUBERLING)
def test_ktuberling():
    items = load_eval_set("ktuberling")
    _check(items, 71)
    by_id = {it.id: it.text for it in items}
    assert by_id["ktuberling/umbrella"] == "umbrella" and by_id["ktuberling/pizzeria_olive"] == "olive"
    assert by_id["ktuberling/moon_fallingstar"] == "falling star"
    assert ktuberling_text("egypt_sphynx") == "sphinx"


@needs(evalsets.ALSA)
def test_alsa():
    items = load_eval_set("alsa")
    _check(items, 8)
    assert "front left" in [it.text for it in items] and not any("noise" in it.text for it in items)


@needs(evalsets.ASTERISK, evalsets.ASTERISK_TEXT)
def test_asterisk():
    items = load_eval_set("asterisk")
    assert len(items) > 500
    _check(items, len(items))
    by_id = {it.id: it.text for it in items}
    assert by_id["asterisk/digits/7"] == "seven"
    assert "asterisk/beep" not in by_id and "asterisk/silence/1" not in by_id  # a tone, silence
    for it in items[::50]:  # 8 kHz telephone prompts, about 1 s to 1 min, a plausible speaking rate
        info = sf.info(str(it.path))
        assert info.samplerate == 8000 and 0.2 < info.duration < 60
        assert len(it.text) / info.duration < 25


def test_asterisk_transcripts():
    text = "; comment\n\nbeep: [this is a simple beep tone]\nletters/at: at [@]\n" \
           "dictate/forhelp: press 0 for help\nvm-opts: Press * to cancel, # to accept.\n" \
           "silence/1: (1 second of silence)\nspy-iax2: IAX (note: does not say \"2\")\n"
    refs = parse_asterisk_transcripts(text)
    assert list(refs) == ["beep", "letters/at", "dictate/forhelp", "vm-opts", "silence/1", "spy-iax2"]
    assert asterisk_text(refs["silence/1"]) is None and asterisk_text(refs["spy-iax2"]) == "iax"
    assert asterisk_text(refs["beep"]) is None
    assert asterisk_text(refs["letters/at"]) == "at"
    assert asterisk_text(refs["dictate/forhelp"]) == "press zero for help"
    assert asterisk_text(refs["vm-opts"]) == "press star to cancel pound to accept"


@needs(evalsets.TUXPAINT)
def test_tuxpaint():
    items = load_eval_set("tuxpaint")
    _check(items, 66)
    assert {"frog", "hen", "wild boar", "mountain goat"} <= {it.text for it in items}
    assert tuxpaint_text(Path("animals/birds/tucan_desc.ogg")) == "toucan"


@needs(*SPLIT_ROOTS)
def test_splits_disjoint_deterministic_and_true_labels_only():
    dev, test = load_eval_set("real-dev"), load_eval_set("real-test")
    assert [it.id for it in dev] == [it.id for it in load_eval_set("real-dev")]
    dev_ids, test_ids = {it.id for it in dev}, {it.id for it in test}
    assert not dev_ids & test_ids and len(dev_ids) == len(dev) and len(test_ids) == len(test)
    assert not any(it.pseudo for it in dev + test)
    # the 5 LibriVox + 5 cards utterances stay in real-test (earlier results and the peers use them)
    assert {it.id for it in load_eval_set("librivox") + load_eval_set("cards")} <= test_ids
    # split by speaker: no voice of real-test is in real-dev
    assert not any(i.startswith("klettres/en_GB/") for i in dev_ids)
    assert not any(i.startswith("klettres/en/") for i in test_ids)
    parts = {s for split in SPLITS.values() for s, _ in split}
    assert all(EVAL_SETS[s].labels == "true" for s in parts)


def test_pseudo_labelled_sets_flagged_and_kept_apart():
    whisper_sets = {n for n, info in EVAL_SETS.items() if info.labels in ("pseudo", "script")}
    assert {"hedgewars", "warzone2100", "sky", "queen", "drascula"} <= whisper_sets
    assert not whisper_sets & {s for split in SPLITS.values() for s, _ in split}
    for path in (evalsets.PSEUDO_LABELS, evalsets.GAME_LABELS):
        labels = evalsets.read_pseudo_labels(path)
        assert "Whisper base" in labels["model"] and "pseudo_label.py" in labels["command"]
        for row in labels["items"]:
            assert row["set"] in whisper_sets and row["text"] == normalize_text(row["text"]) and row["text"]
            assert row["avg_logprob"] >= labels["thresholds"]["min_avg_logprob"]
            if row["set"] == "drascula":  # the game's own line, where Whisper heard nearly the same
                assert row["whisper_wer"] <= labels["thresholds"]["max_script_wer"]
    for name in whisper_sets - set(evalsets.GAMES):  # a game set decodes thousands of clips on first
        # load (minutes); tests/test_gamespeech.py covers the decoding on built containers
        try:
            items = load_eval_set(name)
        except InputError as exc:  # optional package not installed (or no clip kept): one line naming it
            assert (EVAL_SETS[name].package in str(exc) or "no labels" in str(exc)) and "\n" not in str(exc)
            continue
        assert items and all(it.pseudo == (EVAL_SETS[name].labels == "pseudo") for it in items)
        assert all(Path(it.path).is_file() for it in items[:5])


def test_unknown_and_missing(monkeypatch, tmp_path):
    with pytest.raises(InputError, match="unknown evaluation set"):
        load_eval_set("timit")
    roots = [getattr(evalsets, n) for n in dir(evalsets) if isinstance(getattr(evalsets, n), evalsets.PackageRoot)]
    for root in roots:
        monkeypatch.setenv(root.env, str(tmp_path / "absent"))
    for name, info in EVAL_SETS.items():
        with pytest.raises(InputError) as exc:
            load_eval_set(name)
        message = str(exc.value)
        assert "\n" not in message and any(p in message for p in info.package.split(", ")), message
    assert available_eval_sets() == []


@needs_ps
def test_write_manifest_16k(tmp_path):
    out = tmp_path / "m" / "cards.jsonl"
    assert write_manifest("cards", out) == 5
    rows = read_manifest(out)
    assert [r["text"] for r in rows] == [it.text for it in load_eval_set("cards")]
    for r in rows:
        info = sf.info(r["audio_filepath"])
        assert info.samplerate == 16000 and info.channels == 1
        assert r["duration"] == pytest.approx(info.duration, abs=1e-3)
        assert Path(r["audio_filepath"]).parent.parent.name == "cards-wav" and r["pseudo"] is False
    raw = json.loads(out.read_text().splitlines()[0])
    assert not Path(raw["audio_filepath"]).is_absolute()  # the manifest travels with its audio
    wav = Path(rows[0]["audio_filepath"])
    source_ns = load_eval_set("cards")[0].path.stat().st_mtime_ns
    assert wav.stat().st_mtime_ns == source_ns  # each wav carries its source's mtime
    sf.write(str(wav), np.zeros(1600, dtype=np.int16), 16000, subtype="PCM_16")  # a wav made elsewhere...
    os.utime(wav, ns=(source_ns, source_ns))  # ...but stamped as made from this source: reused as it is
    assert write_manifest("cards", out) == 5
    assert sf.info(str(wav)).frames == 1600
    for shift in (-10**10, 10**10):  # the source changed (an upgrade may carry an older mtime): rebuilt
        sf.write(str(wav), np.zeros(1600, dtype=np.int16), 16000, subtype="PCM_16")
        os.utime(wav, ns=(source_ns + shift, source_ns + shift))
        assert write_manifest("cards", out) == 5
        assert sf.info(str(wav)).duration == pytest.approx(rows[0]["duration"], abs=1e-3)
        assert wav.stat().st_mtime_ns == source_ns


@needs(evalsets.ALSA)
def test_write_manifest_resamples(tmp_path):
    write_manifest("alsa", tmp_path / "alsa.jsonl")
    rows = read_manifest(tmp_path / "alsa.jsonl")
    src = sf.info(str(evalsets.ALSA.path() / "Front_Center.wav"))
    row = next(r for r in rows if r["text"] == "front center")
    assert sf.info(row["audio_filepath"]).samplerate == 16000
    assert row["duration"] == pytest.approx(src.duration, abs=0.01)


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
