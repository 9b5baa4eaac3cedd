"""Log-mel filterbank features (Kaldi fbank), streaming and whole-utterance.

The default :class:`FeatureConfig` is the front end of sherpa-onnx (kaldi-native-fbank
with 80 bins, 16 kHz, 25/10 ms, povey window, dither 0, ``snip_edges = False``, mel band
20 Hz .. nyquist - 400 Hz, log floored at float32 epsilon, samples in [-1, 1]), so a model
trained here runs in sherpa-onnx unchanged; tests check it against kaldi-native-fbank.
:meth:`FeatureConfig.legacy` is the front end of models trained before that change.

Framing (:mod:`memasr.data.framing`, shared with the torch-free ONNX runtime):
``snip_edges = True`` takes frame ``k`` from samples ``[k * hop, k * hop + win)`` with no
padding; ``snip_edges = False`` centres frame ``k`` on ``k * hop + hop / 2`` and mirrors
the signal at both ends, as Kaldi does, giving ``(N + hop // 2) // hop`` frames.
Every frame is computed from its own samples only, which makes :class:`StreamingLogMel`
produce exactly the frames :class:`LogMel` does.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from memasr.data import framing
from memasr.errors import InputError

LEGACY_LOG_FLOOR = 1e-10
FLOAT32_EPS = float(np.finfo(np.float32).eps)  # Kaldi's floor for log mel energies


@dataclass(frozen=True)
class FeatureConfig:
    """Front-end settings; the defaults are sherpa-onnx's (see the module docstring)."""

    sample_rate: int = 16000
    n_mels: int = 80
    win_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int = 512
    dither: float = 0.0  # std of Gaussian noise added per frame (training only; breaks determinism)
    preemphasis: float = 0.97  # 0 disables
    remove_dc_offset: bool = True
    window: str = "povey"  # "povey" (hann ** 0.85, as Kaldi) or "hann"
    low_freq: float = 20.0
    high_freq: float = -400.0  # <= 0 means nyquist + high_freq
    snip_edges: bool = False  # True: no padding, frames start at k * hop (see the module docstring)
    log_floor: float = FLOAT32_EPS

    @classmethod
    def legacy(cls, **overrides) -> "FeatureConfig":
        """The front end of memasr models trained before the sherpa-onnx-compatible default."""
        values = {"high_freq": 0.0, "snip_edges": True, "log_floor": LEGACY_LOG_FLOOR, **overrides}
        return cls(**values)

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.n_mels <= 0:
            raise InputError("feature config: sample_rate and n_mels must be positive")
        if self.win_length <= 0 or self.hop_length <= 0:
            raise InputError("feature config: win_ms and hop_ms must give at least one sample")
        if self.n_fft < self.win_length:
            raise InputError(f"feature config: n_fft={self.n_fft} is shorter than the window ({self.win_length} samples)")
        if self.window not in ("povey", "hann"):
            raise InputError(f"feature config: unknown window {self.window!r} (use 'povey' or 'hann')")
        if not 0.0 <= self.low_freq < self.upper_freq:
            raise InputError(f"feature config: need 0 <= low_freq < high_freq, got {self.low_freq}, {self.upper_freq}")
        if self.dither < 0 or not 0.0 <= self.preemphasis < 1.0:
            raise InputError("feature config: dither must be >= 0 and preemphasis in [0, 1)")
        if not self.log_floor > 0:
            raise InputError(f"feature config: log_floor must be positive, got {self.log_floor}")

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.win_ms / 1000.0))

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000.0))

    @property
    def upper_freq(self) -> float:
        nyquist = self.sample_rate / 2.0
        return self.high_freq if self.high_freq > 0 else nyquist + self.high_freq

    def num_frames(self, num_samples: int) -> int:
        """Frames produced from a whole utterance of ``num_samples`` samples."""
        return framing.num_frames(num_samples, self.win_length, self.hop_length, self.snip_edges)


