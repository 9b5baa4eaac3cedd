"""Token n-gram LM (modified Kneser-Ney, ARPA) and its shallow fusion in the beam searches."""
from __future__ import annotations

import json
import math
import tomllib

import pytest
import torch

from memasr.cli import main
from memasr.data.tokenizer import Tokenizer
from memasr.decode.beam import beam_search, init_beam_state, modified_beam_search
from memasr.decode.fusion import ShallowFusion
from memasr.decode.greedy import greedy_search, init_greedy_state
from memasr.decode.recognizer import Recognizer, RecognizerConfig
from memasr.errors import InputError
from memasr.lm.ngram import NgramLM, read_sentences
from memasr.model.checkpoint import save_pretrained
from memasr.model.config import config_from_dict
from memasr.model.transducer import build_model

from test_decode import _enc_proj
from test_decode_models import decode_all, speechlike, tiny_model
from test_train import TINY

TEXTS = ["the cat sat on the mat", "the cat ate the rat", "a bird in the hand is worth two in the bush",
         "the heart of the matter", "he was saying that the cat sat", "hello world", "the mat is on the cat"]


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return Tokenizer.train(TEXTS * 3 + ["abcdefghijklmnopqrstuvwxyz"], tmp_path_factory.mktemp("tok"),
                           vocab_size=40)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tok):
    root = tmp_path_factory.mktemp("lm-model")
    tok.save(root / "tok")
    cfg = tomllib.loads(TINY)
    cfg["vocab_size"] = tok.vocab_size
    return str(save_pretrained(build_model(config_from_dict(cfg, "tiny")), root / "model",
                               tokenizer_file=root / "tok" / "tokenizer.model"))


HISTORIES = ["", "the", "the cat", "the cat sat on", "zebra quux", "hand is worth two in", "q"]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_kneser_ney_sums_to_one(tok, order):
    lm = NgramLM.train(TEXTS, tok, order)
    for text in HISTORIES:  # seen and unseen histories
        hist = tok.encode(text)
        v = lm.log_probs(hist)
        assert v.shape == (tok.vocab_size + 1,) and v[0] == 0.0  # the blank carries no LM score
        total = v[1:].exp().sum().item() + math.exp(lm.final_score(hist))
        assert total == pytest.approx(1.0, abs=1e-9)
        for t in (1, 5, tok.vocab_size):
            assert lm.score(hist, t) == pytest.approx(float(v[t]), abs=1e-12)


@pytest.mark.parametrize("order,min_count", [(2, 2), (3, 2), (4, 3)])
def test_pruned_lm_is_smaller_and_still_sums_to_one(tok, order, min_count):
    text = TEXTS + TEXTS[:3] + ["the cat ate the mat"]  # some n-grams seen once, some more often
    full = NgramLM.train(text, tok, order)
    pruned = NgramLM.train(text, tok, order, min_count)
    assert len(pruned.probs) < len(full.probs)
    assert all(pruned.probs[g] == full.probs[g] for g in pruned.probs)  # kept n-grams keep their estimate
    assert all(g[:-1] in pruned.probs or len(g) == 1 or g[:-1] == (0,) for g in pruned.probs)  # prefixes kept
    for text in HISTORIES + ["the cat ate", "two in the"]:
        hist = tok.encode(text)
        v = pruned.log_probs(hist)
        total = v[1:].exp().sum().item() + math.exp(pruned.final_score(hist))
        assert total == pytest.approx(1.0, abs=1e-9)
    assert pruned.sentence_score(tok.encode("the cat sat on the mat")) > pruned.sentence_score(
        tok.encode("mat the on sat cat the"))
    with pytest.raises(InputError, match="minimum n-gram count"):
        NgramLM.train(TEXTS, tok, 3, 0)


def test_lm_prefers_training_text(tok):
    lm = NgramLM.train(TEXTS, tok, 3)
    assert lm.sentence_score(tok.encode("the heart of the matter")) > lm.sentence_score(tok.encode("the hart of"
                                                                                                     " the mater"))
    with pytest.raises(InputError, match="no text"):
        NgramLM.train(["", "!!!"], tok, 3)


def test_arpa_round_trip(tok, tmp_path):
    lm = NgramLM.train(TEXTS, tok, 3)
    path = lm.write_arpa(tmp_path / "lm.arpa")
    assert path.read_text().startswith("\\data\\\nngram 1=") and not list(tmp_path.glob(".*tmp"))
    back = NgramLM.read_arpa(path, tok)
    assert back.order == 3 and back.probs.keys() == lm.probs.keys()
    for text in HISTORIES + ["the bird ate two mats"]:
        ids = tok.encode(text)
        assert back.sentence_score(ids) == pytest.approx(lm.sentence_score(ids), abs=1e-5)
        assert torch.allclose(back.log_probs(ids), lm.log_probs(ids), atol=1e-5)


