"""Trace mode: record every weight-tensor use of a real streaming run, then replay it
through a buffer simulator.

The simulator holds the analytic model's pinned set, reserves the same
activation/state scratch per pass, and manages the rest of the buffer with
LRU (what a cache would do) or Belady's furthest-next-use policy (a lower
bound for unit-size items; for mixed sizes it is the standard near-optimal
heuristic, since exact optimal caching with sizes is NP-hard).
"""
from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain

from memasr.memory.hardware import HardwareProfile
from memasr.memory.schedule import Schedule
from memasr.memory.traffic import pass_activation_bytes
from memasr.memory.workload import DECODER_PASS, OperatingPoint, Workload

PASS, USE = 0, 1


@dataclass
class TraceRecorder:
    """Implements :class:`memasr.model.tracing.WeightTracer`; events are kept in order.

    A streaming run repeats the same passes over and over (every chunk runs each encoder layer
    with the same weight uses; decoder passes differ only in the embedding rows they touch), so
    the recorder cuts the run into segments (a pass up to its first row use; each row use on its
    own; the rest of the pass), stores each distinct segment once, as its events packed into
    bytes (four int64 per event), and the run as a sequence of 4-byte segment ids. The trace of
    an hour-long stream thus costs 4 bytes per segment plus the distinct segments (bounded by
    the model: its passes and its embedding rows), not 32 bytes per weight use.
    """

    predictor_calls: int = 0
    joiner_calls: int = 0
    encoder_out_frames: int = 0
    tokens: int = 0
    _keys: list = field(default_factory=list, repr=False)
    _key_ids: dict = field(default_factory=dict, repr=False)
    _segment_ids: dict = field(default_factory=dict, repr=False)  # packed segment -> id
    _segments: list = field(default_factory=list, repr=False)  # id -> packed segment (the same bytes)
    _order: array = field(default_factory=lambda: array("i"), repr=False)
    _open: array = field(default_factory=lambda: array("q"), repr=False)  # the segment being recorded
    _events: int = field(default=0, repr=False)
    _uses: int = field(default=0, repr=False)

    def _intern(self, key) -> int:
        index = self._key_ids.get(key)
        if index is None:
            index = self._key_ids[key] = len(self._keys)
            self._keys.append(key)
        return index

    def _close_segment(self) -> None:
        if not self._open:
            return
        packed = self._open.tobytes()
        index = self._segment_ids.get(packed)
        if index is None:
            index = self._segment_ids[packed] = len(self._segments)
            self._segments.append(packed)
        self._order.append(index)
        del self._open[:]

    def begin_pass(self, component: str, layer: int, steps: int) -> None:
        self._close_segment()
        key = ("encoder", layer) if component == "encoder" else DECODER_PASS
        self._open.extend((PASS, self._intern(key), steps, self._intern(component)))
        self._events += 1
        if component == "predictor":
            self.predictor_calls += steps
        elif component == "joiner":
            self.joiner_calls += steps

    def use(self, tensor: str, row: int | None = None) -> None:
        if row is not None:
            # row uses (embedding lookups) differ from pass to pass, with the tokens (a beam
            # expands several per frame): each is its own segment, so the rest still repeats
            self._close_segment()
        self._open.extend((USE, self._intern(tensor), -1 if row is None else row, 0))
        self._events += 1
        self._uses += 1
        if row is not None:
            self._close_segment()

    @property
    def events(self) -> Iterator[tuple]:
        """``(PASS, pass_key, steps, component)`` and ``(USE, tensor, row or None)`` in order."""
        keys, segments = self._keys, self._segments
        unpacked: dict[int, array] = {}
        for index in chain(self._order, (-1,)):
            if index < 0:
                data = self._open
            elif (data := unpacked.get(index)) is None:
                data = unpacked[index] = array("q", segments[index])
            for i in range(0, len(data), 4):
                if data[i] == PASS:
                    yield (PASS, keys[data[i + 1]], data[i + 2], keys[data[i + 3]])
                else:
                    row = data[i + 2]
                    yield (USE, keys[data[i + 1]], None if row < 0 else row)

    def __len__(self) -> int:
        return self._events

    @property
    def segments(self) -> int:
        """Segments recorded (the open one included)."""
        return len(self._order) + (1 if self._open else 0)

    @property
    def distinct_segments(self) -> int:
        return len(self._segments)

    @property
    def nbytes(self) -> int:
        """Bytes of trace data held: the segment-id sequence, each distinct segment once and the
        open segment (not counted: names, interned once, and per-object overhead)."""
        return (self._order.itemsize * len(self._order) + self._open.itemsize * len(self._open)
                + sum(len(p) for p in self._segments))

    def uses(self) -> int:
        return self._uses

    def operating_point(self, audio_seconds: float, beam: int = 1) -> OperatingPoint:
        """Measured decoding activity, to feed the analytic model the same operating point."""
        return OperatingPoint(token_rate=self.tokens / audio_seconds, beam=beam,
                              predictor_calls_per_s=self.predictor_calls / audio_seconds,
                              joiner_calls_per_s=self.joiner_calls / audio_seconds)