def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_filterbank(cfg: FeatureConfig) -> torch.Tensor:
    """HTK-mel triangular filters, triangles linear in mel (as Kaldi).

    Returns float32 [n_fft // 2 + 1, n_mels], so ``power @ fbank`` gives mel energies.
    """
    n_bins = cfg.n_fft // 2 + 1
    lo, hi = _hz_to_mel(cfg.low_freq), _hz_to_mel(cfg.upper_freq)
    edges = np.linspace(lo, hi, cfg.n_mels + 2)  # [n_mels + 2] mel points
    bin_mel = _hz_to_mel(np.arange(n_bins) * cfg.sample_rate / cfg.n_fft)  # [n_bins]
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bin_mel[None, :] - left) / (centre - left)
    down = (right - bin_mel[None, :]) / (right - centre)
    weights = np.clip(np.minimum(up, down), 0.0, None)  # [n_mels, n_bins]
    empty = np.flatnonzero(weights.sum(axis=1) == 0)
    if empty.size:
        raise InputError(
            f"feature config: mel filters {empty.tolist()} cover no FFT bin; use fewer mels or a larger n_fft"
        )
    return torch.from_numpy(weights.T.astype(np.float32))


def _window(cfg: FeatureConfig) -> torch.Tensor:
    """Analysis window [win_length] (periodic=False, as Kaldi)."""
    w = torch.hann_window(cfg.win_length, periodic=False, dtype=torch.float64)
    if cfg.window == "povey":
        w = w.pow(0.85)
    return w.float()


class _FrameKernel:
    """Shared per-frame computation: frames [..., win] -> log-mel [..., n_mels]."""

    def __init__(self, cfg: FeatureConfig) -> None:
        self.cfg = cfg
        self.window = _window(cfg)  # [win]
        self.fbank = mel_filterbank(cfg)  # [n_fft/2+1, n_mels]

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        if cfg.dither > 0:
            frames = frames + cfg.dither * torch.randn_like(frames)
        if cfg.remove_dc_offset:
            frames = frames - frames.mean(dim=-1, keepdim=True)
        if cfg.preemphasis > 0:
            # per frame, first sample against itself (Kaldi): keeps frames independent
            prev = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)
            frames = frames - cfg.preemphasis * prev
        spec = torch.fft.rfft(frames * self.window, n=cfg.n_fft)  # [..., n_fft/2+1]
        power = spec.real.square() + spec.imag.square()
        mel = power @ self.fbank  # [..., n_mels]
        return mel.clamp_min(cfg.log_floor).log()


def _as_float_tensor(waveform: torch.Tensor | np.ndarray) -> torch.Tensor:
    x = torch.as_tensor(waveform)
    if not torch.is_floating_point(x):
        raise InputError(f"features expect float samples in [-1, 1], got dtype {x.dtype}")
    return x.float()


class LogMel:
    """Whole-utterance log-mel front end.

    ``__call__(waveform [T])`` -> [frames, n_mels]; ``waveform [B, T]`` -> [B, frames, n_mels]
    with ``frames = config.num_frames(T)``.
    """

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        self._kernel = _FrameKernel(self.config)

    def __call__(self, waveform: torch.Tensor | np.ndarray) -> torch.Tensor:
        x = _as_float_tensor(waveform)
        if x.dim() not in (1, 2):
            raise InputError(f"LogMel expects [T] or [B, T] samples, got shape {tuple(x.shape)}")
        cfg = self.config
        n = cfg.num_frames(x.shape[-1])
        if n == 0:
            return x.new_zeros(*x.shape[:-1], 0, cfg.n_mels)
        if cfg.snip_edges:
            frames = x.unfold(-1, cfg.win_length, cfg.hop_length)  # [..., n, win]
        else:
            idx = framing.frame_indices(x.shape[-1], cfg.win_length, cfg.hop_length, False, 0, n)
            frames = x[..., torch.from_numpy(idx)]  # [..., n, win], mirrored at both ends
        return self._kernel(frames)


