"""`memasr train`: overfitting, exact resume, bad-input skipping, checkpoints, CLI errors, synth:."""
from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from memasr.cli import main
from memasr.data.tokenizer import Tokenizer
from memasr.errors import InputError
from memasr.model.checkpoint import load_pretrained
from memasr.train import data as D
from memasr.train.trainer import (TrainOptions, Trainer, ctc_greedy, eden_factor, list_checkpoints, lr_factor,
                                  read_training_checkpoint, train)

SR = 16000
SENTENCES = ["the cat sat on the mat", "hello world this is a small test", "a bird in the hand"]

TINY = """
name = "tiny"
vocab_size = 64
schedule = "chunk:4"

[encoder]
input_dim = 80
stack_frames = 4
stack_stride = 3
cell = "lstm"
num_layers = 2
hidden_size = 48
time_reduction = [[1, 2]]
dropout = 0.1

[predictor]
kind = "stateless"
embed_dim = 32
context_size = 2

[joiner]
dim = 48
"""


def _speech(text: str, index: int) -> np.ndarray:
    """espeak-ng speech when available, else a distinct sine-burst pattern per sentence."""
    try:
        import soxr

        from memasr.data.synth import get_engine

        engine = get_engine("espeak-ng")
        if engine.available():
            audio, sr = engine.synthesize(text, "en-us")
            if len(audio):
                return soxr.resample(audio, sr, SR).astype(np.float32)
    except Exception:  # noqa: BLE001 - any engine problem: fall back to tones
        pass
    rng = np.random.default_rng(index)
    chunks = []
    for word in text.split():
        f = 200 + 80 * (sum(map(ord, word)) % 20)
        n = int(SR * (0.08 + 0.03 * len(word)))
        t = np.arange(n) / SR
        chunks += [0.3 * np.sin(2 * np.pi * f * t), 0.01 * rng.standard_normal(int(SR * 0.05))]
    return np.concatenate(chunks).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("corpus")
    rows = []
    for i, text in enumerate(SENTENCES):
        audio = _speech(text, i)
        path = root / f"u{i}.wav"
        sf.write(path, audio, SR)
        rows.append({"audio_filepath": str(path), "duration": len(audio) / SR, "text": text})
    config = root / "tiny.toml"
    config.write_text(TINY)

    def manifest(name: str, entries: list[dict]) -> str:
        p = root / name
        p.write_text("".join(json.dumps(e) + "\n" for e in entries))
        return str(p)

    return {"root": root, "rows": rows, "config": str(config), "manifest": manifest,
            "two": manifest("two.jsonl", rows[:2]), "three": manifest("three.jsonl", rows)}


def _opts(corpus: dict, out: Path, **kw) -> TrainOptions:
    base = dict(out=str(out), train=corpus["two"], config=corpus["config"], steps=30, lr=3e-3, warmup=3,
                spec_augment=False, num_workers=0, eval_every=1000, save_every=1000, log_every=5,
                progress=False, cmvn_utts=10, threads=1)  # 1 thread: robust on a busy 2-core box
    base.update(kw)
    return TrainOptions(**base)


def test_overfit_two_utterances_loss_falls_and_checkpoint_loads(corpus, tmp_path):
    out = tmp_path / "run"
    result = train(_opts(corpus, out, dev=corpus["two"], ctc_weight=0.3, eval_every=30))
    losses = [loss for _, loss in result.losses]
    assert len(losses) == 30 and all(math.isfinite(x) for x in losses)
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:3])
    assert result.dev and 0.0 <= result.dev[-1]["dev_wer"] and math.isfinite(result.dev[-1]["dev_loss"])
    # logs
    rows = (out / "train.csv").read_text().strip().splitlines()
    assert rows[0].startswith("step,") and len(rows) == 1 + 6
    for row in csv.DictReader(rows):  # the loader-wait share is a fraction of each window's wall time
        assert 0.0 <= float(row["data_wait"]) <= 1.0
    assert len((out / "dev.csv").read_text().strip().splitlines()) == 2
    # exported models load; the training-only CTC head is not part of them
    for name in ("final", "best"):
        model, tok = load_pretrained(out / name)
        assert tok is not None and tok.vocab_size == model.config.vocab_size
        assert not any("ctc" in k for k in model.state_dict())
        assert model.normalizer.fitted
        meta = json.loads((out / name / "meta.json").read_text())
        assert meta["step"] == 30
    model, _ = load_pretrained(out / "final")
    feats = torch.randn(1, 120, 80)
    enc, lengths = model.transcribe(feats, torch.tensor([120]))
    assert enc.shape[0] == 1 and int(lengths[0]) == enc.shape[1]
    assert len(list_checkpoints(out)) == 1


