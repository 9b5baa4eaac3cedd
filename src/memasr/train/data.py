"""Training data: manifest and on-the-fly synthetic sources, bucketing, collation, SpecAugment.

Every example is a pure function of its index (manifest row, or synthetic
example number), and every batch list is a pure function of ``(seed, epoch)``
or of the optimizer step, so ``--resume`` reproduces the data stream exactly.

A bad example never stops training: the dataset returns a *skip record*
(reason + where) instead of an example, the collate function drops it and the
trainer counts it. Cheap checks (missing file, empty or unencodable text, clip
too short for its labels by the manifest duration) run once up front in
:func:`filter_entries`; the rest (unreadable audio, real length) when loading.
"""
from __future__ import annotations

import dataclasses
import math
import os
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from memasr.data.features import FeatureConfig, LogMel
from memasr.data.speed import Augmenter  # e.g. ChannelAugmenter, or an AugmentChain with speed perturbation
from memasr.data.tokenizer import Tokenizer, normalize_text
from memasr.errors import InputError
from memasr.model.config import ModelConfig

# skip reasons (stable strings: they appear in logs, summaries and tests)
MISSING = "missing audio file"
UNREADABLE = "unreadable audio file"
EMPTY_TEXT = "empty transcript"
UNENCODABLE = "text the tokenizer cannot encode"
TOO_SHORT = "clip too short for its labels"
SYNTH_FAILED = "synthesis failed"
REASONS = (MISSING, UNREADABLE, EMPTY_TEXT, UNENCODABLE, TOO_SHORT, SYNTH_FAILED)

SYNTH_PREFIX = "synth:"



