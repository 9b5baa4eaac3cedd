"""Shallow fusion: how an external LM enters the score of a beam-search hypothesis.

A hypothesis keeps its acoustic score and its LM score (the natural-log LM probability of
its tokens) apart; searches rank and prune by the fused score

    acoustic + scale * LM + length_bonus * len(tokens)

and the final choice, after the last frame, also adds ``scale * log p_LM(</s> | tokens)``.
The per-token bonus offsets the LM's cost of every emitted token, which otherwise favours
deletions. A :class:`ShallowFusion` that is not :attr:`~ShallowFusion.active` (scale and
bonus 0) leaves every search on its LM-free code path, bit-identical to no fusion at all.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Sequence, TypeVar

from memasr.errors import InputError

if TYPE_CHECKING:  # decoding without an LM never imports it
    from memasr.lm.ngram import NgramLM

# chosen on corpus dev (docs/results/lm_fusion.md); --lm-scale / --length-bonus defaults
DEFAULT_LM_SCALE = 0.2
DEFAULT_LENGTH_BONUS = 1.0


class Scored(Protocol):
    tokens: tuple[int, ...]
    score: float  # acoustic log-probability
    lm_score: float  # LM log-probability of ``tokens`` (no end-of-sentence term)


@dataclass(frozen=True)
class ShallowFusion:
    """An n-gram LM over the model's pieces and its weights in the fused score."""

    lm: NgramLM
    scale: float = 0.0
    length_bonus: float = 0.0

    def __post_init__(self) -> None:
        if not (self.scale >= 0 and math.isfinite(self.scale)):
            raise InputError(f"the LM scale must be a finite number >= 0, got {self.scale}")
        if not math.isfinite(self.length_bonus):
            raise InputError(f"the length bonus must be finite, got {self.length_bonus}")

    @property
    def active(self) -> bool:
        """Whether the fused score differs from the acoustic one at all."""
        return self.scale != 0.0 or self.length_bonus != 0.0

    def check_vocabulary(self, pieces: int) -> None:
        """One-line error when the LM was built for another tokenizer size."""
        if self.lm.vocab_size != pieces:
            raise InputError(f"the language model has {self.lm.vocab_size} pieces but the model "
                             f"{pieces}; build the LM for this model")

    def fused(self, hyp: Scored) -> float:
        """The ranking score of ``hyp`` while frames are still to come."""
        return hyp.score + self.scale * hyp.lm_score + self.length_bonus * len(hyp.tokens)

    def final(self, hyp: Scored) -> float:
        """The ranking score after the last frame: :meth:`fused` plus the end-of-sentence term."""
        return self.fused(hyp) + self.scale * self.lm.final_score(hyp.tokens)


def active_fusion(fusion: ShallowFusion | None) -> ShallowFusion | None:
    """``fusion`` when it changes scores, else None (searches then take the LM-free path)."""
    return fusion if fusion is not None and fusion.active else None


H = TypeVar("H", bound=Scored)


def best_hypothesis(hyps: Sequence[H], fusion: ShallowFusion | None = None, final: bool = False) -> H:
    """The highest-scoring hypothesis: by acoustic score without (active) fusion, else by the
    fused score, with the end-of-sentence term when ``final``."""
    fusion = active_fusion(fusion)
    if fusion is None:
        return max(hyps, key=lambda h: h.score)
    return max(hyps, key=fusion.final if final else fusion.fused)
