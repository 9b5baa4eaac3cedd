"""Energy from counted traffic and the profile's energy table (pJ -> mJ per audio second)."""
from __future__ import annotations

from dataclasses import dataclass

from memasr.memory.hardware import HardwareProfile

PJ_TO_MJ = 1e-9


@dataclass(frozen=True)
class Energy:
    offchip_mj: float
    onchip_mj: float
    mac_mj: float

    @property
    def total_mj(self) -> float:
        return self.offchip_mj + self.onchip_mj + self.mac_mj

    @property
    def offchip_share(self) -> float:
        return self.offchip_mj / self.total_mj if self.total_mj else 0.0


def energy_of(profile: HardwareProfile, offchip_bytes: float, onchip_bytes: float, macs: float) -> Energy:
    """Energy of the given per-second counts; mJ per audio second equals average mW."""
    return Energy(offchip_bytes * profile.e_offchip_pj_per_byte * PJ_TO_MJ,
                  onchip_bytes * profile.e_onchip_pj_per_byte * PJ_TO_MJ,
                  macs * profile.mac_energy_pj() * PJ_TO_MJ)
