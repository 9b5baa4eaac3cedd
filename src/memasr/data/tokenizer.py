"""SentencePiece tokenizer with the transducer's id convention, and text normalisation.

Model ids: 0 is the RNN-T blank and is NOT a SentencePiece piece; a SentencePiece
id ``i`` becomes model id ``i + 1``. So token ids lie in ``1..vocab_size`` and the
joiner has ``num_classes = vocab_size + 1`` outputs.

:func:`normalize_text` is the one normalisation used for corpus cleaning,
training targets and WER scoring.
"""
from __future__ import annotations

import io
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import sentencepiece as spm
from num2words import num2words

from memasr.atomic import atomic_write
from memasr.errors import InputError

BLANK_ID = 0
MODEL_FILENAME = "tokenizer.model"
# Every normalised text uses only these, so each is forced into the vocabulary.
ALPHABET = "abcdefghijklmnopqrstuvwxyz'"

_NOT_ALPHABET = re.compile(r"[^a-z' ]+")
# A number as written: 1,000,000-style thousands groups or plain digits, an optional
# decimal part, and an optional ordinal suffix (1st, 2nd, 23rd, 4th).
_NUMBER = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(st|nd|rd|th)?(?![a-z])", re.IGNORECASE)
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_MAX_SPELLED_DIGITS = 15  # longer digit runs (ids, phone numbers) are read digit by digit


def _spell_digits(digits: str) -> str:
    return " ".join(_DIGIT_WORDS[int(c)] for c in digits)


def _spell_integer(digits: str, ordinal: bool = False) -> str:
    """"1999" -> "one thousand nine hundred ninety nine" (num2words, without its "and")."""
    if (len(digits) > 1 and digits[0] == "0") or len(digits) > _MAX_SPELLED_DIGITS:
        return _spell_digits(digits)
    words = num2words(int(digits), lang="en", to="ordinal" if ordinal else "cardinal")
    words = re.sub(r"[^a-z]+", " ", words.lower())
    return " ".join(w for w in words.split() if w != "and")


def _spell_number(m: re.Match) -> str:
    whole, frac, suffix = m.group(1).replace(",", ""), m.group(2), m.group(3)
    if frac is not None:  # 3.14 -> three point one four (an ordinal suffix after a decimal is ignored)
        return f" {_spell_integer(whole)} point {_spell_digits(frac)} "
    return f" {_spell_integer(whole, ordinal=suffix is not None)} "


def normalize_text(s: str) -> str:
    """Lower-case ASCII letters, inner apostrophes and single spaces; numbers spelled out.

    Accents are stripped (café -> cafe), curly apostrophes straightened, digits
    spelled out in words ("3 cats" -> "three cats", "1,999" and "1999" -> "one thousand
    nine hundred ninety nine", "2nd" -> "second", "3.5" -> "three point five", a leading
    zero or a run of more than 15 digits digit by digit), every other character
    (punctuation, symbols) becomes a word break, and apostrophes at word edges
    (quotation marks) are dropped.
    """
    text = unicodedata.normalize("NFKD", s.replace("\u2019", "'").replace("\u2018", "'"))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    if any(c.isdigit() for c in text):
        text = _NUMBER.sub(_spell_number, text)
    text = _NOT_ALPHABET.sub(" ", text)
    words = (w.strip("'") for w in text.split())
    return " ".join(w for w in words if w)


class Tokenizer:
    """SentencePiece wrapper returning model ids (SentencePiece id + 1; 0 = blank)."""

    def __init__(self, model_proto: bytes) -> None:
        self._proto = bytes(model_proto)
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(self._proto)
        except Exception as exc:  # sentencepiece raises RuntimeError/OSError variants
            raise InputError(f"not a valid SentencePiece model: {exc}") from None
        self._unk = self._sp.unk_id()

    # ---- construction / persistence -------------------------------------------------

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        out_dir: str | os.PathLike,
        vocab_size: int = 256,
        model_type: str = "bpe",
    ) -> "Tokenizer":
        """Train on normalised ``texts`` and write ``out_dir/tokenizer.model`` atomically.

        ``vocab_size`` counts SentencePiece pieces (including ``<unk>``), so the
        model has ``vocab_size + 1`` classes. For model_type "unigram" the size is a
        soft limit on small corpora.
        """
        if model_type not in ("bpe", "unigram"):
            raise InputError(f"tokenizer model_type must be 'bpe' or 'unigram', got {model_type!r}")
        if vocab_size < len(ALPHABET) + 2:
            raise InputError(f"tokenizer vocab_size must be at least {len(ALPHABET) + 2}, got {vocab_size}")
        sentences = (t for t in (normalize_text(x) for x in texts) if t)
        buf = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=sentences,
                model_writer=buf,
                vocab_size=vocab_size,
                model_type=model_type,
                character_coverage=1.0,
                required_chars=ALPHABET,
                # our ids are shifted by one for blank; no bos/eos/pad pieces wanted
                unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
                normalization_rule_name="identity",  # normalize_text already did it
                hard_vocab_limit=False,  # small corpora: vocab_size is an upper bound
                num_threads=min(4, os.cpu_count() or 1),
                minloglevel=2,
            )
        except RuntimeError as exc:
            raise InputError(f"tokenizer training failed (vocab_size={vocab_size}): {exc}") from None
        if not buf.getvalue():
            raise InputError("tokenizer training failed: no text to train on")
        tok = cls(buf.getvalue())
        tok.save(out_dir)
        return tok

    @classmethod
    def load(cls, dir_or_file: str | os.PathLike) -> "Tokenizer":
        """Load from a ``tokenizer.model`` file or a directory (e.g. a checkpoint) holding one."""
        p = Path(dir_or_file)
        if p.is_dir():
            p = p / MODEL_FILENAME
        if not p.is_file():
            raise InputError(f"tokenizer model not found: {p}")
        return cls(p.read_bytes())

    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write ``out_dir/tokenizer.model`` atomically; returns its path."""
        path = Path(out_dir) / MODEL_FILENAME
        with atomic_write(path, "wb") as fh:
            fh.write(self._proto)
        return path

    def to_bytes(self) -> bytes:
        """Serialized model, e.g. to embed in a checkpoint dict (see ``__init__``)."""
        return self._proto

    # ---- ids ------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        """Number of SentencePiece pieces (token ids are 1..vocab_size)."""
        return self._sp.get_piece_size()

    @property
    def num_classes(self) -> int:
        """Joiner output size: pieces plus the blank."""
        return self.vocab_size + 1

    @property
    def blank_id(self) -> int:
        return BLANK_ID

    def encode(self, text: str) -> list[int]:
        """Normalise and encode ``text`` to model ids in 1..vocab_size."""
        return [i + 1 for i in self._sp.encode(normalize_text(text), out_type=int)]

    def decode(self, ids: Sequence[int]) -> str:
        """Model ids -> text; blanks (0) are skipped."""
        sp_ids = []
        for i in ids:
            i = int(i)
            if i == BLANK_ID:
                continue
            if not 1 <= i <= self.vocab_size:
                raise ValueError(f"token id {i} outside 0..{self.vocab_size}")
            sp_ids.append(i - 1)
        return self._sp.decode(sp_ids)

    def id_to_piece(self, token_id: int) -> str:
        """Piece string of a model id ("<blank>" for 0)."""
        return "<blank>" if token_id == BLANK_ID else self._sp.id_to_piece(int(token_id) - 1)

    def can_encode(self, text: str) -> bool:
        """False when the normalised text would need the ``<unk>`` piece."""
        return (self._unk + 1) not in self.encode(text)
