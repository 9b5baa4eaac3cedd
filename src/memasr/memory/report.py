"""Text tables, JSON records and sweep plots of analyses."""
from __future__ import annotations

from pathlib import Path

from memasr.atomic import atomic_path
from memasr.memory.analysis import Analysis
from memasr.memory.hardware import HardwareProfile, format_size
from memasr.memory.schedule import Schedule
from memasr.memory.traffic import compute_traffic
from memasr.memory.workload import OperatingPoint, Workload


def _mb(x: float) -> str:
    return f"{x / 1e6:10.3f}"


def component_table(analysis: Analysis) -> str:
    """Per-component table plus totals, for terminals and Markdown-free logs."""
    w, p = analysis.workload, analysis.profile
    head = (f"model {w.name}: {w.params / 1e6:.2f}M params | schedule {analysis.schedule} | "
            f"buffer {format_size(p.onchip_bytes)} | {p.weight_bits}-bit weights | "
            f"token rate {analysis.op.token_rate:g}/s | beam {analysis.op.beam}")
    lines = [head, f"{'component':<14}{'params':>12}{'weights MB':>12}{'pinned MB':>11}"
                   f"{'off-chip MB/s':>15}{'on-chip MB/s':>14}{'MMAC/s':>10}{'mJ/s':>10}"]
    for c in analysis.components:
        lines.append(f"{c.component:<14}{c.params:>12,}{c.weight_bytes / 1e6:>12.3f}{c.pinned_bytes / 1e6:>11.3f}"
                     f"{c.offchip_bytes_per_s / 1e6:>15.3f}{c.onchip_bytes_per_s / 1e6:>14.3f}"
                     f"{c.macs_per_s / 1e6:>10.1f}{c.energy.total_mj:>10.3f}")
    t = analysis.totals()
    lines.append(f"{'total':<14}{t['params']:>12,}{t['weight_bytes'] / 1e6:>12.3f}{t['pinned_bytes'] / 1e6:>11.3f}"
                 f"{t['offchip_bytes_per_s'] / 1e6:>15.3f}{t['onchip_bytes_per_s'] / 1e6:>14.3f}"
                 f"{t['macs_per_s'] / 1e6:>10.1f}{t['energy_mj_per_s']:>10.3f}")
    lines.append(f"off-chip: {t['offchip_words_per_s'] / 1e6:.3f} M 32-bit words/s | off-chip share of energy "
                 f"{100 * t['offchip_energy_share']:.1f}% | added latency {t['latency_ms']:.0f} ms")
    return "\n".join(lines)


def json_record(analysis: Analysis) -> dict:
    return {
        "model": analysis.workload.name,
        "schedule": str(analysis.schedule),
        "profile": analysis.profile.name,
        "onchip_bytes": analysis.profile.onchip_bytes,
        "weight_bits": analysis.profile.weight_bits,
        "token_rate": analysis.op.token_rate,
        "beam": analysis.op.beam,
        "totals": analysis.totals(),
        "components": [
            {"component": c.component, "params": c.params, "weight_bytes": c.weight_bytes,
             "pinned_bytes": c.pinned_bytes, "offchip_bytes_per_s": c.offchip_bytes_per_s,
             "onchip_bytes_per_s": c.onchip_bytes_per_s, "macs_per_s": c.macs_per_s,
             "energy_mj_per_s": c.energy.total_mj}
            for c in analysis.components
        ],
    }


def compare_table(a: Analysis, b: Analysis) -> str:
    """``b`` against ``a`` as ratios ``a / b`` (how many times less b needs)."""
    ta, tb = a.totals(), b.totals()
    lines = [f"{b.workload.name} ({b.schedule}) against {a.workload.name} ({a.schedule}); "
             f"ratio = {a.workload.name} / {b.workload.name}",
             f"{'metric':<24}{a.workload.name:>18}{b.workload.name:>18}{'ratio':>10}"]
    for key in ("params", "weight_bytes", "offchip_bytes_per_s", "onchip_bytes_per_s", "macs_per_s",
                "energy_mj_per_s", "latency_ms"):
        ratio = ta[key] / tb[key] if tb[key] else float("inf")
        lines.append(f"{key:<24}{ta[key]:>18.6g}{tb[key]:>18.6g}{ratio:>9.2f}x")
    return "\n".join(lines)


def buffer_sweep(workload: Workload, profile: HardwareProfile, schedule: Schedule, sizes: list[int],
                 op: OperatingPoint | None = None) -> list[tuple[int, float]]:
    return [(size, compute_traffic(workload, profile.with_overrides(onchip_bytes=size), schedule, op)
             .offchip_bytes_per_s) for size in sizes]


def save_sweep_plot(series: dict[str, list[tuple[int, float]]], path: str | Path, title: str = "") -> Path:
    """Log-log plot of off-chip MB/s against buffer size, one line per model/schedule; atomic write."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, points in series.items():
        ax.plot([s / 1024 for s, _ in points], [b / 1e6 for _, b in points], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("on-chip buffer (KiB)")
    ax.set_ylabel("off-chip weight traffic (MB per audio second)")
    ax.set_title(title or "Off-chip traffic against on-chip buffer size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120, format="png")
    finally:
        plt.close(fig)
    return path
