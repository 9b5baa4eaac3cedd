"""LSTM and CIFG-LSTM cells, with an optional recurrent projection (LSTMP).

Written from basic ops (matmul, sigmoid, tanh) so they export to ONNX without a
fused LSTM operator, and so the input matrix can be applied to a whole chunk.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from memasr.cells.base import CellState, RecurrentCell, split_outgoing, split_units

# ATen's notes about its fused LSTM kernel (LSTMP skips oneDNN on CPU; cuDNN copies weights that
# are not one flat buffer) are expected here and would otherwise repeat on every call.
warnings.filterwarnings("ignore", message="LSTM with projections is not supported")
warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous chunk")


class _GatedLSTMBase(RecurrentCell):
    """Shared machinery of LSTM-family cells with ``num_gates`` gate blocks.

    ``w_x`` is the input matrix (chunk-batchable); ``w_h`` and the optional
    ``w_proj`` are inside the recurrence, because the projected output is fed
    back at the next step.
    """

    num_gates: int = 4

    def __init__(self, input_size: int, hidden_size: int, proj_size: int = 0) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.proj_size = proj_size
        self.output_size = proj_size or hidden_size
        self.w_x = nn.Linear(input_size, self.num_gates * hidden_size)
        self.w_h = nn.Linear(self.output_size, self.num_gates * hidden_size, bias=False)
        self.w_proj = nn.Linear(hidden_size, proj_size, bias=False) if proj_size else None
        with torch.no_grad():  # forget-gate bias 1: the usual start that keeps memory early on
            self.w_x.bias.zero_()
            self.w_x.bias[self._forget_slice()].fill_(1.0)

    def _forget_slice(self) -> slice:
        return slice(self.hidden_size, 2 * self.hidden_size)

    def init_state(self, batch_size: int, device: torch.device | None = None,
                   dtype: torch.dtype | None = None) -> CellState:
        h = torch.zeros(batch_size, self.output_size, device=device, dtype=dtype)
        c = torch.zeros(batch_size, self.hidden_size, device=device, dtype=dtype)
        return (h, c)

    def project_inputs(self, x: Tensor) -> Tensor:
        return self.w_x(x)

    def _cell_update(self, gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def step(self, u_t: Tensor, state: CellState) -> tuple[Tensor, CellState]:
        h, c = state
        gates = u_t + self.w_h(h)
        h_new, c_new = self._cell_update(gates, c)
        if self.w_proj is not None:
            h_new = self.w_proj(h_new)
        return h_new, (h_new, c_new)

    def widen_from(self, source: RecurrentCell) -> None:
        """More cells behind the same projection (see :meth:`RecurrentCell.widen_from`): a copy
        repeats its original's gate rows; ``W_proj``'s columns are shared among the copies."""
        self._check_widen_source(source)
        if self.w_proj is None:
            raise ValueError("an LSTM widens only behind a projection (proj_size > 0)")
        gates = self.num_gates
        units, copies = split_units(source.hidden_size, self.hidden_size)
        with torch.no_grad():
            for mine, theirs in ((self.w_x.weight, source.w_x.weight), (self.w_x.bias, source.w_x.bias),
                                 (self.w_h.weight, source.w_h.weight)):
                mine.copy_(theirs.unflatten(0, (gates, -1))[:, units].reshape_as(mine))
            self.w_proj.weight.copy_(split_outgoing(source.w_proj.weight, units, copies))

    def recurrent_parameter_names(self) -> set[str]:
        names = {"w_h.weight"}
        if self.w_proj is not None:
            names.add("w_proj.weight")
        return names


class LSTMCell(_GatedLSTMBase):
    """Standard LSTM (gates i, f, g, o), optionally with projection (LSTMP)."""

    num_gates = 4

    def forward(self, x: Tensor, state: CellState | None = None) -> tuple[Tensor, CellState]:
        """Whole sequence; in training mode through ATen's LSTM kernel (same gate order,
        same math, no per-step autograd nodes; see docs/cells.md for the measured gain). Eval and
        export keep the plain ops so ONNX sees no fused LSTM-with-projection."""
        # ATen takes a projection only when it is narrower than the cell (proj_size < hidden_size)
        fusable = self.proj_size == 0 or self.proj_size < self.hidden_size
        if not fusable or not self._fused_ok(x):
            return super().forward(x, state)
        if state is None:
            state = self.init_state(x.shape[0], x.device, x.dtype)
        h, c = state
        dtype = self.w_h.weight.dtype
        weights = [self.w_x.weight, self.w_h.weight, self.w_x.bias, torch.zeros_like(self.w_x.bias)]
        if self.w_proj is not None:
            weights.append(self.w_proj.weight)
        # cuDNN's autocast path would run the RNN in fp16 even under bf16 autocast (and without
        # loss scaling): run it at the weights' precision instead, as GRC's recurrence does.
        with torch.autocast(device_type=x.device.type, enabled=False):
            y, h_n, c_n = torch.lstm(x.to(dtype), (h.unsqueeze(0).to(dtype), c.unsqueeze(0).to(dtype)),
                                     weights, True, 1, 0.0, True, False, True)
        return y, (h_n.squeeze(0), c_n.squeeze(0))

    def _cell_update(self, gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        i, f, g, o = gates.chunk(4, dim=-1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_new), c_new


class CIFGCell(_GatedLSTMBase):
    """Coupled input-forget gate LSTM: ``i = 1 - f``, three gate blocks (f, g, o)."""

    num_gates = 3

    def _forget_slice(self) -> slice:
        return slice(0, self.hidden_size)

    def _cell_update(self, gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        f, g, o = gates.chunk(3, dim=-1)
        f = torch.sigmoid(f)
        c_new = f * c + (1.0 - f) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_new), c_new