class StreamingLogMel:
    """Incremental log-mel: feed samples in any chunk sizes, get each frame once.

    A frame is emitted as soon as all its samples have arrived; with ``snip_edges = False``
    the frames that reach past the end (mirrored there) come from :meth:`flush`. The
    concatenation of all ``accept`` outputs and ``flush`` equals ``LogMel(config)(whole)``.
    Only the samples that pending frames still need are buffered between calls.
    """

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        self._kernel = _FrameKernel(self.config)
        self.reset()

    def reset(self) -> None:
        """Start a new utterance."""
        self._buf = torch.zeros(0)
        self._offset = 0  # absolute index of self._buf[0]
        self._total = 0  # samples accepted so far
        self._next = 0  # next frame to emit

    def _emit(self, stop: int, final: bool) -> torch.Tensor:
        cfg = self.config
        if stop <= self._next:
            return torch.zeros(0, cfg.n_mels)
        idx = framing.frame_indices(self._total, cfg.win_length, cfg.hop_length, cfg.snip_edges,
                                    self._next, stop, mirror_end=final) - self._offset
        out = self._kernel(self._buf[torch.from_numpy(idx)])
        self._next = stop
        keep_from = max(0, framing.first_sample(self._next, cfg.win_length, cfg.hop_length, cfg.snip_edges))
        self._buf = self._buf[max(0, keep_from - self._offset):].clone()
        self._offset = max(self._offset, keep_from)
        return out

    def accept(self, samples: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Feed float samples [n]; return the newly complete frames [k, n_mels] (k may be 0)."""
        x = _as_float_tensor(samples)
        if x.dim() != 1:
            raise InputError(f"StreamingLogMel expects mono [n] samples, got shape {tuple(x.shape)}")
        cfg = self.config
        self._buf = torch.cat([self._buf, x]) if self._buf.numel() else x.clone()
        self._total += x.numel()
        ready = framing.frames_ready(self._total, cfg.win_length, cfg.hop_length, cfg.snip_edges)
        return self._emit(ready, final=False)

    def flush(self) -> torch.Tensor:
        """End of utterance: the frames that reach past the last sample ([k, n_mels], k = 0
        with ``snip_edges``); then resets for a new utterance."""
        cfg = self.config
        out = self._emit(cfg.num_frames(self._total), final=True)
        self.reset()
        return out


class GlobalCMVN(nn.Module):
    """Global per-channel mean/variance normalisation with checkpointed statistics.

    Buffers: ``mean`` [n_mels], ``std`` [n_mels], ``count`` [] (frames seen by ``fit``).
    """

    def __init__(self, n_mels: int = 80, min_std: float = 1e-5) -> None:
        super().__init__()
        self.min_std = min_std
        self.register_buffer("mean", torch.zeros(n_mels))
        self.register_buffer("std", torch.ones(n_mels))
        self.register_buffer("count", torch.zeros((), dtype=torch.int64))

    @property
    def fitted(self) -> bool:
        return bool(self.count.item() > 0)

    @torch.no_grad()
    def fit(self, features: Iterable[torch.Tensor]) -> "GlobalCMVN":
        """Estimate statistics from feature tensors [frames, n_mels] (or [B, frames, n_mels]).

        Sums run in float64 so an hours-long corpus does not lose precision.
        """
        n_mels = self.mean.numel()
        total = torch.zeros(n_mels, dtype=torch.float64)
        total_sq = torch.zeros(n_mels, dtype=torch.float64)
        count = 0
        for feats in features:
            f = torch.as_tensor(feats)
            if f.shape[-1] != n_mels:
                raise InputError(f"CMVN: expected {n_mels} channels, got shape {tuple(f.shape)}")
            f = f.reshape(-1, n_mels).to(torch.float64)
            total += f.sum(0)
            total_sq += f.square().sum(0)
            count += f.shape[0]
        if count == 0:
            raise InputError("CMVN: no feature frames to fit on")
        mean = total / count
        var = (total_sq / count - mean.square()).clamp_min(0.0)
        self.mean.copy_(mean.float())
        self.std.copy_(var.sqrt().clamp_min(self.min_std).float())
        self.count.fill_(count)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise [..., n_mels] features."""
        return (x - self.mean) / self.std

