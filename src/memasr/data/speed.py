"""Speed perturbation: play a training clip faster or slower by resampling it (Kaldi's
``speed`` perturbation, lhotse's ``perturb_speed``, used by every icefall recipe).

A clip of ``n`` samples read as if it had been recorded at ``16000 * factor`` Hz and resampled
(soxr) to 16 kHz lasts ``n / factor`` samples: tempo and pitch change together. Besides new
speaking rates this shifts the formants like a different vocal tract, which matters here, where
the training voices are a few dozen synthetic ones.

The trainer plans each epoch's batches with the perturbed lengths (the factor is a pure function
of seed, epoch and index), so ``--batch-frames`` still bounds a batch. A clip sped up past the
point where its labels fit (CTC) is skipped and counted, as any too-short clip is.

Unlike the channel effects of :mod:`memasr.data.augment` it changes the clip's length, so it
runs first: ``AugmentChain(SpeedPerturbation(...), ChannelAugmenter(...))``. Every draw of
example ``index`` comes from ``numpy.random.default_rng([seed, epoch, index, 1])`` (a stream
apart from the channel augmenter's), so the result does not depend on the worker.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import soxr

from memasr.data.audio import DEFAULT_SR
from memasr.errors import InputError

SAMPLE_RATE = DEFAULT_SR  # one rate for data, features and models (memasr.data.audio)
MIN_FACTOR, MAX_FACTOR = 0.5, 2.0  # beyond these speech is no longer speech-like
_STREAM = 1  # appended to the rng key: speed draws never coincide with channel-augmentation draws


@dataclass(frozen=True)
class SpeedPerturbConfig:
    """Probability that a clip is perturbed, and the range its factor is drawn from (uniform)."""

    prob: float = 2 / 3  # as icefall's 0.9 / 1.0 / 1.1 thirds
    factors: tuple[float, float] = (0.9, 1.1)

    def validate(self) -> None:
        lo, hi = self.factors
        if not 0.0 <= self.prob <= 1.0:
            raise InputError(f"speed perturbation: prob must be in [0, 1], got {self.prob}")
        if not (math.isfinite(lo) and math.isfinite(hi) and MIN_FACTOR <= lo <= hi <= MAX_FACTOR):
            raise InputError(f"speed perturbation: factors must satisfy {MIN_FACTOR} <= low <= high <= {MAX_FACTOR}, "
                             f"got {self.factors}")


def change_speed(audio: np.ndarray, factor: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``audio [n]`` played ``factor`` times as fast: ``[round(n / factor)]`` float32."""
    if not (math.isfinite(factor) and MIN_FACTOR <= factor <= MAX_FACTOR):
        raise InputError(f"speed factor must lie in {MIN_FACTOR}..{MAX_FACTOR}, got {factor}")
    x = np.asarray(audio, dtype=np.float32)
    if factor == 1.0 or x.size == 0:
        return x.copy()
    return soxr.resample(x, sample_rate * factor, sample_rate, quality="HQ").astype(np.float32, copy=False)


class SpeedPerturbation:
    """``(audio [n], index) -> audio [~n / factor]``, a factor drawn per example and epoch."""

    def __init__(self, config: SpeedPerturbConfig | None = None, seed: int = 0, epoch: int = 0) -> None:
        self.config = config if config is not None else SpeedPerturbConfig()
        self.config.validate()
        if seed < 0 or epoch < 0:
            raise InputError(f"speed perturbation: seed and epoch must be >= 0, got {seed}, {epoch}")
        self.seed, self.epoch = int(seed), int(epoch)

    def factor(self, index: int) -> float:
        """The factor of example ``index`` (1.0 when it is left as it is)."""
        if index < 0:
            raise InputError(f"speed perturbation: example index must be >= 0, got {index}")
        rng = np.random.default_rng([self.seed, self.epoch, int(index), _STREAM])
        fires, value = rng.random() < self.config.prob, float(rng.uniform(*self.config.factors))
        return value if fires else 1.0

    def __call__(self, audio: np.ndarray, index: int) -> np.ndarray:
        return change_speed(audio, self.factor(index))


Augmenter = Callable[[np.ndarray, int], np.ndarray]  # (audio [n], example index) -> audio [m]


class AugmentChain:
    """Waveform augmenters applied in order; picklable, so data-loader workers get it whole."""

    def __init__(self, *stages: Augmenter) -> None:
        self.stages = tuple(stages)

    def __call__(self, audio: np.ndarray, index: int) -> np.ndarray:
        for stage in self.stages:
            audio = stage(audio, index)
        return audio


def chain(*stages: Augmenter | None) -> Augmenter | None:
    """One augmenter from ``stages`` (None entries dropped): None, the single stage, or a chain."""
    kept = [s for s in stages if s is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else AugmentChain(*kept)