def test_arpa_errors(tok, tmp_path):
    with pytest.raises(InputError, match="not found"):
        NgramLM.read_arpa(tmp_path / "none.arpa", tok)
    (tmp_path / "bad.arpa").write_text("hello\n")
    with pytest.raises(InputError, match="not an ARPA"):
        NgramLM.read_arpa(tmp_path / "bad.arpa", tok)
    words = tmp_path / "words.arpa"  # an LM over words, not this tokenizer's pieces
    words.write_text("\\data\\\nngram 1=3\n\n\\1-grams:\n-1.0\t<s>\t-0.5\n-0.5\tzebra\n-0.5\t</s>\n\n\\end\\\n")
    with pytest.raises(InputError, match="not pieces of the model's tokenizer"):
        NgramLM.read_arpa(words, tok)


def _unigram_lm(vocab: int, logp: dict[int, float] | None = None) -> NgramLM:
    """A hand-made unigram LM over ids 1..vocab (uniform unless ``logp`` says otherwise)."""
    probs = {(i,): (logp or {}).get(i, -math.log(vocab + 1)) for i in range(1, vocab + 2)}
    return NgramLM(1, [f"p{i}" for i in range(1, vocab + 1)], probs, {})


def fusion(lm: NgramLM | None, scale: float) -> ShallowFusion | None:
    return None if lm is None else ShallowFusion(lm, scale)


@pytest.mark.parametrize("kind", ["lstm", "grc"])
def test_lm_scale_zero_is_bit_identical(kind):
    model = tiny_model(kind, seed=1)
    enc_proj = _enc_proj(model, speechlike(0.5, seed=1))
    lm = _unigram_lm(model.joiner.output.out_features - 1)
    for scale_lm in ((None, 0.0), (lm, 0.0)):
        plain = modified_beam_search(model, enc_proj, [init_beam_state(model)], 4)[0]
        fused = modified_beam_search(model, enc_proj, [init_beam_state(model)], 4, None, fusion(*scale_lm))[0]
        assert [(h.tokens, h.frames, h.score) for h in plain.hyps] == [(h.tokens, h.frames, h.score)
                                                                       for h in fused.hyps]
        if kind == "grc":  # standard beam search is slow on this random model (30 symbols in 13 frames)
            continue
        plain = beam_search(model, enc_proj, init_beam_state(model), 4, 3)
        fused = beam_search(model, enc_proj, init_beam_state(model), 4, 3, None, fusion(*scale_lm))
        assert [(h.tokens, h.score) for h in plain.hyps] == [(h.tokens, h.score) for h in fused.hyps]


def test_uniform_lm_with_matching_length_bonus_changes_nothing():
    """A uniform LM costs every token log(V + 1); a bonus of the same size cancels it."""
    model = tiny_model("lstm", seed=2)
    vocab = model.joiner.output.out_features - 1
    enc_proj = _enc_proj(model, speechlike(0.6, seed=5))
    lm, scale = _unigram_lm(vocab), 0.5
    cancelled = ShallowFusion(lm, scale, scale * math.log(vocab + 1))
    base = modified_beam_search(model, enc_proj, [init_beam_state(model)], 4)[0]
    fused = modified_beam_search(model, enc_proj, [init_beam_state(model)], 4, None, cancelled)[0]
    assert sorted(h.tokens for h in fused.hyps) == sorted(h.tokens for h in base.hyps)
    assert fused.best(cancelled, True).tokens == base.best().tokens
    # without the bonus the same LM only removes tokens
    strong = ShallowFusion(lm, 2.0)
    short = modified_beam_search(model, enc_proj, [init_beam_state(model)], 4, None, strong)[0]
    assert len(short.best(strong, True).tokens) <= len(base.best().tokens)


def test_lm_changes_the_chosen_hypothesis():
    model = tiny_model("grc", seed=3)
    vocab = model.joiner.output.out_features - 1
    enc_proj = _enc_proj(model, speechlike(0.8, seed=4))
    base = modified_beam_search(model, enc_proj, [init_beam_state(model)], 4)[0].best()
    assert base.tokens
    banned = base.tokens[0]  # the LM all but forbids the token the acoustic best starts with
    lm = _unigram_lm(vocab, {banned: -30.0})
    fusion_ = ShallowFusion(lm, 0.5)
    with torch.no_grad():
        greedy = greedy_search(model, enc_proj, init_greedy_state(model), 1).hyps[0]
    for search in ("modified", "standard"):
        if search == "modified":
            state = modified_beam_search(model, enc_proj, [init_beam_state(model)], 4, None, fusion_)[0]
        else:
            state = beam_search(model, enc_proj, init_beam_state(model), 4, 1, None, fusion_)
        best = state.best(fusion_, final=True)
        assert best.tokens != base.tokens and best.tokens.count(banned) < base.tokens.count(banned)
        for h in state.hyps:  # the LM score of a hypothesis is the LM log-probability of its tokens
            assert h.lm_score == pytest.approx(lm.sentence_score(h.tokens) - lm.final_score(h.tokens))
        # greedy protection holds for the fused score
        fused = best.score + 0.5 * (best.lm_score + lm.final_score(best.tokens))
        assert fused >= greedy.score + 0.5 * lm.sentence_score(greedy.tokens) - 1e-6


