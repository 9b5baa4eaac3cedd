"""Text pool, TTS engines, split policy, corpus generation and on-the-fly synthesis."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from memasr.data import synth, text, utterances
from memasr.data.synth import (
    ENGINES,
    OnTheFlySynthDataset,
    SAMPLE_RATE,
    get_engine,
    resolve_engines,
    split_voices,
    synthesize_corpus,
    voice_catalog,
)
from memasr.errors import InputError

SENTENCES = [
    "the cat sat on the mat",
    "a stitch in time saves nine",
    "don't count your chickens before they hatch",
    "all that glitters is not gold",
    "the early bird catches the worm",
    "actions speak louder than words",
    "better late than never they said",
    "every cloud has a silver lining",
] * 5  # enough that each sentence split (5% dev, 5% test) is usually non-empty


def _installed(name: str) -> bool:
    return get_engine(name).available()


# ----------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Hello, World! It's a fine day.", "hello world it's a fine day"),
        ("\"Well-known\" facts; 'quoted' words", "well known facts quoted words"),
        ("Caf\u00e9 na\u00efve r\u00e9sum\u00e9 here", "cafe naive resume here"),
        ("I have 3 apples", None),  # digits cannot be spelled reliably
        ("send mail to bob@example", None),  # symbols read as words
        ("too short", None),
        (" ".join(["word"] * 21), None),
        (" ".join(["word"] * 20), " ".join(["word"] * 20)),
    ],
)
def test_clean_sentence(raw: str, expected: str | None) -> None:
    assert text.clean_sentence(raw) == expected


def test_clean_passage_splits_long_text_into_sentences() -> None:
    raw = ("And God said, Let there be light: and there was light. " * 3).strip()
    out = text.clean_passage(raw)
    assert out and all(3 <= len(s.split()) <= 20 for s in out)
    assert "and god said let there be light and there was light" in out


def test_missing_text_source_names_package(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(text, "FORTUNES_DIR", tmp_path / "nope")
    with pytest.raises(InputError, match="fortunes"):
        text.load_text_pool(("fortunes",), cache_dir=tmp_path)
    with pytest.warns(UserWarning, match="fortunes"), pytest.raises(InputError, match="no text source"):
        text.load_text_pool(("fortunes",), allow_missing=True, cache_dir=tmp_path)


@pytest.mark.skipif(
    not (text.FORTUNES_DIR.is_dir() and (text.WORDNET_DIR / "data.noun").is_file() and shutil.which("bible")),
    reason="Debian fortunes / wordnet-base / bible-kjv not installed",
)
def test_text_pool_is_large_clean_and_cached(tmp_path) -> None:
    pool = text.load_text_pool(cache_dir=tmp_path)
    assert len(pool) > 70_000
    assert len(set(pool)) == len(pool)
    sample = pool[:: len(pool) // 500]
    assert all(text.clean_sentence(s, min_words=1) == s for s in sample)  # spoken commands: 1+ words
    assert len(list(tmp_path.glob("text_pool-*.txt"))) == 1
    assert text.load_text_pool(cache_dir=tmp_path) == pool  # from the cache, same order


# ----------------------------------------------------------------------------- engines


@pytest.mark.parametrize("name", ENGINES)
def test_engine_synthesizes_speech(name: str) -> None:
    engine = get_engine(name)
    if not engine.available():
        pytest.skip(engine.missing_hint())
    voice = engine.voices()[0]
    audio, sr = engine.synthesize("the quick brown fox jumps", voice, 1.0, 1.0, np.random.default_rng(0))
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 0.5 < len(audio) / sr < 6.0
    out = synth.augment(audio, sr, np.random.default_rng(0))
    assert out.dtype == np.float32
    assert 0.4 < len(out) / SAMPLE_RATE < 7.0
    assert np.sqrt(np.mean(out**2)) > 1e-3 and np.abs(out).max() <= 1.0


def test_missing_engine_gives_input_error_with_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth.FliteEngine, "available", lambda self: False)
    with pytest.raises(InputError, match="apt-get install flite"):
        resolve_engines(["flite"])
    with pytest.raises(InputError, match="flite"):
        synthesize_corpus("/nonexistent/never-written", 0.01, engines=["flite"], sentences=SENTENCES)
    if _installed("espeak-ng"):
        with pytest.warns(UserWarning, match="flite"):
            assert resolve_engines(["espeak-ng", "flite"], allow_missing=True) == ["espeak-ng"]


def test_augment_is_deterministic_and_speed_changes_length() -> None:
    tone = np.sin(np.arange(22050) * 0.05).astype(np.float32)
    a = synth.augment(tone, 22050, np.random.default_rng([1, 2]))
    b = synth.augment(tone, 22050, np.random.default_rng([1, 2]))
    np.testing.assert_array_equal(a, b)
    fast = synth.augment(tone, 22050, np.random.default_rng(0), speed=(1.2, 1.2), noise_prob=0)
    slow = synth.augment(tone, 22050, np.random.default_rng(0), speed=(0.8, 0.8), noise_prob=0)
    assert abs(len(fast) - 16000 / 1.2) < 5 and abs(len(slow) - 16000 / 0.8) < 5
    for exponent in (0.0, 1.0, 2.0):
        noise = synth.colored_noise(4096, exponent, np.random.default_rng(0))
        assert abs(np.sqrt(np.mean(noise**2)) - 1) < 1e-3


# ----------------------------------------------------------------------------- splits

CATALOG = (
    [("espeak-ng", f"{a}+v{i}") for a in ("en", "en-us") for i in range(30)]
    + [("flite", v) for v in synth.FliteEngine.VOICES]
    + [("festival", v) for v in synth.FestivalEngine.VOICES]
    + [("piper", "en_US-joe-medium")]
)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_split_voices_holds_out_voices_and_engine(seed: int) -> None:
    splits = split_voices(CATALOG, seed)
    train, test = set(splits["train"]), set(splits["test"])
    assert not train & test
    assert set(splits["dev"]) == train
    assert train | test == set(CATALOG)
    assert not any(e == "festival" for e, _ in train)
    assert {("festival", v) for v in synth.FestivalEngine.VOICES} <= test
    assert any(e == "flite" for e, _ in test) and any(e == "espeak-ng" for e, _ in test)
    assert ("piper", "en_US-joe-medium") in train  # a single-voice engine cannot spare it
    # A voice's split does not depend on which other engines are installed.
    without_festival = split_voices([c for c in CATALOG if c[0] != "festival"], seed)
    assert set(without_festival["train"]) == train


def test_sentence_split_is_fixed() -> None:
    parts = synth.split_sentences([f"sentence number {i}" for i in range(2000)])
    assert 40 < len(parts["dev"]) < 170 and 40 < len(parts["test"]) < 170
    assert synth.split_sentences([f"sentence number {i}" for i in range(2000)]) == parts


def test_every_split_puts_closed_set_words_in_train_too() -> None:
    closed = utterances.closed_word_set()
    hashed_away = sorted(w for w in closed if synth.sentence_split(w) != "train")
    assert hashed_away  # letters such as "e" would never be heard alone in training
    words = sorted(closed) + ["house", "garden"]
    parts = synth.split_sentences(words, every_split=closed)
    assert all(set(hashed_away) <= set(parts[split]) for split in synth.SPLITS)
    assert closed <= set(parts["train"])
    for word in ("house", "garden"):  # open-class words keep their one hashed split
        assert [split for split in synth.SPLITS if word in parts[split]] == [synth.sentence_split(word)]


# ----------------------------------------------------------------------------- corpus

needs_fast_engine = pytest.mark.skipif(
    not (_installed("espeak-ng") and _installed("flite")), reason="espeak-ng and flite needed"
)


@needs_fast_engine
def test_synthesize_corpus_writes_manifests_and_resumes(tmp_path) -> None:
    engines = ["espeak-ng", "flite"]  # fast engines keep the test short; flite voices give test ones
    out = tmp_path / "corpus"
    summary = synthesize_corpus(out, 20 / 3600, jobs=2, seed=3, engines=engines,
                                sentences=SENTENCES, progress=False)
    manifests = {s: (out / f"{s}.jsonl").read_text() for s in synth.SPLITS}
    rows = {s: [json.loads(line) for line in m.splitlines()] for s, m in manifests.items()}
    for split, split_rows in rows.items():
        assert len(split_rows) >= 3
        assert summary["splits"][split]["utterances"] == len(split_rows)
        for row in split_rows:
            assert set(row) == {"audio_filepath", "duration", "text", "voice", "engine", "license", "commercial",
                                "speed", "pitch", "vtl"}
            assert not os.path.isabs(row["audio_filepath"])
            info = sf.info(out / row["audio_filepath"])
            assert info.samplerate == SAMPLE_RATE and info.channels == 1 and info.subtype == "PCM_16"
            assert row["duration"] == round(info.frames / SAMPLE_RATE, 4) > 0.3
            assert row["text"] in SENTENCES
    train_voices = {(r["engine"], r["voice"]) for r in rows["train"] + rows["dev"]}
    assert not train_voices & {(r["engine"], r["voice"]) for r in rows["test"]}
    total = sum(r["duration"] for split_rows in rows.values() for r in split_rows)
    assert 8 < total < 60

    # Resume: remove one wav, re-run: only it is redone and the manifests are identical.
    victim = out / rows["train"][0]["audio_filepath"]
    kept = out / rows["train"][1]["audio_filepath"]
    mtime = os.stat(kept).st_mtime_ns
    os.remove(victim)
    synthesize_corpus(out, 20 / 3600, jobs=2, seed=3, engines=engines, sentences=SENTENCES, progress=False)
    assert os.stat(kept).st_mtime_ns == mtime
    for split in synth.SPLITS:
        again = [json.loads(line) for line in (out / f"{split}.jsonl").read_text().splitlines()]
        for a, b in zip(again, rows[split], strict=True):
            assert {k: a[k] for k in ("audio_filepath", "text", "voice", "engine")} == \
                   {k: b[k] for k in ("audio_filepath", "text", "voice", "engine")}
            # espeak-ng carries a little internal state between calls: a redone wav may
            # differ by a few samples, every other wav is untouched.
            assert abs(a["duration"] - b["duration"]) < (0.05 if out / a["audio_filepath"] == victim else 1e-9)
    assert not list(out.rglob("*.tmp"))


def test_plan_is_deterministic_per_seed() -> None:
    voices = split_voices(CATALOG, 0)
    a = synth.plan_corpus(0.01, 5, SENTENCES, voices)
    assert a == synth.plan_corpus(0.01, 5, SENTENCES, voices)
    assert a != synth.plan_corpus(0.01, 6, SENTENCES, voices)
    test_voices = set(voices["test"])
    assert all((s.engine, s.voice) in test_voices for s in a["test"])
    assert not any((s.engine, s.voice) in test_voices for s in a["train"] + a["dev"])


def test_cli_synth_reports_bad_input(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    from memasr.cli import main

    assert main(["synth", "--out", str(tmp_path), "--engines", "nope"]) == 2
    assert "unknown TTS engine 'nope'" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path), "--hours", "0"]) == 2
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(tmp_path), "--text", "novels"])
    assert "invalid choice: 'novels'" in capsys.readouterr().err


@needs_fast_engine
def test_cli_synth_isolated_words(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from memasr.cli import main

    out = tmp_path / "words"
    assert main(["synth", "--out", str(out), "--hours", "0.004", "--seed", "2", "--engines", "espeak-ng,flite",
                 "--text", "isolated-words", "--quiet"]) == 0
    rows = [json.loads(line) for split in synth.SPLITS for line in (out / f"{split}.jsonl").read_text().splitlines()]
    assert len(rows) >= 9 and all(len(r["text"].split()) == 1 for r in rows)
    train_texts = {json.loads(line)["text"] for line in (out / "train.jsonl").read_text().splitlines()}
    closed = utterances.closed_word_set()
    assert train_texts & closed and not any(synth.sentence_split(t) != "train" for t in train_texts - closed)


# ----------------------------------------------------------------------------- on the fly


@needs_fast_engine
def test_on_the_fly_dataset_deterministic_and_never_test_voice() -> None:
    engines = ("espeak-ng", "flite", "festival")
    ds = OnTheFlySynthDataset(seed=11, sentences=SENTENCES, engines=engines)
    test_voices = set(split_voices(voice_catalog(resolve_engines(engines, True)), 0)["test"])
    specs = [ds.spec(i) for i in range(400)]
    assert not any((s.engine, s.voice) in test_voices for s in specs)
    assert not any(s.engine == "festival" for s in specs)
    assert len({(s.text, s.voice) for s in specs}) > 300  # pairs rarely repeat
    assert ds.spec(5) == OnTheFlySynthDataset(seed=11, sentences=SENTENCES, engines=engines).spec(5)
    assert ds.spec(5) != OnTheFlySynthDataset(seed=12, sentences=SENTENCES, engines=engines).spec(5)

    for idx in (0, 1):
        first, second = ds[idx], ds[idx]
        assert {k: first[k] for k in ("text", "voice", "engine")} == \
               {k: second[k] for k in ("text", "voice", "engine")}
        assert first["audio"].dtype == np.float32 and len(first["audio"]) > 0.3 * SAMPLE_RATE
        # espeak-ng keeps internal state between calls (and some variants add their own jitter),
        # so its waveforms are only near-identical; the drawn parameters above are exact.
        assert abs(len(first["audio"]) - len(second["audio"])) < 0.05 * len(first["audio"])
    flite_only = OnTheFlySynthDataset(seed=2, sentences=SENTENCES, engines=("flite",))
    np.testing.assert_array_equal(flite_only[3]["audio"], flite_only[3]["audio"])  # sample-exact


@needs_fast_engine
def test_on_the_fly_dataset_in_dataloader_workers() -> None:
    import torch

    ds = OnTheFlySynthDataset(seed=0, length=4, sentences=SENTENCES, engines=("espeak-ng",))
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    got = [(ex["text"], ex["voice"]) for ex in loader]
    assert got == [(ds.spec(i).text, ds.spec(i).voice) for i in range(4)]


def test_text_pool_from_a_file_named_by_the_environment(tmp_path, monkeypatch) -> None:
    """MEMASR_TEXT_POOL replaces the Debian sources (GPU machines without them), sha-pinned."""
    import gzip
    import hashlib


    data = b"the first sentence here\nand a second one\n\n"
    pool_file = tmp_path / "pool.txt.gz"
    pool_file.write_bytes(gzip.compress(data))
    monkeypatch.setenv("MEMASR_TEXT_POOL", str(pool_file))
    monkeypatch.setenv("MEMASR_TEXT_POOL_SHA256", hashlib.sha256(data).hexdigest())  # of the text
    assert text.load_text_pool() == ["the first sentence here", "and a second one"]
    monkeypatch.setenv("MEMASR_TEXT_POOL_SHA256", "0" * 64)
    with pytest.raises(InputError, match="does not match"):
        text.load_text_pool()
    monkeypatch.delenv("MEMASR_TEXT_POOL_SHA256")
    monkeypatch.setenv("MEMASR_TEXT_POOL", str(tmp_path / "missing.txt"))
    with pytest.raises(InputError, match="cannot read"):
        text.load_text_pool()
