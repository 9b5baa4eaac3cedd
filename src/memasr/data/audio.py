"""Audio input: read any soundfile-supported file, mix to mono, resample with soxr.

Everything downstream (features, models) assumes 16 kHz mono float32 in [-1, 1].
Long files can be streamed block by block (:func:`iter_audio_blocks`) so that
an hour of audio never sits in memory at once.
"""
from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from memasr.errors import InputError

DEFAULT_SR = 16000
_QUALITY = "HQ"
_MIN_SAMPLES = 2


def _check_path(path: str | os.PathLike) -> Path:
    """Reject paths that libsndfile would report with an unhelpful message."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"audio file not found: {p}")
    if p.is_dir():
        raise InputError(f"expected an audio file, got a directory: {p}")
    if p.stat().st_size == 0:
        raise InputError(f"audio file is empty (0 bytes): {p}")
    return p


def _wav_rate_problem(p: Path) -> str | None:
    """Explain a WAV header that libsndfile rejects with a generic message, if we can."""
    with p.open("rb") as f:
        head = f.read(4096)
    if head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        chunk, size = head[pos:pos + 4], struct.unpack("<I", head[pos + 4:pos + 8])[0]
        if chunk == b"fmt ":
            if pos + 16 > len(head) or size < 16:
                return "truncated WAV header"
            rate = struct.unpack("<I", head[pos + 12:pos + 16])[0]
            return f"WAV header says sample rate {rate}" if rate == 0 else None
        pos += 8 + size + (size & 1)
    return "WAV header has no complete 'fmt ' chunk (truncated?)"


def _open(path: str | os.PathLike) -> sf.SoundFile:
    """Open ``path`` for reading; errors become InputError naming the file."""
    p = _check_path(path)
    try:
        f = sf.SoundFile(str(p))
    except (sf.SoundFileError, RuntimeError) as exc:
        reason = _wav_rate_problem(p) or str(exc)
        raise InputError(f"cannot read audio file {p}: {reason}") from None
    if f.samplerate <= 0:
        f.close()
        raise InputError(f"audio file {p} has an invalid sample rate {f.samplerate}")
    return f


def _check_rate(sr: int, what: str) -> None:
    if not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise InputError(f"{what} must be a positive integer sample rate, got {sr!r}")


def _check_finite(x: np.ndarray, source: str) -> None:
    if not np.isfinite(x).all():
        raise InputError(f"{source} contains NaN or infinite samples")


def to_mono_float(samples: np.ndarray, source: str = "audio") -> np.ndarray:
    """Convert samples to float32 mono in [-1, 1].

    Args:
        samples: [N] or [N, C] (frames first, as soundfile returns them); float
            (any precision, assumed already in [-1, 1]) or int16/int32 PCM.
        source: name used in error messages.
    Returns:
        float32 [N]; channels are averaged.
    """
    x = np.asarray(samples)
    if x.ndim not in (1, 2):
        raise InputError(f"{source}: expected [N] or [N, channels] samples, got shape {x.shape}")
    if x.dtype == np.int16:
        x = x.astype(np.float32) / 32768.0
    elif x.dtype == np.int32:
        x = (x.astype(np.float64) / 2147483648.0).astype(np.float32)
    elif np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32, copy=False)
    else:
        raise InputError(f"{source}: unsupported sample type {x.dtype} (use float, int16 or int32)")
    if x.ndim == 2:
        if x.shape[1] == 0:
            raise InputError(f"{source}: audio has no channels")
        # mean in float64 would double memory for long files; float32 is exact enough here
        x = x.mean(axis=1, dtype=np.float32) if x.shape[1] > 1 else x[:, 0]
    _check_finite(x, source)
    return np.ascontiguousarray(x)


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample mono float32 ``x`` [N] from ``sr_in`` to ``sr_out`` (soxr HQ).

    Returns float32 [round(N * sr_out / sr_in)] (a copy-free passthrough when rates match).
    """
    _check_rate(sr_in, "input rate")
    _check_rate(sr_out, "output rate")
    x = np.asarray(x, dtype=np.float32)
    if sr_in == sr_out:
        return x
    return soxr.resample(x, sr_in, sr_out, quality=_QUALITY)


