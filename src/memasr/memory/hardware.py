"""Hardware profiles: the on-chip buffer, bit widths and energy tables (TOML).

Kept apart from the workload and the traffic counter (as in Timeloop/Accelergy),
so energy constants can change without touching how bytes are counted.
"""
from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from memasr.errors import InputError

_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str | int) -> int:
    """``"2MiB" -> 2097152``; accepts B, kB/MB/GB (decimal), KiB/MiB/GiB and K/M/G (binary)."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise InputError(f"malformed size {text!r}: use a number with B, KiB, MiB, GiB, kB, MB or GB")
    value = float(match.group(1)) * _UNITS[unit]
    if value <= 0:
        raise InputError(f"size must be positive, got {text!r}")
    return int(value)


def format_size(n: float) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


@dataclass
class HardwareProfile:
    name: str = "custom"
    description: str = ""
    onchip_bytes: int = 2 * 1024 * 1024
    weight_bits: int = 8
    activation_bits: int = 16
    e_offchip_pj_per_byte: float = 160.0
    e_onchip_pj_per_byte: float = 1.25
    e_mac_pj: dict[int, float] = field(default_factory=lambda: {8: 0.23, 16: 1.5, 32: 4.6})
    sources: dict[str, str] = field(default_factory=dict)

    def mac_energy_pj(self, bits: int | None = None) -> float:
        """MAC energy at a weight width; a width missing from the table uses the next wider one."""
        bits = bits or self.weight_bits
        wider = sorted(b for b in self.e_mac_pj if b >= bits)
        return self.e_mac_pj[wider[0] if wider else max(self.e_mac_pj)]

    def with_overrides(self, onchip_bytes: int | None = None, weight_bits: int | None = None) -> "HardwareProfile":
        changes = {}
        if onchip_bytes is not None:
            changes["onchip_bytes"] = onchip_bytes
        if weight_bits is not None:
            changes["weight_bits"] = weight_bits
        profile = dataclasses.replace(self, **changes)
        profile.validate()
        return profile

    def validate(self, where: str = "profile") -> None:
        if self.onchip_bytes <= 0:
            raise InputError(f"{where}: onchip_bytes must be positive")
        for key in ("weight_bits", "activation_bits"):
            bits = getattr(self, key)
            if not isinstance(bits, int) or not 1 <= bits <= 64:
                raise InputError(f"{where}: {key} must be an integer from 1 to 64, got {bits!r}")
        if self.e_offchip_pj_per_byte < 0 or self.e_onchip_pj_per_byte < 0 or not self.e_mac_pj:
            raise InputError(f"{where}: energies must be non-negative and e_mac_pj non-empty")


def _profile_from_dict(data: dict, where: str) -> HardwareProfile:
    known = {f.name for f in dataclasses.fields(HardwareProfile)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}")
    data = dict(data)
    if "onchip_bytes" in data:
        data["onchip_bytes"] = parse_size(data["onchip_bytes"])
    try:
        if "e_mac_pj" in data:
            data["e_mac_pj"] = {int(k): float(v) for k, v in data["e_mac_pj"].items()}
        profile = HardwareProfile(**data)
    except (TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{where}: {exc}") from None
    profile.validate(where)
    return profile


def load_profile(path: str | Path | None = None) -> HardwareProfile:
    """Load a profile file, or the shipped default when ``path`` is None."""
    if path is None:
        text, where = (resources.files("memasr") / "profiles" / "default.toml").read_text(), "default profile"
    else:
        where = str(path)
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            raise InputError(f"profile file not found: {path}") from None
        except (IsADirectoryError, UnicodeDecodeError, PermissionError) as exc:
            raise InputError(f"cannot read profile {path}: {exc.__class__.__name__}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"profile {where} is not valid TOML: {exc}") from None
    return _profile_from_dict(data, where)