def test_resume_reproduces_uninterrupted_run(corpus, tmp_path):
    # 3 clips, one per batch: the kill lands mid-epoch; SpecAugment and dropout are on
    kw = dict(train=corpus["three"], steps=8, save_every=2, batch_frames=220, spec_augment=True,
              time_width=10, keep=2)
    full = train(_opts(corpus, tmp_path / "full", **kw))
    part = tmp_path / "part"
    first = train(_opts(corpus, part, stop_after_step=5, **kw))
    assert first.stopped_early and first.steps == 5
    assert [c.name for c in list_checkpoints(part)] == ["ckpt-00000002.pt", "ckpt-00000004.pt"]
    resumed = train(_opts(corpus, part, resume="auto", **kw))
    assert resumed.steps == 8
    expect = dict(full.losses)
    got = dict(resumed.losses)
    assert sorted(got) == [5, 6, 7, 8]  # restarted from the step-4 checkpoint
    for step, loss in got.items():
        assert loss == expect[step], (step, loss, expect[step])
    assert dict(first.losses)[5] == expect[5]
    a = torch.load(tmp_path / "full" / "final" / "model.pt")
    b = torch.load(part / "final" / "model.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the CSV log has no duplicate rows from the killed run
    steps = [int(r.split(",")[0]) for r in (part / "train.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps))
    # resumed into a new --out on other data: the run's own tokenizer comes along (one trained
    # afresh on the new texts would give the weights ids they never saw)
    moved = tmp_path / "moved"
    again = train(_opts(corpus, moved, **{**kw, "train": corpus["two"], "steps": 7},
                        resume=str(part / "checkpoints" / "ckpt-00000006.pt")))
    assert sorted(dict(again.losses)) == [7]
    assert (moved / "tokenizer.model").read_bytes() == (part / "tokenizer.model").read_bytes()
    # a CTC-only run trains fewer parameters: resuming across that change is refused in one line
    with pytest.raises(InputError, match="trained other parameters"):
        train(_opts(corpus, tmp_path / "ctc", **{**kw, "steps": 7}, rnnt_weight=0.0,
                    resume=str(part / "checkpoints" / "ckpt-00000006.pt")))


def test_bad_entries_are_skipped_and_counted(corpus, tmp_path):
    import sentencepiece as spm

    root = tmp_path
    good = corpus["rows"][:2]
    garbage = root / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio" * 10)
    short = root / "short.wav"
    sf.write(short, np.zeros(SR // 10, np.float32), SR)
    liar = root / "liar.wav"  # manifest claims 4 s, the file holds 0.15 s
    sf.write(liar, 0.1 * np.ones(int(SR * 0.15), np.float32), SR)
    entries = good + [
        {"audio_filepath": str(root / "nope.wav"), "duration": 1.0, "text": "missing file here"},
        {"audio_filepath": str(garbage), "duration": 1.0, "text": "the cat"},
        {"audio_filepath": good[0]["audio_filepath"], "duration": good[0]["duration"], "text": " ?! "},
        {"audio_filepath": good[0]["audio_filepath"], "duration": good[0]["duration"], "text": "zoology quiz"},
        {"audio_filepath": str(short), "duration": 0.1, "text": "the cat sat on the mat hello world"},
        {"audio_filepath": str(liar), "duration": 4.0, "text": "the cat sat on the mat hello world"},
    ]
    manifest = corpus["manifest"]("bad.jsonl", entries)
    out = root / "run"
    out.mkdir()
    # a tokenizer that cannot spell 'z' or 'q' (no forced alphabet), in SentencePiece's own format
    text = root / "text.txt"
    text.write_text("\n".join(SENTENCES * 5) + "\n")
    spm.SentencePieceTrainer.train(input=str(text), model_prefix=str(root / "sp"), vocab_size=45,
                                   model_type="bpe", unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
                                   hard_vocab_limit=False, minloglevel=2)
    shutil.copy(root / "sp.model", out / "tokenizer.model")
    result = train(_opts(corpus, out, train=manifest, steps=4, batch_frames=400))
    assert result.steps == 4
    assert result.skips[D.MISSING] == 1
    assert result.skips[D.EMPTY_TEXT] == 1
    assert result.skips[D.UNENCODABLE] == 1
    assert result.skips[D.UNREADABLE] == 1  # found when loading; counted once over the epochs
    assert result.skips[D.TOO_SHORT] == 2  # one by its duration, one by its real length
    load_pretrained(out / "final")


def test_cli_bad_input_exit_2(corpus, tmp_path, capsys):
    out = str(tmp_path / "o")
    assert main(["train", "--preset", "no-such-preset", "--train", corpus["two"], "--out", out]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert main(["train", "--config", corpus["config"], "--train", str(tmp_path / "none.jsonl"),
                 "--out", out]) == 2
    assert "manifest not found" in capsys.readouterr().err
    bad = corpus["manifest"]("allbad.jsonl", [
        {"audio_filepath": str(tmp_path / "x.wav"), "duration": 1.0, "text": "hello"},
        {"audio_filepath": corpus["rows"][0]["audio_filepath"], "duration": 1.0, "text": ""}])
    assert main(["train", "--config", corpus["config"], "--train", bad, "--out", out, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no usable entry" in err and err.strip().splitlines()[-1].startswith("memasr train: error:")
    assert main(["train", "--config", corpus["config"], "--train", "synth:", "--out", out]) == 2
    assert "endless" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # --preset and --config together
        main(["train", "--preset", "small-baseline", "--config", corpus["config"], "--train", "x", "--out", out])
    assert exc.value.code == 2


def test_cli_json_summary(corpus, tmp_path, capsys):
    out = tmp_path / "o"
    status = main(["train", "--config", corpus["config"], "--train", corpus["two"], "--out", str(out),
                   "--steps", "2", "--num-workers", "0", "--quiet", "--json", "--cmvn-utts", "5",
                   "--threads", "1"])
    assert status == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["audio_s_per_s"] > 0 and summary["skipped"] == {}
    assert (out / "final" / "model.pt").is_file()


def test_bucketing_budget_and_sharding():
    frames = [100, 300, 120, 800, 50, 290, 2000]
    batches = D.bucket_batches(frames, 900, seed=1, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(len(frames)))
    for b in batches:
        assert len(b) == 1 or max(frames[i] for i in b) * len(b) <= 900
    assert batches == D.bucket_batches(frames, 900, seed=1, epoch=0)
    shards = [D.shard_batches(batches, r, 2) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) and not set(map(tuple, shards[0])) & set(map(tuple, shards[1]))


def test_spec_augment_masks_are_seeded_and_bounded():
    x = torch.randn(2, 200, 80)
    lengths = torch.tensor([200, 120])
    cfg = D.SpecAugmentConfig(freq_masks=2, freq_width=10, time_masks=3, time_width=20)
    a = D.spec_augment(x, lengths, cfg, torch.Generator().manual_seed(3))
    b = D.spec_augment(x, lengths, cfg, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    masked = a == 0
    assert masked.any() and masked.float().mean() < 0.6
    # past its length, utterance 1 is masked only by its frequency masks (time masks stay inside)
    assert (masked[1, 120:] == masked[1, 120:121]).all()


def test_lr_schedule_warmup_then_decay():
    f = [lr_factor(s, 10, 100, 0.05) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:])) and f[-1] >= 0.05


def test_synth_source_trains(corpus, tmp_path):
    from memasr.data.synth import get_engine

    if not get_engine("espeak-ng").available():
        pytest.skip("espeak-ng is not installed")
    try:
        from memasr.data.text import load_text_pool

        load_text_pool(allow_missing=True)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no text pool: {exc}")
    from memasr.data.tokenizer import ALPHABET, Tokenizer

    out = tmp_path / "synth"
    # a ready tokenizer in OUT is used as is (training one on the ~78k-sentence pool takes a while)
    Tokenizer.train(SENTENCES + [" ".join(ALPHABET.replace("'", ""))], out, vocab_size=40)
    opts = _opts(corpus, out, train="synth:", steps=2, synth_batch=2, cmvn_utts=3, synth_engines=["espeak-ng"])
    result = train(opts)
    assert result.steps == 2 and result.audio_hours > 0
    model, tok = load_pretrained(out / "final")
    assert tok is not None and model.config.vocab_size == tok.vocab_size


def test_best_by_wer_breaks_ties_on_dev_loss():
    """Early evaluations often tie at 100% WER: the lower dev loss must then win."""
    from types import SimpleNamespace

    from memasr.train.trainer import Trainer

    saved = []
    fake = SimpleNamespace(opts=SimpleNamespace(best_metric="wer"), best=None, step=0,
                           save_model=lambda name, meta: saved.append(fake.step))
    for step, wer, loss in [(1, 1.0, 3.0), (2, 1.0, 2.5), (3, 1.0, 2.7), (4, 0.9, 2.9), (5, 0.9, 3.5)]:
        fake.step = step
        Trainer._maybe_best(fake, {"dev_wer": wer, "dev_loss": loss}, None)
    assert saved == [1, 2, 4]
    assert fake.best["step"] == 4 and fake.best["value"] == 0.9


def test_eden_schedule_depends_on_the_step_only():
    f = [eden_factor(s, 10, 100) for s in range(400)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:]))
    assert f[100] == pytest.approx(2 ** -0.25)  # ((S^2 + S^2) / S^2) ^ -0.25


def test_extending_a_run_does_not_restart_the_schedule(corpus, tmp_path):
    """Resume with a larger --steps: eden continues where it was (cosine would re-plan)."""
    kw = dict(steps=6, save_every=3, lr_schedule="eden", lr_decay_steps=4, warmup=2)
    out = tmp_path / "run"
    train(_opts(corpus, out, **kw))
    longer = dict(kw, steps=9)
    train(_opts(corpus, out, resume="auto", **longer))
    straight = tmp_path / "straight"
    train(_opts(corpus, straight, **longer))

    def lrs(folder):
        import csv

        with (folder / "train.csv").open() as fh:
            return {int(r["step"]): float(r["lr"]) for r in csv.DictReader(fh)}

    resumed, uninterrupted = lrs(out), lrs(straight)
    assert {k: resumed[k] for k in uninterrupted} == uninterrupted  # step 6: the first run's last row
    assert uninterrupted[5] == pytest.approx(3e-3 * eden_factor(5, 2, 4), rel=1e-3)  # after 5 steps


def test_ctc_greedy_merges_repeats_and_drops_blanks():
    path = torch.tensor([[0, 3, 3, 0, 3, 5, 5, 0], [2, 2, 2, 0, 0, 0, 0, 0]])
    lp = torch.nn.functional.one_hot(path, 6).float().log()
    assert ctc_greedy(lp, torch.tensor([8, 2])) == [[3, 3, 5], [2]]


def test_ctc_only_phase_then_init_from(corpus, tmp_path):
    """Phase 1 trains the encoder with CTC alone (predictor and joiner untouched, dev scored by
    CTC greedy); phase 2 warm-starts from its folder with the transducer loss."""
    ctc_dir = tmp_path / "ctc"
    result = train(_opts(corpus, ctc_dir, dev=corpus["two"], rnnt_weight=0.0, ctc_weight=1.0, eval_every=30))
    losses = [loss for _, loss in result.losses]
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:3])
    assert result.dev and math.isfinite(result.dev[-1]["dev_loss"])
    fresh = Trainer(_opts(corpus, tmp_path / "fresh", rnnt_weight=0.0, ctc_weight=1.0))
    fresh.setup()
    trained = torch.load(ctc_dir / "final" / "model.pt")
    untouched = [k for k in trained if k.startswith(("predictor.", "joiner."))]
    assert untouched and all(torch.equal(trained[k], fresh.model.state_dict()[k]) for k in untouched)
    assert (ctc_dir / "final" / "training_heads.pt").is_file()

    # phase 2: weights (CMVN and CTC head included) and tokenizer come from phase 1
    phase2 = Trainer(_opts(corpus, tmp_path / "rnnt", init_from=str(ctc_dir / "final"), steps=2))
    phase2.setup()
    for k, v in phase2.model.state_dict().items():
        assert torch.equal(v, trained[k]), k
    heads = torch.load(ctc_dir / "final" / "training_heads.pt")
    assert torch.equal(phase2.module.ctc_head.weight, heads["ctc_head"]["weight"])
    assert (tmp_path / "rnnt" / "tokenizer.model").read_bytes() == (ctc_dir / "tokenizer.model").read_bytes()
    assert phase2.step == 0  # a new run: fresh optimizer, schedule and data position
    # a run directory (its latest checkpoint) works too
    again = Trainer(_opts(corpus, tmp_path / "rnnt2", init_from=str(ctc_dir), steps=2))
    again.setup()
    assert all(torch.equal(v, trained[k]) for k, v in again.model.state_dict().items())


def test_pruned_loss_warmup_is_not_restarted_by_a_warm_start(corpus, tmp_path):
    """The pruned loss ramps in over 2000 steps for a fresh head only: --init-from with a trained
    pruned head starts at full weight (each warm-started session used to redo the ramp),
    --prune-warmup overrides, and --resume keeps the run's own value."""
    first = tmp_path / "first"
    train(_opts(corpus, first, loss="pruned", steps=2, save_every=2))

    def warm_steps(out: Path, **kw) -> int:
        trainer = Trainer(_opts(corpus, out, loss="pruned", **kw))
        trainer.setup()
        return trainer.module.pruned.warm_steps

    assert warm_steps(tmp_path / "fresh", steps=2) == 2000
    assert warm_steps(tmp_path / "warm", init_from=str(first / "final"), steps=2) == 0
    assert warm_steps(tmp_path / "forced", init_from=str(first / "final"), prune_warmup=50, steps=2) == 50
    # a CTC-only phase has no pruned head to bring: the ramp runs
    train(_opts(corpus, tmp_path / "ctc", rnnt_weight=0.0, ctc_weight=1.0, steps=2))
    assert warm_steps(tmp_path / "after-ctc", init_from=str(tmp_path / "ctc" / "final"), steps=2) == 2000
    cont = tmp_path / "cont"
    train(_opts(corpus, cont, loss="pruned", init_from=str(first / "final"), steps=2, save_every=2))
    assert json.loads((cont / "final" / "meta.json").read_text())["prune_warmup"] == 0
    assert warm_steps(cont, resume="auto", steps=4) == 0


def test_init_from_bad_inputs_are_one_line_errors(corpus, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for bad in (tmp_path / "missing", tmp_path / "empty"):
        code = main(["train", "--config", corpus["config"], "--train", corpus["two"], "--out", str(tmp_path / "o"),
                     "--steps", "1", "--init-from", str(bad), "--quiet"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and "init-from" in err[0]
    code = main(["train", "--config", corpus["config"], "--train", corpus["two"], "--out", str(tmp_path / "o"),
                 "--steps", "1", "--rnnt-weight", "0", "--ctc-weight", "0", "--quiet"])
    assert code == 2 and "nothing to train" in capsys.readouterr().err


def test_regularization_ramps_in(corpus, tmp_path):
    t = Trainer(_opts(corpus, tmp_path / "r", reg_start=10, reg_ramp=5))
    assert [t.regularization_strength(s) for s in (0, 9, 10, 12, 14, 100)] == [0.0, 0.0, 0.2, 0.6, 1.0, 1.0]
    cfg = D.SpecAugmentConfig(2, 27, 5, 40)
    assert cfg.scaled(0.5).freq_width == 13 and cfg.scaled(0.0).time_width == 0 and cfg.scaled(1.0) is cfg


def test_dropout_override_reaches_every_dropout_layer_and_the_saved_config(corpus, tmp_path):
    t = Trainer(_opts(corpus, tmp_path / "d", dropout=0.0, steps=2, save_every=2))
    t.setup()
    assert t.config.encoder.dropout == 0.0 and t.config.predictor.dropout == 0.0
    assert not t.dropouts  # dropout 0 builds no dropout layer (the test config has 0.1)
    t.fit()
    # resuming with another dropout keeps the weights and records the new value
    again = Trainer(_opts(corpus, tmp_path / "d", dropout=0.3, steps=3, resume="auto"))
    again.setup()
    assert again.dropouts and all(p == 0.3 for _, p in again.dropouts)
    assert again.step == 2
    result = again.fit()
    assert result.steps == 3
    _, config = read_training_checkpoint(list_checkpoints(tmp_path / "d")[-1])
    assert config.encoder.dropout == 0.3 and config.predictor.dropout == 0.3
    with pytest.raises(InputError, match="--dropout"):
        Trainer(_opts(corpus, tmp_path / "bad", dropout=1.0)).setup()


def test_channel_augmentation_follows_the_ramp(corpus, tmp_path):
    pytest.importorskip("pyroomacoustics")
    t = Trainer(_opts(corpus, tmp_path / "aug", augment=True, reg_start=4, reg_ramp=4, steps=10))
    t.setup()
    t._set_augmenter(0)
    assert t.train_set.augmenter is None  # step 0: before the ramp
    t.step = 6
    t._set_augmenter(0)
    aug = t.train_set.augmenter
    assert aug is not None and aug.config.reverb_prob == pytest.approx(0.4 * 3 / 4)
    result = t.fit()  # trains through the segments with the augmenter in the loader
    assert result.steps == 10 and all(math.isfinite(x) for _, x in result.losses)


def test_loaders_are_remade_often_enough_to_follow_a_short_ramp(corpus, tmp_path):
    t = Trainer(_opts(corpus, tmp_path / "seg", augment=True, reg_start=4, reg_ramp=16))
    segments = {}
    for step in (0, 3, 4, 6, 18, 19, 20, 500):
        t.step = step
        segments[step] = t._augment_segment()
    # up to the ramp's start, then eighths of the ramp (never past its end), then the long segment
    assert segments == {0: 4, 3: 1, 4: 2, 6: 2, 18: 2, 19: 1, 20: 250, 500: 250}
    t.opts.reg_start, t.opts.reg_ramp, t.step = 0, 200, 0
    assert t._augment_segment() == 25  # session x's phase: strength 1/200 for 250 steps before this


def test_token_budget_and_padding_waste():
    rng = np.random.default_rng(0)
    frames = list(rng.integers(100, 1500, size=300))
    tokens = [int(f // 25 + rng.integers(0, 30)) for f in frames]
    by_frames = D.bucket_batches(frames, 6000, 0, 0)
    both = D.bucket_batches(frames, 6000, 0, 0, tokens, 300)
    assert sorted(i for b in both for i in b) == list(range(300))
    assert all(len(b) == 1 or max(tokens[i] for i in b) * len(b) <= 300 for b in both)
    assert len(both) >= len(by_frames)
    # sorted buckets waste far less than random batches of the same sizes
    shuffled = list(rng.permutation(300))
    random_batches, k = [], 0
    for b in by_frames:
        random_batches.append(shuffled[k:k + len(b)])
        k += len(b)
    assert D.padding_waste(by_frames, frames) < 0.5 * D.padding_waste(random_batches, frames)
    assert D.padding_waste([[0]], frames) == 0.0


def test_synth_sampler_groups_similar_sizes_and_is_a_function_of_the_step():
    size = lambda i: (i * 7919) % 23  # noqa: E731
    s = D.SynthBatchSampler(4, 0, 0, 1, 10_000, size_of=size, group=8)
    it = iter(s)
    first = [next(it) for _ in range(16)]
    assert sorted(i for b in first[:8] for i in b) == list(range(32))  # a group covers its examples once
    assert all(max(map(size, b)) - min(map(size, b)) <= 10 for b in first)
    resumed = D.SynthBatchSampler(4, 5, 0, 1, 10_000, size_of=size, group=8)
    assert next(iter(resumed)) == first[5]
    ranks = [D.SynthBatchSampler(4, 0, r, 2, 10_000, size_of=size, group=8).batch(3) for r in (0, 1)]
    assert not set(ranks[0]) & set(ranks[1])


def test_synth_length_estimate_grows_with_text_and_slower_speech():
    from memasr.data.synth import UtteranceSpec

    def spec(text, speed):
        return UtteranceSpec(text=text, engine="espeak-ng", voice="en", speed=speed, pitch=1.0, aug_seed=(0,))

    short, long = spec("turn it off", 1.0), spec("turn off the lights in the kitchen", 1.0)
    assert D.synth_length_estimate(long) > D.synth_length_estimate(short)
    # same words, spoken at 0.8 of the rate: 1.25x as long
    assert D.synth_length_estimate(spec("turn it off", 0.8)) == pytest.approx(1.25 * D.synth_length_estimate(short))


def test_speed_perturbation_trains_and_chains_with_the_channel(corpus, tmp_path):
    from memasr.data.speed import AugmentChain, SpeedPerturbation

    pytest.importorskip("pyroomacoustics")
    t = Trainer(_opts(corpus, tmp_path / "speed", speed_perturb=(0.9, 1.1), steps=4))
    t.setup()
    t._set_augmenter(0)
    assert isinstance(t.train_set.augmenter, SpeedPerturbation)  # alone, at full strength from step 0
    t.opts.augment, t.step = True, 6
    t.opts.reg_start, t.opts.reg_ramp = 4, 4
    t._set_augmenter(0)
    assert isinstance(t.train_set.augmenter, AugmentChain)
    t.opts.augment, t.step = False, 0
    # batches are planned with the perturbed lengths of each epoch
    speed = t._speed_perturbation(0)
    frames = t._epoch_frames(0)
    assert frames == [max(1, round(f / speed.factor(i))) for i, f in enumerate(t.train_frames)]
    assert frames != t.train_frames and t._epoch_frames(1) != frames
    result = t.fit()
    assert result.steps == 4 and all(math.isfinite(x) for _, x in result.losses)


def test_init_scope_encoder_reuses_the_encoder_under_a_new_vocabulary(corpus, tmp_path):
    """--init-scope encoder: CMVN and encoder come from --init-from; predictor, joiner, heads and a
    tokenizer of the new config's vocab_size are fresh (another vocabulary on a trained encoder)."""
    first = tmp_path / "first"
    train(_opts(corpus, first, steps=2))
    trained = torch.load(first / "final" / "model.pt")
    other = tmp_path / "v48.toml"
    other.write_text(Path(corpus["config"]).read_text().replace("vocab_size = 64", "vocab_size = 48")
                     .replace("context_size = 2", "context_size = 3"))
    t = Trainer(_opts(corpus, tmp_path / "new", config=str(other), init_from=str(first / "final"),
                      init_scope="encoder", steps=2))
    t.setup()
    state = t.model.state_dict()
    encoder_side = [k for k in trained if k.startswith(("normalizer.", "encoder."))]
    assert encoder_side and all(torch.equal(state[k], trained[k]) for k in encoder_side)
    assert t.tokenizer.vocab_size == 48 != Tokenizer.load(first / "tokenizer.model").vocab_size
    assert t.model.config.predictor.context_size == 3
    assert t.module.pruned.warm_steps == 2000  # a fresh pruned head ramps in
    # an encoder of another shape is one line of bad input
    wide = tmp_path / "wide.toml"
    wide.write_text(Path(corpus["config"]).read_text().replace("hidden_size = 48", "hidden_size = 40"))
    code = main(["train", "--config", str(wide), "--train", corpus["two"], "--out", str(tmp_path / "w"),
                 "--steps", "1", "--init-from", str(first / "final"), "--init-scope", "encoder", "--quiet"])
    assert code == 2
    with pytest.raises(InputError, match="needs --init-from"):
        Trainer(_opts(corpus, tmp_path / "x", init_scope="encoder")).setup()


def test_init_scope_widen_starts_a_wider_encoder_from_the_same_function(corpus, tmp_path):
    """--init-scope widen: every weight, the heads and the tokenizer of --init-from, in a config
    whose encoder has more units; the wider model scores exactly what the narrow one did."""
    narrow_cfg = tmp_path / "narrow.toml"
    narrow_cfg.write_text(Path(corpus["config"]).read_text().replace("hidden_size = 48", "hidden_size = 48\nproj_size = 24"))
    wide_cfg = tmp_path / "wide.toml"
    wide_cfg.write_text(narrow_cfg.read_text().replace("hidden_size = 48", "hidden_size = 72"))
    first = tmp_path / "first"
    train(_opts(corpus, first, config=str(narrow_cfg), steps=2))
    t = Trainer(_opts(corpus, tmp_path / "wide", config=str(wide_cfg), init_from=str(first / "final"),
                      init_scope="widen", steps=2))
    t.setup()
    assert t.model.config.encoder.hidden_size == 72
    assert (tmp_path / "wide" / "tokenizer.model").read_bytes() == (first / "tokenizer.model").read_bytes()
    assert t.module.pruned.warm_steps == 0  # the trained pruned head came along
    narrow = load_pretrained(first / "final")[0].eval()
    t.model.eval()
    features, lengths = torch.randn(1, 100, 80), torch.tensor([100])
    assert torch.allclose(t.model.transcribe(features, lengths)[0], narrow.transcribe(features, lengths)[0], atol=1e-5)
    # another shape than "the same, wider" is one line of bad input
    code = main(["train", "--config", corpus["config"], "--train", corpus["two"], "--out", str(tmp_path / "w"),
                 "--steps", "1", "--init-from", str(first / "final"), "--init-scope", "widen", "--quiet"])
    assert code == 2


def test_cpu_bf16_autocast_trains_with_fp32_weights(corpus, tmp_path):
    """--cpu-bf16: the step runs under bfloat16 autocast on CPU (the first loss moves a little off
    fp32's, but not far), dev scoring stays fp32, the model still learns, and the saved weights
    stay float32."""
    grc = tmp_path / "grc.toml"
    grc.write_text(Path(corpus["config"]).read_text().replace(
        'cell = "lstm"', 'cell = "grc"\ngroups = 6\nproj_size = 24', 1))
    first, dev = {}, {}
    for bf16 in (False, True):
        # lr 1e-12: the weights stay put, so the dev rows compare the precision of scoring alone
        r = train(_opts(corpus, tmp_path / f"one-{bf16}", config=str(grc), steps=1, log_every=1,
                        cpu_bf16=bf16, lr=1e-12, dev=corpus["two"], eval_every=1))
        first[bf16], dev[bf16] = r.losses[0][1], r.dev[-1]["dev_loss"]
    assert first[True] != first[False]
    assert abs(first[True] - first[False]) < 0.02 * first[False]
    assert abs(dev[True] - dev[False]) < 1e-5 * dev[False]  # dev evaluation is fp32 on CPU either way
    out = tmp_path / "bf16"
    result = train(_opts(corpus, out, config=str(grc), cpu_bf16=True))
    losses = [loss for _, loss in result.losses]
    assert all(math.isfinite(x) for x in losses) and np.mean(losses[-5:]) < 0.6 * np.mean(losses[:3])
    model, _ = load_pretrained(out / "final")
    assert {p.dtype for p in model.parameters()} == {torch.float32}
