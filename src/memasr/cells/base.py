"""The contract every recurrent cell follows.

A cell's work is split in two, as in SRU's ``compute_U`` / recurrence split:

* :meth:`RecurrentCell.project_inputs` — the weight-heavy part that sees only
  the inputs, so one weight fetch can serve every frame of a chunk;
* :meth:`RecurrentCell.step` — the per-step recurrence;
* :meth:`RecurrentCell.project_outputs` — an optional weight-heavy part that
  sees only the step outputs and is not fed back, so it is chunk-batchable too.

The streaming runtime calls the three parts in layer-major order, and the cost
model (:mod:`memasr.memory`) reads :meth:`recurrent_parameter_names` to know which
weights are needed at every sequential step.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

CellState = tuple[Tensor, ...]


class RecurrentCell(nn.Module):
    """Base class: ``forward`` runs the three parts over a whole sequence."""

    input_size: int
    hidden_size: int
    output_size: int

    def init_state(self, batch_size: int, device: torch.device | None = None,
                   dtype: torch.dtype | None = None) -> CellState:
        """Zero state; every tensor is ``[B, ...]`` so streams can be stacked on dim 0."""
        raise NotImplementedError

    def project_inputs(self, x: Tensor) -> Tensor:
        """``x [B, T, input_size] -> u [B, T, G]`` (chunk-batchable)."""
        raise NotImplementedError

    def step(self, u_t: Tensor, state: CellState) -> tuple[Tensor, CellState]:
        """One recurrence step: ``u_t [B, G] -> (y_t [B, H_step], new state)``."""
        raise NotImplementedError

    def project_outputs(self, y: Tensor) -> Tensor:
        """``y [B, T, H_step] -> [B, T, output_size]``; identity unless the cell has a post-projection."""
        return y

    def recurrent_parameter_names(self) -> set[str]:
        """Names (relative to this cell) of the parameters used inside :meth:`step`."""
        raise NotImplementedError

    def state_numel(self) -> int:
        """Number of state elements per stream (the cost model keeps them on chip)."""
        return sum(s.shape[-1] for s in self.init_state(1, device=torch.device("meta")))

    def run_steps(self, u: Tensor, state: CellState,
                  on_step: Callable[[], None] | None = None) -> tuple[Tensor, CellState]:
        """Apply :meth:`step` over ``u [B, T, G]``; returns ``(y [B, T, H_step], state)``."""
        outputs = []
        for t in range(u.shape[1]):
            if on_step is not None:
                on_step()
            y_t, state = self.step(u[:, t], state)
            outputs.append(y_t)
        return torch.stack(outputs, dim=1), state

    def widen_from(self, source: "RecurrentCell") -> None:
        """Copy the trained, narrower ``source`` into this cell so that both compute the same
        function (Chen et al. 2016, Net2WiderNet): every new unit is a copy of an old one
        (:func:`split_units`), and what an old unit feeds downstream is shared among its copies
        (:func:`split_outgoing`), with noise that cancels over the copies so that they learn
        apart. Cells that cannot do this raise ``ValueError``."""
        raise ValueError(f"a {type(self).__name__} cannot be widened")

    def _check_widen_source(self, source: "RecurrentCell") -> None:
        if type(source) is not type(self):
            raise ValueError(f"cannot widen a {type(source).__name__} into a {type(self).__name__}")
        if (source.input_size, source.output_size) != (self.input_size, self.output_size):
            raise ValueError(f"widening keeps input and output sizes: {source.input_size}->{source.output_size} "
                             f"against {self.input_size}->{self.output_size} (a cell needs a projection to widen)")
        if source.hidden_size > self.hidden_size:
            raise ValueError(f"cannot narrow {source.hidden_size} units to {self.hidden_size}")

    def _fused_ok(self, x: Tensor) -> bool:
        """May :meth:`forward` use a fused training kernel for ``x``? Only in training mode on a
        non-empty sequence, never while tracing or exporting (those must see the step ops)."""
        return (self.training and x.shape[1] > 0 and not torch.jit.is_tracing()
                and not torch.onnx.is_in_onnx_export())

    def forward(self, x: Tensor, state: CellState | None = None) -> tuple[Tensor, CellState]:
        """Whole-sequence run: ``x [B, T, input_size] -> (y [B, T, output_size], state)``.

        Computes exactly the three parts in order; a cell may override it with a
        fused kernel for training (nothing is traced there), but the streaming
        runtime always calls the parts one by one.
        """
        if state is None:
            state = self.init_state(x.shape[0], x.device, x.dtype)
        y, state = self.run_steps(self.project_inputs(x), state)
        return self.project_outputs(y), state


def split_units(old: int, new: int) -> tuple[Tensor, Tensor]:
    """Net2WiderNet's unit mapping from ``old`` to ``new >= old`` units: unit ``u`` of the wider
    layer copies old unit ``source[u]`` (the old units first, then copies of them in order), and
    ``copies[j]`` counts the units that carry old unit ``j`` (itself included)."""
    source = torch.arange(new) % old
    return source, torch.bincount(source, minlength=old)


def split_outgoing(weight: Tensor, source: Tensor, copies: Tensor, noise: float = 0.1) -> Tensor:
    """``weight [..., old]`` (what each old unit feeds downstream) -> ``[..., new]``: each copy
    gets an equal share plus noise (``noise`` x the shares' std) that sums to 0 over the copies of
    a unit, so the copies' contributions still add up to the old weight exactly."""
    share = weight[..., source] / copies[source].to(weight.dtype)
    jitter = noise * share.std() * torch.randn_like(share)
    jitter_sum = torch.zeros_like(weight).index_add_(-1, source, jitter)
    return share + jitter - (jitter_sum / copies.to(weight.dtype))[..., source]
