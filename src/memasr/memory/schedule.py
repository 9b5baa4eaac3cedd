"""Runtime schedules: ``frame`` (time-major) and ``chunk:N`` (layer-major)."""
from __future__ import annotations

from dataclasses import dataclass

from memasr.errors import InputError


@dataclass(frozen=True)
class Schedule:
    """``chunk_frames`` counts encoder-input (stacked) frames; 0 means ``frame``."""

    chunk_frames: int = 0

    @property
    def layer_major(self) -> bool:
        return self.chunk_frames > 0

    def __str__(self) -> str:
        return f"chunk:{self.chunk_frames}" if self.layer_major else "frame"

    def latency_ms(self, input_frame_ms: float) -> float:
        """Algorithmic latency the schedule adds: the first frame of a chunk waits for
        the other ``N - 1`` frames before the chunk is processed (0 for ``frame``)."""
        return max(self.chunk_frames - 1, 0) * input_frame_ms


def parse_schedule(text: str) -> Schedule:
    text = text.strip()
    if text == "frame":
        return Schedule(0)
    if text.startswith("chunk:"):
        try:
            n = int(text[len("chunk:"):])
        except ValueError:
            n = -1
        if n >= 1:
            return Schedule(n)
        raise InputError(f"bad schedule {text!r}: chunk size must be a positive integer (e.g. chunk:8)")
    raise InputError(f"bad schedule {text!r}: use 'frame' or 'chunk:N'")