def encoder_frames(config: ModelConfig, feature_frames: int) -> int:
    """Encoder output frames for ``feature_frames`` 10 ms frames (stacking + time reduction)."""
    enc = config.encoder
    if feature_frames < enc.stack_frames:
        return 0
    stacked = (feature_frames - enc.stack_frames) // enc.stack_stride + 1
    return -(-stacked // enc.total_reduction)


def feature_config(config: ModelConfig) -> FeatureConfig:
    """The model's own front end (one configuration for training and inference)."""
    return config.features


# --------------------------------------------------------------------------- up-front checks


def filter_entries(entries: Sequence[dict], tokenizer: Tokenizer, config: ModelConfig,
                   check_files: bool = True) -> tuple[list[dict], list[tuple[str, str]]]:
    """Split manifest rows into usable ones (with ``tokens`` added) and ``(reason, where)`` skips."""
    fcfg = feature_config(config)
    good: list[dict] = []
    skips: list[tuple[str, str]] = []
    for entry in entries:
        where = entry["audio_filepath"]
        if check_files and not os.path.isfile(where):
            skips.append((MISSING, where))
            continue
        text = normalize_text(entry["text"])
        if not text:
            skips.append((EMPTY_TEXT, where))
            continue
        if not tokenizer.can_encode(text):
            skips.append((UNENCODABLE, where))
            continue
        tokens = tokenizer.encode(text)
        samples = int(float(entry["duration"]) * fcfg.sample_rate)
        if encoder_frames(config, fcfg.num_frames(samples)) < max(1, len(tokens)):
            skips.append((TOO_SHORT, where))
            continue
        good.append({**entry, "tokens": tokens})
    return good, skips


# --------------------------------------------------------------------------- datasets


class _Featurizer:
    """audio -> log-mel features [T, F] plus the too-short check (runs in loader workers)."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.fcfg = feature_config(config)
        self.logmel = LogMel(self.fcfg)

    def example(self, audio: np.ndarray, tokens: list[int], where: str) -> dict:
        frames = self.fcfg.num_frames(len(audio))
        if encoder_frames(self.config, frames) < max(1, len(tokens)):
            return {"skip": TOO_SHORT, "where": where}
        feats = self.logmel(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)))
        return {"features": feats, "tokens": tokens, "seconds": len(audio) / self.fcfg.sample_rate,
                "where": where}


class ManifestDataset(torch.utils.data.Dataset):
    """Rows of a filtered manifest (see :func:`filter_entries`); item = example or skip record.
    ``augmenter`` (training sets only) changes each waveform before its features."""

    def __init__(self, entries: Sequence[dict], config: ModelConfig, augmenter: Augmenter | None = None) -> None:
        self.entries = list(entries)
        self.featurizer = _Featurizer(config)
        self.augmenter = augmenter

    def __len__(self) -> int:
        return len(self.entries)

    def frames(self, idx: int) -> int:
        return max(1, int(round(float(self.entries[idx]["duration"]) * 100)))

    def __getitem__(self, idx: int) -> dict:
        from memasr.data.audio import load_audio

        entry = self.entries[idx]
        where = entry["audio_filepath"]
        try:
            audio, _ = load_audio(where, self.featurizer.fcfg.sample_rate)
        except InputError as exc:
            return {"skip": MISSING if "not found" in str(exc) else UNREADABLE, "where": where}
        except (OSError, RuntimeError, ValueError):
            return {"skip": UNREADABLE, "where": where}
        offset = entry.get("offset")
        if offset:  # segment of a longer recording (lhotse imports)
            sr = self.featurizer.fcfg.sample_rate
            audio = audio[int(offset * sr):int((offset + entry["duration"]) * sr)]
        if self.augmenter is not None:
            audio = self.augmenter(audio, idx)
        return self.featurizer.example(audio, entry["tokens"], where)


class SynthDataset(torch.utils.data.Dataset):
    """On-the-fly TTS (:class:`memasr.data.synth.OnTheFlySynthDataset`) + optional
    ``augmenter`` (applied to the waveform) + features + tokens."""

    def __init__(self, source, tokenizer: Tokenizer, config: ModelConfig, augmenter: Augmenter | None = None) -> None:
        self.source = source
        self.tokenizer = tokenizer
        self.featurizer = _Featurizer(config)
        self.augmenter = augmenter

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, idx: int) -> dict:
        where = f"synth:{idx}"
        try:
            item = self.source[idx]
        except IndexError:
            raise
        except Exception:  # an engine hiccup must not stop training
            return {"skip": SYNTH_FAILED, "where": where}
        text = normalize_text(item["text"])
        if not text:
            return {"skip": EMPTY_TEXT, "where": where}
        if not self.tokenizer.can_encode(text):
            return {"skip": UNENCODABLE, "where": where}
        audio = item["audio"]
        if audio is None or len(audio) < 2 or not np.isfinite(audio).all():
            return {"skip": SYNTH_FAILED, "where": where}
        if self.augmenter is not None:
            audio = self.augmenter(audio, idx)
        return self.featurizer.example(audio, self.tokenizer.encode(text), f"{where}:{item.get('voice', '')}")


def synth_length_estimate(spec: "UtteranceSpec") -> float:
    """A length known before synthesis, for sorting synthetic clips into batches: characters of
    the sentence divided by its speaking-rate factor. On espeak-ng + flite it correlates 0.957 with
    the clip's duration, against 0.883 for the word count, and cuts padding at 33-utterance
    batches from 38% to 28% (docs/results/synth_padding.md)."""
    return len(spec.text) / max(spec.speed, 1e-3)


def make_synth_source(seed: int, engines: Sequence[str] | None = None, *, commercial_only: bool = False):
    """The on-the-fly synthetic source (raises InputError when no engine or text is installed);
    ``commercial_only`` keeps only voices whose license allows commercial use."""
    try:
        from memasr.data.synth import ENGINES, OnTheFlySynthDataset
    except ImportError as exc:  # pragma: no cover - module is part of the package
        raise InputError(f"on-the-fly synthesis is unavailable: {exc}") from None
    return OnTheFlySynthDataset(seed=seed, engines=list(engines) if engines else ENGINES, allow_missing=True,
                                commercial_only=commercial_only)


# --------------------------------------------------------------------------- batching


def bucket_batches(frames: Sequence[int], budget: int, seed: int, epoch: int,
                   tokens: Sequence[int] | None = None, token_budget: int | None = None) -> list[list[int]]:
    """Duration- and token-bucketed batches of dataset indices for one epoch.

    Indices are sorted by length, then token count (with +-10% jitter drawn from
    ``(seed, epoch)`` so batches differ between epochs), cut greedily so that
    ``batch size x longest`` stays within ``budget`` frames and, with ``tokens``,
    ``batch size x most tokens`` within ``token_budget`` (the padded label axis of
    the loss); a longer clip gets a batch of its own. The batch order is shuffled.
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    toks = tokens if tokens is not None else [0] * len(frames)
    keyed = sorted(range(len(frames)), key=lambda i: (frames[i] * (1.0 + rng.uniform(-0.1, 0.1)), toks[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = most = 0
    for i in keyed:
        n, u = frames[i], toks[i]
        full = max(longest, n) * (len(current) + 1) > budget
        if token_budget is not None:
            full = full or max(most, u) * (len(current) + 1) > token_budget
        if current and full:
            batches.append(current)
            current, longest, most = [], 0, 0
        current.append(i)
        longest, most = max(longest, n), max(most, u)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def padding_waste(batches: Sequence[Sequence[int]], lengths: Sequence[int]) -> float:
    """Share of a batch plan's padded cells that are padding: ``1 - sum(len) / sum(B x max)``."""
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches if b)
    return 1.0 - sum(lengths[i] for b in batches for i in b) / padded if padded else 0.0


def shard_batches(batches: list[list[int]], rank: int, world: int) -> list[list[int]]:
    """This rank's batches; every rank gets the same count (the remainder is dropped,
    or batches are reused when there are fewer batches than ranks)."""
    if world <= 1:
        return batches
    if len(batches) < world:
        batches = [batches[i % len(batches)] for i in range(world)]
    usable = len(batches) // world * world
    return batches[rank:usable:world]


class SynthBatchSampler(torch.utils.data.Sampler):
    """Endless index batches for the synthetic source; starts at ``start_step`` on resume.

    Without ``size_of``, step ``s`` of rank ``r`` takes examples ``(s * world + r) * B ..
    + B - 1``. With ``size_of(index)`` (an estimate known before synthesis, e.g.
    :func:`synth_length_estimate` of the index's spec), the examples of ``group`` consecutive
    steps are sorted by it and cut into that many batches, so clips of a batch have similar
    lengths (less padding); batch ``s`` is still a pure function of ``s``, so resume stays exact.
    """

    def __init__(self, batch_size: int, start_step: int, rank: int, world: int, length: int,
                 size_of=None, group: int = 16) -> None:
        self.batch_size, self.start_step, self.rank, self.world, self.length = (
            batch_size, start_step, rank, world, length)
        self.size_of, self.group = size_of, group
        self._sorted: tuple[int, list[int], list[int]] | None = None  # (group, sorted pool, batch order)

    def batch(self, step: int) -> list[int]:
        B = self.batch_size
        if self.size_of is None:
            first = (step * self.world + self.rank) * B
            return [(first + j) % self.length for j in range(B)]
        g, k = divmod(step, self.group)
        # the group's pool is sorted once, not once per step: size_of draws a spec per index, and
        # redoing that every step cost the main process 18x more (docs/results/synth_padding.md)
        if self._sorted is None or self._sorted[0] != g:
            first = g * self.group * self.world * B + self.rank
            pool = [(first + j * self.world) % self.length for j in range(self.group * B)]  # this rank's share
            pool.sort(key=lambda i: (self.size_of(i), i))
            order = random.Random(g).sample(range(self.group), self.group)  # batch order within the group
            self._sorted = (g, pool, order)
        _, pool, order = self._sorted
        return pool[order[k] * B:(order[k] + 1) * B]

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        while True:
            yield self.batch(step)
            step += 1


@dataclass
class Batch:
    features: torch.Tensor  # [B, T, F]
    feature_lengths: torch.Tensor  # [B]
    targets: torch.Tensor  # [B, U] (0-padded)
    target_lengths: torch.Tensor  # [B]
    seconds: float
    skips: list[tuple[str, str]]

    @property
    def size(self) -> int:
        return int(self.features.shape[0])

    def pin_memory(self) -> "Batch":  # called by DataLoader(pin_memory=True)
        return Batch(self.features.pin_memory(), self.feature_lengths.pin_memory(), self.targets.pin_memory(),
                     self.target_lengths.pin_memory(), self.seconds, self.skips)

    def to(self, device: torch.device) -> "Batch":
        return Batch(self.features.to(device, non_blocking=True), self.feature_lengths.to(device),
                     self.targets.to(device), self.target_lengths.to(device), self.seconds, self.skips)


def collate(items: Sequence[dict]) -> Batch:
    good = [it for it in items if "skip" not in it]
    skips = [(it["skip"], it["where"]) for it in items if "skip" in it]
    n_mels = good[0]["features"].shape[1] if good else 80
    B = len(good)
    T = max((it["features"].shape[0] for it in good), default=0)
    U = max((len(it["tokens"]) for it in good), default=0)
    features = torch.zeros(B, T, n_mels)
    targets = torch.zeros(B, U, dtype=torch.long)
    flen = torch.zeros(B, dtype=torch.long)
    tlen = torch.zeros(B, dtype=torch.long)
    for b, it in enumerate(good):
        f = it["features"]
        features[b, :f.shape[0]] = f
        flen[b] = f.shape[0]
        targets[b, :len(it["tokens"])] = torch.tensor(it["tokens"], dtype=torch.long)
        tlen[b] = len(it["tokens"])
    return Batch(features, flen, targets, tlen, float(sum(it["seconds"] for it in good)), skips)


def worker_init(_worker_id: int) -> None:
    torch.set_num_threads(1)  # loader workers must not fight the training threads


# --------------------------------------------------------------------------- SpecAugment


@dataclass
class SpecAugmentConfig:
    freq_masks: int = 2
    freq_width: int = 27
    time_masks: int = 5
    time_width: int = 40  # frames; also at most time_ratio of the utterance
    time_ratio: float = 0.05

    @property
    def enabled(self) -> bool:
        return self.freq_masks > 0 or self.time_masks > 0

    def scaled(self, strength: float) -> "SpecAugmentConfig":
        """Mask widths times ``strength`` in [0, 1] (the trainer's regularisation ramp)."""
        if strength >= 1.0:
            return self
        return dataclasses.replace(self, freq_width=int(self.freq_width * strength),
                                   time_width=int(self.time_width * strength))


def spec_augment(features: torch.Tensor, lengths: torch.Tensor, cfg: SpecAugmentConfig,
                 generator: torch.Generator, fill: torch.Tensor | None = None) -> torch.Tensor:
    """Frequency and time masks (Park et al. 2019), vectorised over the batch.

    Masked cells get ``fill`` ([F], e.g. the CMVN mean so they normalise to 0).
    Random numbers come from ``generator`` only, so a step's masks are reproducible.
    """
    B, T, F = features.shape
    if B == 0 or T == 0 or not cfg.enabled:
        return features
    mask = torch.zeros(B, T, F, dtype=torch.bool)
    if cfg.freq_masks > 0 and cfg.freq_width > 0:
        width = (torch.rand(B, cfg.freq_masks, generator=generator) * (cfg.freq_width + 1)).long()
        start = (torch.rand(B, cfg.freq_masks, generator=generator) * (F - width + 1).clamp_min(1)).long()
        f = torch.arange(F)
        fmask = ((f >= start[..., None]) & (f < (start + width)[..., None])).any(1)  # [B, F]
        mask |= fmask[:, None, :]
    if cfg.time_masks > 0 and cfg.time_width > 0:
        lens = lengths.cpu().float()
        cap = torch.minimum(torch.full_like(lens, float(cfg.time_width)), (lens * cfg.time_ratio).floor())
        width = (torch.rand(B, cfg.time_masks, generator=generator) * (cap[:, None] + 1)).long()
        start = (torch.rand(B, cfg.time_masks, generator=generator)
                 * (lens[:, None] - width + 1).clamp_min(1)).long()
        t = torch.arange(T)
        tmask = ((t >= start[..., None]) & (t < (start + width)[..., None])).any(1)  # [B, T]
        mask |= tmask[:, :, None]
    mask = mask.to(features.device)
    fill_value = (fill if fill is not None else torch.zeros(F)).to(features.device, features.dtype)
    return torch.where(mask, fill_value.expand_as(features), features)


def summarize_skips(counts: Counter) -> str:
    total = sum(counts.values())
    if not total:
        return "no examples skipped"
    parts = ", ".join(f"{reason}: {n}" for reason, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"skipped {total} example{'s' if total != 1 else ''} ({parts})"


def estimate_synth_batch(batch_frames: int, mean_seconds: float = 3.0) -> int:
    return max(1, int(math.floor(batch_frames / (mean_seconds * 100))))
