"""Analytic off-chip traffic, with residency (pinning) and scratch accounting.

Implements DESIGN.md section 3 exactly:

* a pinned tensor is fetched once per stream (0 bytes per second);
* the rest of the buffer is scratch; while a layer runs, its chunk of
  activations and its recurrent state occupy scratch first, and whatever of
  them does not fit spills off-chip (written and read back: 2x the excess);
* ``frame``: a non-pinned tensor costs bytes x uses/s;
* ``chunk:N``: batchable tensors cost bytes x chunks/s; a layer's recurrent
  tensors cost bytes x chunks/s when they fit in the scratch left during that
  layer's pass (taken in order, cumulatively), else bytes x steps/s; decoder
  tensors cost bytes x chunks/s when all the decoder's non-pinned tensors fit
  the scratch left while the chunk is decoded, else bytes x uses/s.
  A tensor is never charged more often than it is used.

Pinning policy: greedy by unpinned off-chip bytes/s per byte of buffer, most
valuable first; a candidate is kept only if the total off-chip traffic
(spills included) goes down.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from memasr.memory.hardware import HardwareProfile
from memasr.memory.schedule import Schedule
from memasr.memory.workload import DECODER_PASS, OperatingPoint, Workload, WeightTensor, layer_rate_key


@dataclass
class TensorTraffic:
    tensor: WeightTensor
    bytes: float  # whole tensor at the profile's weight width
    uses_per_s: float
    pinned: bool
    offchip_bytes_per_s: float
    onchip_bytes_per_s: float
    macs_per_s: float
    fetch: str  # once | per-chunk | per-step | per-use


@dataclass
class TrafficResult:
    tensors: list[TensorTraffic]
    spill_bytes_per_s: dict[tuple[str, int], float]
    activation_onchip_bytes_per_s: float
    pinned_bytes: float
    scratch_bytes: float
    schedule: Schedule
    rates: dict[str, float] = field(default_factory=dict)

    @property
    def offchip_bytes_per_s(self) -> float:
        return sum(t.offchip_bytes_per_s for t in self.tensors) + sum(self.spill_bytes_per_s.values())

    @property
    def onchip_bytes_per_s(self) -> float:
        return sum(t.onchip_bytes_per_s for t in self.tensors) + self.activation_onchip_bytes_per_s

    @property
    def macs_per_s(self) -> float:
        return sum(t.macs_per_s for t in self.tensors)

    @property
    def pinned_names(self) -> set[str]:
        return {t.tensor.name for t in self.tensors if t.pinned}


def tensor_bytes(tensor: WeightTensor, profile: HardwareProfile) -> float:
    return tensor.numel * profile.weight_bits / 8.0


def pass_activation_bytes(workload: Workload, profile: HardwareProfile, schedule: Schedule,
                          op: OperatingPoint) -> dict[tuple[str, int], float]:
    """Scratch that activations and recurrent state occupy during each pass, per stream."""
    act = profile.activation_bits / 8.0
    needs: dict[tuple[str, int], float] = {}
    for p in workload.passes:
        frames = max(1, schedule.chunk_frames // workload.reduction_before[p.layer]) if schedule.layer_major else 1
        needs[("encoder", p.layer)] = act * (frames * (p.in_dim + p.out_dim) + p.state_numel)
    out_frames = max(1, schedule.chunk_frames // workload.total_reduction) if schedule.layer_major else 1
    needs[DECODER_PASS] = act * (out_frames * workload.joiner_dim + op.beam * (
        workload.predictor_state_numel + workload.predictor_out_dim + workload.joiner_dim + workload.num_classes))
    return needs


def compute_traffic(workload: Workload, profile: HardwareProfile, schedule: Schedule,
                    op: OperatingPoint | None = None, pinned: set[str] | None = None) -> TrafficResult:
    """Traffic for a given pinned set (``None``: choose it with :func:`choose_pinned`)."""
    op = op or OperatingPoint()
    if pinned is None:
        pinned = choose_pinned(workload, profile, schedule, op)
    rates = op.rates(workload)
    chunks_per_s = workload.input_frame_rate / schedule.chunk_frames if schedule.layer_major else 0.0
    pinned_bytes = sum(tensor_bytes(t, profile) for t in workload.tensors if t.name in pinned)
    scratch = max(0.0, profile.onchip_bytes - pinned_bytes)
    needs = pass_activation_bytes(workload, profile, schedule, op)

    # Spills: what of a pass's activations and state does not fit the scratch.
    spill: dict[tuple[str, int], float] = {}
    for key, need in needs.items():
        excess = max(0.0, need - scratch)
        if excess:
            passes_per_s = chunks_per_s if schedule.layer_major else (
                rates[layer_rate_key(key[1])] if key[0] == "encoder" else rates["joiner"])
            spill[key] = 2.0 * excess * passes_per_s
    weight_scratch = {key: max(0.0, scratch - need) for key, need in needs.items()}

    # Which non-pinned recurrent / decoder tensors stay in scratch for a whole chunk.
    resident_in_chunk: set[str] = set()
    if schedule.layer_major:
        used: dict[tuple[str, int], float] = {}
        for t in workload.tensors:
            if t.name in pinned or t.role != "recurrent":
                continue
            key = t.pass_key()
            used[key] = used.get(key, 0.0) + tensor_bytes(t, profile)
            if used[key] <= weight_scratch.get(key, 0.0):
                resident_in_chunk.add(t.name)
        decoder = [t for t in workload.tensors if t.name not in pinned and t.role in ("predictor", "joiner")]
        per_chunk = sum(_decoder_chunk_bytes(t, profile, rates, chunks_per_s) for t in decoder)
        if per_chunk <= weight_scratch[DECODER_PASS]:
            resident_in_chunk.update(t.name for t in decoder)

    act = profile.activation_bits / 8.0
    activation_onchip = sum(act * (p.in_dim + p.out_dim) * rates[layer_rate_key(p.layer)] for p in workload.passes)
    rows = []
    for t in workload.tensors:
        size = tensor_bytes(t, profile)
        use_bytes = t.use_numel * profile.weight_bits / 8.0
        uses = rates[t.rate]
        if t.name in pinned:
            offchip, fetch = 0.0, "once"
        elif not schedule.layer_major:
            offchip, fetch = use_bytes * uses, "per-use"
        elif t.rows > 1:  # embedding rows differ from use to use
            offchip, fetch = use_bytes * uses, "per-use"
        elif t.role == "batchable" or t.name in resident_in_chunk:
            offchip, fetch = size * min(chunks_per_s, uses), "per-chunk"
        else:
            offchip, fetch = size * uses, "per-step" if t.role == "recurrent" else "per-use"
        rows.append(TensorTraffic(t, size, uses, t.name in pinned, offchip, use_bytes * uses,
                                  t.macs_per_use * uses, fetch))
    return TrafficResult(rows, spill, activation_onchip, pinned_bytes, scratch, schedule, rates)


def _decoder_chunk_bytes(t: WeightTensor, profile: HardwareProfile, rates: dict[str, float],
                         chunks_per_s: float) -> float:
    """Scratch a decoder tensor needs while one chunk is decoded (embedding: the rows used)."""
    size = tensor_bytes(t, profile)
    if t.rows > 1:
        rows_per_chunk = rates[t.rate] * t.rows_per_use / chunks_per_s
        return min(size, size / t.rows * max(1.0, rows_per_chunk))
    return size


def choose_pinned(workload: Workload, profile: HardwareProfile, schedule: Schedule,
                  op: OperatingPoint) -> set[str]:
    """Greedy residency: most off-chip bytes saved per byte of buffer first."""
    pinned: set[str] = set()
    base = compute_traffic(workload, profile, schedule, op, pinned)
    best_total = base.offchip_bytes_per_s
    candidates = sorted(base.tensors, key=lambda r: (-r.offchip_bytes_per_s / max(r.bytes, 1e-9), r.tensor.name))
    budget = float(profile.onchip_bytes)
    for row in candidates:
        if row.offchip_bytes_per_s <= 0 or row.bytes > budget:
            continue
        trial = pinned | {row.tensor.name}
        total = compute_traffic(workload, profile, schedule, op, trial).offchip_bytes_per_s
        if total < best_total:
            pinned, best_total, budget = trial, total, budget - row.bytes
    return pinned