def test_recognizer_with_lm(tok, model_dir):
    audio = speechlike(1.0, seed=2)
    lm = NgramLM.train(TEXTS, tok, 3)
    base = Recognizer.from_pretrained(model_dir, RecognizerConfig(decoding_method="modified_beam_search"))
    zero = Recognizer.from_pretrained(model_dir, RecognizerConfig(decoding_method="modified_beam_search",
                                                                  lm=lm, lm_scale=0.0))
    a, b = decode_all(base, audio), decode_all(zero, audio)
    assert base.get_result(a).token_ids == zero.get_result(b).token_ids
    fused = Recognizer.from_pretrained(model_dir, RecognizerConfig(decoding_method="modified_beam_search",
                                                                   lm=lm, lm_scale=0.5))
    s = decode_all(fused, audio)
    assert isinstance(fused.get_result(s).text, str)
    with pytest.raises(InputError, match="greedy"):
        Recognizer.from_pretrained(model_dir, RecognizerConfig(lm=lm, lm_scale=0.3))
    with pytest.raises(InputError, match="does not match"):  # an LM of another vocabulary
        Recognizer.from_pretrained(model_dir, RecognizerConfig(decoding_method="modified_beam_search",
                                                               lm=_unigram_lm(tok.vocab_size), lm_scale=0.3))


def test_cli_lm_builds_and_excludes(tok, model_dir, tmp_path, capsys):
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"audio_filepath": "x.wav", "text": t.upper() + "."}) + "\n" for t in TEXTS))
    plain = tmp_path / "extra.txt"
    plain.write_text("the cat sat\n\nhello there\n")
    test = tmp_path / "test.jsonl"
    test.write_text(json.dumps({"audio_filepath": "y.wav", "text": "The heart of the matter!"}) + "\n")
    out = tmp_path / "lm.arpa"
    assert main(["lm", "--model", model_dir, "--text", str(train), "--text", str(plain), "--order", "3",
                 "--exclude", str(test), "--out", str(out)]) == 0
    assert "from 8 sentences (1 excluded)" in capsys.readouterr().out
    lm = NgramLM.read_arpa(out, tok)
    kept = [t for t in TEXTS if t != "the heart of the matter"] + ["the cat sat", "hello there"]
    expected = NgramLM.train(kept, tok, 3)
    ids = tok.encode("the heart of the matter")
    assert lm.sentence_score(ids) == pytest.approx(expected.sentence_score(ids), abs=1e-5)
    assert list(read_sentences(plain)) == ["the cat sat", "hello there"]


