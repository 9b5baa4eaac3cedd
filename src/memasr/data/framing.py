"""Kaldi frame positions, in NumPy only (shared by the torch front end and the torch-free
ONNX runtime, so both cut audio into exactly the same frames).

``snip_edges = True``: frame ``k`` is samples ``[k * hop, k * hop + win)``, and only frames
that fit inside the signal exist. ``snip_edges = False`` (sherpa-onnx, icefall): frame ``k``
is centred on ``k * hop + hop // 2``, there are ``(N + hop // 2) // hop`` of them, and
samples outside ``[0, N)`` are mirrored back inside (``-1 -> 0``, ``N -> N - 1``).
"""
from __future__ import annotations

import numpy as np


def first_sample(frame: int, win: int, hop: int, snip_edges: bool) -> int:
    """Index of the first sample of ``frame`` (negative before the signal starts)."""
    return frame * hop if snip_edges else frame * hop + hop // 2 - win // 2


def num_frames(num_samples: int, win: int, hop: int, snip_edges: bool) -> int:
    """Frames of a whole utterance of ``num_samples`` samples."""
    if snip_edges:
        return 0 if num_samples < win else 1 + (num_samples - win) // hop
    return (num_samples + hop // 2) // hop


def frames_ready(num_samples: int, win: int, hop: int, snip_edges: bool) -> int:
    """Frames whose samples all lie before ``num_samples`` (what a stream can emit before its
    end is known: only the frames past the end are mirrored there)."""
    last_needed = first_sample(0, win, hop, snip_edges) + win  # samples frame 0 needs
    if num_samples < last_needed:
        return 0
    return min(num_frames(num_samples, win, hop, snip_edges), 1 + (num_samples - last_needed) // hop)


def frame_indices(num_samples: int, win: int, hop: int, snip_edges: bool, start: int, stop: int,
                  mirror_end: bool = True) -> np.ndarray:
    """Sample indices ``int64 [stop - start, win]`` of frames ``start .. stop - 1``.

    Indices before 0 are mirrored; with ``mirror_end`` so are those at or past
    ``num_samples`` (the whole signal is known), as Kaldi's ``ExtractWindow`` does.
    """
    firsts = np.arange(start, stop, dtype=np.int64) * hop + first_sample(0, win, hop, snip_edges)
    idx = firsts[:, None] + np.arange(win, dtype=np.int64)[None, :]
    n = max(int(num_samples), 1)
    while True:  # a signal shorter than half a window may need several reflections
        low, high = idx < 0, (idx >= n) if mirror_end else np.zeros_like(idx, dtype=bool)
        if not (low.any() or high.any()):
            return idx
        idx = np.where(low, -idx - 1, idx)
        idx = np.where(high, 2 * n - 1 - idx, idx)
