"""One call from (model, profile, schedule, operating point) to a full report."""
from __future__ import annotations

from dataclasses import dataclass

from memasr.memory.energy import Energy, energy_of
from memasr.memory.hardware import HardwareProfile
from memasr.memory.schedule import Schedule
from memasr.memory.traffic import TrafficResult, compute_traffic
from memasr.memory.workload import OperatingPoint, Workload


@dataclass
class ComponentRow:
    component: str
    params: int
    weight_bytes: float
    pinned_bytes: float
    offchip_bytes_per_s: float
    onchip_bytes_per_s: float
    macs_per_s: float
    energy: Energy


@dataclass
class Analysis:
    workload: Workload
    profile: HardwareProfile
    schedule: Schedule
    op: OperatingPoint
    traffic: TrafficResult
    components: list[ComponentRow]
    energy: Energy

    def totals(self) -> dict[str, float]:
        """The JSON totals (keys fixed by the CLI contract)."""
        t = self.traffic
        return {
            "params": self.workload.params,
            "weight_bytes": sum(r.bytes for r in t.tensors),
            "pinned_bytes": t.pinned_bytes,
            "offchip_bytes_per_s": t.offchip_bytes_per_s,
            "offchip_words_per_s": t.offchip_bytes_per_s / 4.0,
            "onchip_bytes_per_s": t.onchip_bytes_per_s,
            "macs_per_s": t.macs_per_s,
            "energy_mj_per_s": self.energy.total_mj,
            "offchip_energy_share": self.energy.offchip_share,
            "latency_ms": self.schedule.latency_ms(self.workload.input_frame_ms),
        }


def _component_key(row) -> str:
    t = row.tensor
    return f"encoder.L{t.layer}" if t.component == "encoder" else t.component


def analyze(workload: Workload, profile: HardwareProfile, schedule: Schedule,
            op: OperatingPoint | None = None, pinned: set[str] | None = None) -> Analysis:
    op = op or OperatingPoint()
    traffic = compute_traffic(workload, profile, schedule, op, pinned)
    groups: dict[str, list] = {}
    for row in traffic.tensors:
        groups.setdefault(_component_key(row), []).append(row)
    components = []
    for name, rows in groups.items():
        off = sum(r.offchip_bytes_per_s for r in rows)
        on = sum(r.onchip_bytes_per_s for r in rows)
        macs = sum(r.macs_per_s for r in rows)
        components.append(ComponentRow(name, sum(r.tensor.numel for r in rows), sum(r.bytes for r in rows),
                                       sum(r.bytes for r in rows if r.pinned), off, on, macs,
                                       energy_of(profile, off, on, macs)))
    spill = sum(traffic.spill_bytes_per_s.values())
    components.append(ComponentRow("activations", 0, 0.0, 0.0, spill, traffic.activation_onchip_bytes_per_s, 0.0,
                                   energy_of(profile, spill, traffic.activation_onchip_bytes_per_s, 0.0)))
    energy = energy_of(profile, traffic.offchip_bytes_per_s, traffic.onchip_bytes_per_s, traffic.macs_per_s)
    return Analysis(workload, profile, schedule, op, traffic, components, energy)
