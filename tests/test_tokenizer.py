"""SentencePiece tokenizer: id convention, round trip, persistence, normalisation."""
from __future__ import annotations

import random

import pytest

from memasr.data.tokenizer import MODEL_FILENAME, Tokenizer, normalize_text
from memasr.errors import InputError

_WORDS = (
    "the a of and to in is was he she it that for on with as his her they at be this "
    "from have or by one had not but what all were when we there can an your which "
    "their said if do will each about how up out them then many some so these would "
    "other into has more two like him see time could no make than first been its who "
    "now people my made over did down only way find use may water long little very "
    "after words called just where most know get through back much before go good new "
    "write our used me man too any day same right look think also around another came"
).split()


def _sentences(n: int = 200, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 14))).capitalize() + "."
            for _ in range(n)]


@pytest.fixture(scope="module")
def tok(tmp_path_factory) -> Tokenizer:
    return Tokenizer.train(_sentences(), tmp_path_factory.mktemp("tok"), vocab_size=128)


def test_normalize_text():
    assert normalize_text("  Hello,   WORLD!\n") == "hello world"
    assert normalize_text("'Don't,' she said \u2014 it\u2019s O'Brien's CAF\u00c9.") == \
        "don't she said it's o'brien's cafe"
    assert normalize_text("3 cats & 2 dogs") == "three cats two dogs"
    assert normalize_text("--- ''' ") == ""
    assert normalize_text(normalize_text("Ünïcödé text")) == "unicode text"


def test_ids_in_range_and_round_trip(tok):
    assert 28 < tok.vocab_size <= 128
    assert tok.num_classes == tok.vocab_size + 1 and tok.blank_id == 0
    for sentence in _sentences(50, seed=1):
        ids = tok.encode(sentence)
        assert ids and all(1 <= i <= tok.vocab_size for i in ids)
        assert tok.decode(ids) == normalize_text(sentence)
    # multi-letter pieces were learnt: common words take fewer tokens than letters
    assert len(tok.encode("the people")) < len("thepeople")


def test_unseen_letters_still_encodable(tok):
    # q, x, z never occur in the training words but every letter is forced into the vocabulary
    text = "quixotic zebra jazz"
    assert tok.can_encode(text)
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode(tok.encode("Hello, World!")) == "hello world"


def test_decode_skips_blank_and_rejects_out_of_range(tok):
    ids = tok.encode("good day")
    with_blanks = [0] + ids[:1] + [0, 0] + ids[1:] + [0]
    assert tok.decode(with_blanks) == "good day"
    assert tok.id_to_piece(0) == "<blank>"
    with pytest.raises(ValueError):
        tok.decode([tok.vocab_size + 1])


def test_can_encode_false_for_unk_pieces(tmp_path):
    # an externally trained model that lacks letters: bypass required_chars via sentencepiece directly
    import io

    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(["aaa bbb ab ba"] * 50), model_writer=buf, vocab_size=8,
        model_type="bpe", unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, minloglevel=2,
        hard_vocab_limit=False,
    )
    small = Tokenizer(buf.getvalue())
    assert small.can_encode("ab ba")
    assert not small.can_encode("abc")


def test_save_load(tok, tmp_path):
    path = tok.save(tmp_path / "ckpt")
    assert path == tmp_path / "ckpt" / MODEL_FILENAME and path.is_file()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    for source in (tmp_path / "ckpt", path):
        loaded = Tokenizer.load(source)
        assert loaded.vocab_size == tok.vocab_size
        assert loaded.encode("what did they write") == tok.encode("what did they write")
    assert Tokenizer(tok.to_bytes()).encode("time") == tok.encode("time")


def test_train_writes_model_file(tmp_path):
    out = tmp_path / "unigram"
    t = Tokenizer.train(iter(_sentences(200, seed=2)), out, vocab_size=64, model_type="unigram")
    assert (out / MODEL_FILENAME).is_file()
    assert t.vocab_size <= 64
    assert Tokenizer.load(out).decode(t.encode("Many people")) == "many people"


def test_errors(tmp_path):
    with pytest.raises(InputError):
        Tokenizer.load(tmp_path / "missing")
    (tmp_path / "bad.model").write_bytes(b"not a model")
    with pytest.raises(InputError):
        Tokenizer.load(tmp_path / "bad.model")
    with pytest.raises(InputError):
        Tokenizer.train(_sentences(10), tmp_path, model_type="word")
    with pytest.raises(InputError):
        Tokenizer.train(_sentences(10), tmp_path, vocab_size=10)
    with pytest.raises(InputError):
        Tokenizer.train(["---", "!!!"], tmp_path / "empty", vocab_size=64)