@dataclass
class SimulationResult:
    policy: str
    weight_bytes: float
    spill_bytes: float
    misses: int
    hits: int

    @property
    def offchip_bytes(self) -> float:
        return self.weight_bytes + self.spill_bytes


def _sizes(workload: Workload, profile: HardwareProfile) -> dict[str, tuple[float, int]]:
    scale = profile.weight_bits / 8.0
    return {t.name: (t.numel * scale, t.rows) for t in workload.tensors}


def simulate(events: Iterable[tuple], workload: Workload, profile: HardwareProfile, schedule: Schedule,
             pinned: set[str], policy: str = "lru", op: OperatingPoint | None = None) -> SimulationResult:
    """Replay ``events`` at the profile's capacity; returns off-chip bytes for the whole trace.

    LRU runs online in one pass over the events (memory bounded by the number of tensors);
    Belady needs the future, so it collects the non-pinned uses first.
    """
    if policy not in ("lru", "belady"):
        raise ValueError(f"unknown policy {policy!r}")
    sizes = _sizes(workload, profile)
    pinned_bytes = sum(sizes[n][0] for n in pinned)
    scratch = max(0.0, profile.onchip_bytes - pinned_bytes)
    needs = pass_activation_bytes(workload, profile, schedule, op or OperatingPoint())
    capacity = {key: max(0.0, scratch - need) for key, need in needs.items()}
    lru = _LRU()
    uses = []  # Belady only: (key, size, pass_key) of every non-pinned use
    spill, count = 0.0, 0
    current = ("encoder", 0)
    for event in events:
        if event[0] == PASS:
            previous, current = current, event[1]
            excess = max(0.0, needs.get(current, 0.0) - scratch)
            # spills are charged per pass as in the analytic model: an encoder pass per layer
            # and step/chunk; the decoder once per chunk (chunk:N) or per joiner call (frame)
            if current != DECODER_PASS:
                spill += 2.0 * excess
            elif schedule.layer_major:
                spill += 2.0 * excess if previous != DECODER_PASS else 0.0
            elif event[3] == "joiner":
                spill += 2.0 * excess * event[2]
            continue
        _, name, row = event
        if name in pinned:
            continue
        size, rows = sizes[name]
        key, size = ((name, row), size / rows) if row is not None else (name, size)
        count += 1
        if policy == "lru":
            lru.access(key, size, capacity.get(current, scratch))
        else:
            uses.append((key, size, current))
    if policy == "lru":
        weight, misses = lru.fetched, lru.misses
    else:
        weight, misses = _belady(uses, max(capacity.values(), default=scratch))
    return SimulationResult(policy, weight, spill, misses, count - misses)


class _LRU:
    """Byte-capacity LRU whose capacity may change per access (the pass's activations vary)."""

    def __init__(self) -> None:
        self.cache: OrderedDict = OrderedDict()
        self.held = 0.0
        self.fetched = 0.0
        self.misses = 0

    def access(self, key, size: float, capacity: float) -> None:
        if key in self.cache:
            self.cache.move_to_end(key)
        else:
            self.fetched += size
            self.misses += 1
            if size <= capacity:
                self.cache[key] = size
                self.held += size
        while self.held > capacity and self.cache:  # the pass's activations may have shrunk the space
            _, evicted = self.cache.popitem(last=False)
            self.held -= evicted


def _belady(uses: list[tuple], capacity: float) -> tuple[float, int]:
    """Furthest-next-use replacement at a fixed capacity (the most generous pass capacity)."""
    never = len(uses)
    next_use = [never] * len(uses)
    last: dict = {}
    for i in range(len(uses) - 1, -1, -1):
        key = uses[i][0]
        next_use[i] = last.get(key, never)
        last[key] = i
    cache: dict = {}  # key -> (size, next use index)
    held = 0.0
    fetched, misses = 0.0, 0
    for i, (key, size, _) in enumerate(uses):
        if key in cache:
            cache[key] = (size, next_use[i])
            continue
        fetched += size
        misses += 1
        if size > capacity or next_use[i] == never:
            continue
        # evict furthest-next-use items while that helps
        while held + size > capacity:
            victim = max(cache, key=lambda k: cache[k][1])
            if cache[victim][1] <= next_use[i]:
                break
            held -= cache.pop(victim)[0]
        if held + size <= capacity:
            cache[key] = (size, next_use[i])
            held += size
    return fetched, misses