class StreamingResampler:
    """Chunk-by-chunk soxr resampler: the concatenated output of ``accept`` calls
    followed by ``flush()`` matches :func:`resample` on the whole signal.

    soxr keeps a filter delay internally, so an accept call can return fewer
    samples than its input implies; ``flush`` drains the tail.
    """

    def __init__(self, sr_in: int, sr_out: int) -> None:
        _check_rate(sr_in, "input rate")
        _check_rate(sr_out, "output rate")
        self.sr_in = int(sr_in)
        self.sr_out = int(sr_out)
        self._stream = (
            None if sr_in == sr_out
            else soxr.ResampleStream(sr_in, sr_out, 1, dtype="float32", quality=_QUALITY)
        )
        self._done = False

    def accept(self, x: np.ndarray) -> np.ndarray:
        """Feed mono float32 samples [n]; return the resampled samples ready so far [m]."""
        if self._done:
            raise RuntimeError("StreamingResampler.accept() after flush()")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 1:
            raise InputError(f"StreamingResampler expects mono [n] samples, got shape {x.shape}")
        if self._stream is None:
            return x
        return self._stream.resample_chunk(x, last=False)

    def flush(self) -> np.ndarray:
        """End of input: return the remaining resampled samples [m]."""
        if self._done:
            return np.zeros(0, dtype=np.float32)
        self._done = True
        if self._stream is None:
            return np.zeros(0, dtype=np.float32)
        return self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


def load_audio(path: str | os.PathLike, target_sr: int = DEFAULT_SR) -> tuple[np.ndarray, int]:
    """Read a whole audio file as mono float32 at ``target_sr``.

    Returns ``(samples [N], target_sr)``. Raises InputError for a missing,
    empty, unreadable or degenerate (< 2 samples, NaN/inf) file.
    """
    _check_rate(target_sr, "target rate")
    with _open(path) as f:
        sr = f.samplerate
        try:
            data = f.read(dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError) as exc:
            raise InputError(f"cannot read audio file {path}: {exc}") from None
    if data.shape[0] < _MIN_SAMPLES:
        raise InputError(f"audio file {path} has {data.shape[0]} samples; need at least {_MIN_SAMPLES}")
    x = to_mono_float(data, source=f"audio file {path}")
    return resample(x, sr, target_sr), target_sr


def iter_audio_blocks(
    path: str | os.PathLike, block_seconds: float = 10.0, target_sr: int = DEFAULT_SR
) -> Iterator[np.ndarray]:
    """Stream a file from disk as mono float32 blocks at ``target_sr``.

    Reads ``block_seconds`` of source audio at a time and resamples on the fly,
    so memory stays bounded for arbitrarily long files. Yields non-empty [n]
    arrays whose concatenation matches :func:`load_audio` (to soxr rounding).
    """
    _check_rate(target_sr, "target rate")
    if not block_seconds > 0:
        raise InputError(f"block_seconds must be positive, got {block_seconds}")
    with _open(path) as f:
        sr = f.samplerate
        # frames is exact for wav/flac; for formats that do not know it, trust the read loop
        if 0 <= f.frames < _MIN_SAMPLES:
            raise InputError(f"audio file {path} has {f.frames} samples; need at least {_MIN_SAMPLES}")
        block = max(1, int(round(block_seconds * sr)))
        rs = StreamingResampler(sr, target_sr)
        source = f"audio file {path}"
        while True:
            try:
                data = f.read(block, dtype="float32", always_2d=True)
            except (sf.SoundFileError, RuntimeError) as exc:
                raise InputError(f"cannot read {source}: {exc}") from None
            if data.shape[0] == 0:
                break
            out = rs.accept(to_mono_float(data, source=source))
            if out.size:
                yield out
        tail = rs.flush()
        if tail.size:
            yield tail
