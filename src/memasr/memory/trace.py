"""Trace mode: record every weight-tensor use of a real streaming run, then replay it
through a buffer simulator.

The simulator holds the analytic model's pinned set, reserves the same
activation/state scratch per pass, and manages the rest of the buffer with
LRU (what a cache would do) or Belady's furthest-next-use policy (a lower
bound for unit-size items; for mixed sizes it is the standard near-optimal
heuristic, since exact optimal caching with sizes is NP-hard).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from memasr.memory.hardware import HardwareProfile
from memasr.memory.schedule import Schedule
from memasr.memory.traffic import pass_activation_bytes
from memasr.memory.workload import DECODER_PASS, OperatingPoint, Workload

PASS, USE = 0, 1


@dataclass
class TraceRecorder:
    """Implements :class:`memasr.model.tracing.WeightTracer`; events are kept in order."""

    events: list[tuple] = field(default_factory=list)
    predictor_calls: int = 0
    joiner_calls: int = 0
    encoder_out_frames: int = 0
    tokens: int = 0

    def begin_pass(self, component: str, layer: int, steps: int) -> None:
        key = ("encoder", layer) if component == "encoder" else DECODER_PASS
        self.events.append((PASS, key, steps, component))
        if component == "predictor":
            self.predictor_calls += steps
        elif component == "joiner":
            self.joiner_calls += steps

    def use(self, tensor: str, row: int | None = None) -> None:
        self.events.append((USE, tensor, row))

    def uses(self) -> int:
        return sum(1 for e in self.events if e[0] == USE)

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


def simulate(events: list[tuple], workload: Workload, profile: HardwareProfile, schedule: Schedule,
             pinned: set[str], policy: str = "lru", op: OperatingPoint | None = None) -> SimulationResult:
    """Replay ``events`` at the profile's capacity; returns off-chip bytes for the whole trace."""
    sizes = _sizes(workload, profile)
    pinned_bytes = sum(sizes[n][0] for n in pinned)
    scratch = max(0.0, profile.onchip_bytes - pinned_bytes)
    needs = pass_activation_bytes(workload, profile, schedule, op or OperatingPoint())
    uses = []  # (key, size, pass_key) for non-pinned uses, plus spill accounting
    spill = 0.0
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
        if row is not None:
            uses.append(((name, row), size / rows, current))
        else:
            uses.append((name, size, current))
    capacity = {key: max(0.0, scratch - need) for key, need in needs.items()}
    if policy == "lru":
        weight, misses = _lru(uses, capacity, scratch)
    elif policy == "belady":
        weight, misses = _belady(uses, max(capacity.values(), default=scratch))
    else:
        raise ValueError(f"unknown policy {policy!r}")
    return SimulationResult(policy, weight, spill, misses, len(uses) - misses)


def _lru(uses: list[tuple], capacity: dict, default_capacity: float) -> tuple[float, int]:
    cache: OrderedDict = OrderedDict()
    held = 0.0
    fetched, misses = 0.0, 0
    for key, size, pass_key in uses:
        cap = capacity.get(pass_key, default_capacity)
        if key in cache:
            cache.move_to_end(key)
        else:
            fetched += size
            misses += 1
            if size <= cap:
                cache[key] = size
                held += size
        while held > cap and cache:  # the pass's activations may have shrunk the space
            _, evicted = cache.popitem(last=False)
            held -= evicted
    return fetched, misses


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