@pytest.mark.parametrize("argv, message", [
    (["--text", "MISSING.jsonl"], "text source not found"),
    (["--text", "EMPTY"], "no training text"),
    (["--text", "TRAIN", "--exclude", "TRAIN"], "after excluding"),
    (["--text", "TRAIN", "--order", "0"], "--order"),
])
def test_cli_lm_errors(model_dir, tmp_path, capsys, argv, message):
    (tmp_path / "empty.txt").write_text("\n!!!\n")
    (tmp_path / "train.txt").write_text("the cat sat\n")
    names = {"EMPTY": str(tmp_path / "empty.txt"), "TRAIN": str(tmp_path / "train.txt"),
             "MISSING.jsonl": str(tmp_path / "missing.jsonl")}
    argv = [names.get(a, a) for a in argv]
    out = tmp_path / "lm.arpa"
    assert main(["lm", "--model", model_dir, *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and not out.exists()


def test_cli_eval_lm_mismatch_is_one_line(model_dir, tmp_path, capsys):
    other = Tokenizer.train(["zebra quux jumps over lazy dogs"] * 5 + ["abcdefghijklmnopqrstuvwxyz"],
                            tmp_path / "other", vocab_size=34)
    NgramLM.train(["zebra quux"], other, 2).write_arpa(tmp_path / "other.arpa")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio_filepath": "u.wav", "duration": 1.0, "text": "the cat"}) + "\n")
    for cmd in (["eval", "--model", model_dir, "--manifest", str(manifest)], ["transcribe", "--model", model_dir,
                                                                               str(tmp_path / "u.wav")]):
        assert main([*cmd, "--lm", str(tmp_path / "other.arpa")]) == 2
        err = capsys.readouterr().err
        assert "not pieces of the model's tokenizer" in err and len(err.strip().splitlines()) == 1
    assert main(["eval", "--model", model_dir, "--manifest", str(manifest), "--lm", str(tmp_path / "no.arpa")]) == 2
    assert "language model not found" in capsys.readouterr().err
    assert main(["eval", "--model", model_dir, "--manifest", str(manifest), "--lm", str(tmp_path / "other.arpa"),
                 "--method", "greedy"]) == 2
    assert "not greedy" in capsys.readouterr().err


@pytest.mark.parametrize("scale", ["-0.1", "nan"])
def test_cli_bad_lm_scale_is_one_line_in_both_commands(model_dir, tmp_path, capsys, scale):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio_filepath": "u.wav", "duration": 1.0, "text": "the cat"}) + "\n")
    for cmd in (["eval", "--model", model_dir, "--manifest", str(manifest)],
                ["transcribe", "--model", model_dir, str(tmp_path / "u.wav")]):
        assert main([*cmd, "--lm", str(tmp_path / "x.arpa"), f"--lm-scale={scale}"]) == 2
        err = capsys.readouterr().err
        assert "--lm-scale must be a finite number >= 0" in err and len(err.strip().splitlines()) == 1


def test_shallow_fusion_scores_and_checks():
    lm = _unigram_lm(4)
    with pytest.raises(InputError, match="scale"):
        ShallowFusion(lm, -1.0)
    with pytest.raises(InputError, match="build the LM for this model"):
        ShallowFusion(lm, 0.5).check_vocabulary(5)
    assert not ShallowFusion(lm).active and ShallowFusion(lm, 0.0, 1.0).active

    class Hyp:
        tokens, score, lm_score = (1, 2), -3.0, -2.0

    f = ShallowFusion(lm, 0.5, 1.0)
    assert f.fused(Hyp) == pytest.approx(-3.0 - 1.0 + 2.0)
    assert f.final(Hyp) == pytest.approx(f.fused(Hyp) + 0.5 * lm.final_score((1, 2)))


def test_cli_nan_length_bonus_is_refused_before_loading(model_dir, tmp_path, capsys):
    assert main(["transcribe", "--model", model_dir, str(tmp_path / "u.wav"), "--lm", str(tmp_path / "none.arpa"),
                 "--length-bonus=nan"]) == 2
    err = capsys.readouterr().err
    assert "--length-bonus must be a finite number" in err and len(err.strip().splitlines()) == 1


def test_gzip_arpa_and_the_models_own_lm(tok, model_dir, tmp_path, capsys):
    """``.arpa.gz`` reads and writes like ARPA text; ``--lm model`` uses the model folder's lm.arpa.gz."""
    import shutil

    from memasr.model.checkpoint import LM_FILE

    lm = NgramLM.train(TEXTS, tok, 3, min_count=2)
    plain, packed = lm.write_arpa(tmp_path / "lm.arpa"), lm.write_arpa(tmp_path / "lm.arpa.gz")
    assert packed.read_bytes()[:2] == b"\x1f\x8b" and packed.stat().st_size < plain.stat().st_size
    assert packed.read_bytes() == lm.write_arpa(tmp_path / "again.arpa.gz").read_bytes()  # reproducible
    back = NgramLM.read_arpa(packed, tok)
    assert back.probs.keys() == lm.probs.keys()
    (tmp_path / "bad.arpa.gz").write_bytes(packed.read_bytes()[:40])  # truncated
    with pytest.raises(InputError, match="cannot read the ARPA file"):
        NgramLM.read_arpa(tmp_path / "bad.arpa.gz", tok)

    with_lm = tmp_path / "with-lm"
    shutil.copytree(model_dir, with_lm)
    audio = speechlike(0.8, seed=3)
    wav = tmp_path / "u.wav"
    import soundfile as sf

    sf.write(str(wav), audio, 16000)
    assert main(["transcribe", "--model", model_dir, str(wav), "--lm", "model"]) == 2
    err = capsys.readouterr().err
    assert "ships no language model (lm.arpa.gz)" in err and len(err.strip().splitlines()) == 1
    shutil.copy(packed, with_lm / LM_FILE)
    assert main(["transcribe", "--model", str(with_lm), str(wav), "--lm", "model", "--json"]) == 0
    by_name = Recognizer.from_pretrained(with_lm, RecognizerConfig(decoding_method="modified_beam_search",
                                                                    lm="model", lm_scale=0.5))
    by_path = Recognizer.from_pretrained(with_lm, RecognizerConfig(decoding_method="modified_beam_search",
                                                                    lm=str(packed), lm_scale=0.5))
    assert by_name.get_result(decode_all(by_name, audio)).token_ids == by_path.get_result(
        decode_all(by_path, audio)).token_ids
