"""The tiny end-to-end run: synthesize, train, load, kill and resume, evaluate.

About 2 minutes of espeak-ng speech is synthesized into a temporary folder, the
small-optimized preset is trained on it for a few dozen steps with one thread,
and then: the loss fell, the exported model loads, a run killed after a
checkpoint and resumed gives exactly the next loss of the uninterrupted run,
and ``memasr eval`` scores the dev manifest. Skipped when espeak-ng is missing.
Budget: under 2 minutes on 2 busy cores.
"""
from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from memasr.cli import main
from memasr.model.checkpoint import load_pretrained
from memasr.train.trainer import TrainOptions, list_checkpoints, train

# Text for the corpus: fixed, so the test needs neither the Debian text packages nor the pool cache.
SENTENCES = [
    "the quick brown fox jumps over the lazy dog", "she sells sea shells by the sea shore",
    "a stitch in time saves nine", "all that glitters is not gold", "the early bird catches the worm",
    "every cloud has a silver lining", "actions speak louder than words", "better late than never",
    "the pen is mightier than the sword", "where there is smoke there is fire",
    "a picture is worth a thousand words", "time and tide wait for no man", "honesty is the best policy",
    "practice makes perfect", "knowledge is power", "the cat sat on the mat by the door",
    "birds of a feather flock together", "you cannot judge a book by its cover",
    "too many cooks spoil the broth", "rome was not built in a day", "look before you leap",
    "the grass is always greener on the other side", "fortune favours the bold",
    "an apple a day keeps the doctor away", "laughter is the best medicine", "still waters run deep",
    "the squeaky wheel gets the grease", "two heads are better than one", "when in rome do as the romans do",
    "no news is good news", "the best things in life are free", "curiosity killed the cat",
    "do not count your chickens before they hatch", "easy come easy go", "great minds think alike",
    "it takes two to tango", "many hands make light work", "necessity is the mother of invention",
    "old habits die hard", "slow and steady wins the race",
]
STEPS = 40
SAVE_EVERY = 4
KILL_AFTER = 5  # the killed run saved at step 4 and died after step 5


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from memasr.data.synth import get_engine, synthesize_corpus

    if not get_engine("espeak-ng").available():
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    out = tmp_path_factory.mktemp("e2e") / "corpus"
    start = time.perf_counter()
    summary = synthesize_corpus(out, hours=2 / 60, jobs=1, seed=0, engines=("espeak-ng",),
                                sentences=SENTENCES, progress=False)
    return {"dir": out, "summary": summary, "seconds": time.perf_counter() - start}


def _opts(corpus, out, **kw) -> TrainOptions:
    base = dict(out=str(out), train=str(corpus["dir"] / "train.jsonl"), preset="small-optimized",
                steps=STEPS, batch_frames=2000, lr=2e-3, warmup=4, ctc_weight=0.3, spec_augment=True,
                num_workers=0, eval_every=10_000, save_every=SAVE_EVERY, keep=2, log_every=4,
                cmvn_utts=20, threads=1, progress=False, seed=0)
    base.update(kw)
    return TrainOptions(**base)


def test_tiny_end_to_end(corpus, tmp_path, capsys):
    t0 = time.perf_counter()
    summary = corpus["summary"]
    train_rows = [json.loads(x) for x in (corpus["dir"] / "train.jsonl").read_text().splitlines()]
    audio = sum(r["duration"] for r in train_rows)
    assert 60 < audio < 240, audio  # about 2 minutes of training speech
    assert {r["engine"] for r in train_rows} == {"espeak-ng"}
    assert summary  # the summary dict is returned

    # train small-optimized for a few dozen steps: the loss falls
    run = tmp_path / "run"
    full = train(_opts(corpus, run))
    losses = [loss for _, loss in full.losses]
    assert len(losses) == STEPS and all(math.isfinite(x) for x in losses)
    assert np.mean(losses[-4:]) < 0.8 * np.mean(losses[:4]), losses

    # the exported model loads (with its tokenizer; the CTC head is training-only)
    model, tok = load_pretrained(run / "final")
    assert model.config.name == "small-optimized" and tok is not None
    assert tok.vocab_size == model.config.vocab_size
    assert not any("ctc" in k for k in model.state_dict())

    # killed after step 5 (last checkpoint at step 4), resumed: the next losses are the same
    part = tmp_path / "part"
    first = train(_opts(corpus, part, stop_after_step=KILL_AFTER))
    assert first.stopped_early and [c.name for c in list_checkpoints(part)][-1] == "ckpt-00000004.pt"
    resumed = train(_opts(corpus, part, resume="auto", stop_after_step=KILL_AFTER + 1))
    expect, got = dict(full.losses), dict(resumed.losses)
    assert sorted(got) == [KILL_AFTER, KILL_AFTER + 1]
    for step, loss in got.items():
        assert loss == expect[step], (step, loss, expect[step])

    # memasr eval on the dev manifest prints a WER
    dev = str(corpus["dir"] / "dev.jsonl")
    assert main(["eval", "--model", str(run / "final"), "--manifest", dev, "--json", "--threads", "1"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["utterances"] >= 3 and result["wer"] is not None and result["wer"] >= 0
    assert result["rtf"] > 0 and result["unreadable"] == 0
    assert main(["eval", "--model", str(run / "final"), "--manifest", dev, "--limit", "2", "--threads", "1"]) == 0
    assert capsys.readouterr().out.startswith("WER ")
    print(f"e2e: synth {corpus['seconds']:.1f} s, train+resume+eval {time.perf_counter() - t0:.1f} s, "
          f"loss {np.mean(losses[:4]):.2f} -> {np.mean(losses[-4:]):.2f}, dev WER {100 * result['wer']:.1f}%")
