"""The hook the model uses to report every weight-tensor use to a tracer.

Modules get a dotted ``trace_name`` (their name inside the Transducer) so the
events use the same tensor names as ``model.named_parameters()`` and the
analytic workload. Recording and replay live in :mod:`memasr.memory.trace`.
"""
from __future__ import annotations

from typing import Iterable, Protocol

from torch import nn


class WeightTracer(Protocol):
    def begin_pass(self, component: str, layer: int, steps: int) -> None:
        """A layer (or the decoder) starts work on ``steps`` frames/tokens."""

    def use(self, tensor: str, row: int | None = None) -> None:
        """One use of a whole weight tensor, or of one ``row`` of an embedding table."""


def param_names(module: nn.Module, names: Iterable[str]) -> list[str]:
    """Full trace names of ``module``'s parameters ``names`` (relative names)."""
    prefix = getattr(module, "trace_name", "")
    return [f"{prefix}.{n}" if prefix else n for n in names]


def emit(tracer: WeightTracer | None, tensors: Iterable[str]) -> None:
    if tracer is not None:
        for name in tensors:
            tracer.use(name)


def assign_trace_names(root: nn.Module) -> None:
    for name, module in root.named_modules():
        module.trace_name = name
