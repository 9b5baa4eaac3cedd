"""GRC: the Grouped-Recurrence Cell, memasr's own weight-reuse cell.

Design goal: every large matrix acts on the input (or on the output, without
feedback), so one off-chip fetch of it serves a whole chunk of frames; only a
small block-diagonal matrix is needed at every step, small enough to stay in
the on-chip buffer.

Equations, with ``H`` cells, ``g`` groups and output size ``P``::

    [z', f', o'] = W_x x_t + b                      W_x: [3H, I]   batchable
    [z'', f'', o''] = R h_{t-1}                     R: g blocks of [3H/g, H/g]
    z_t = tanh(z' + z'')
    f_t = sigmoid(f' + f'')
    o_t = sigmoid(o' + o'')
    c_t = f_t * c_{t-1} + (1 - f_t) * z_t           (coupled input/forget gate)
    h_t = o_t * tanh(c_t)
    y_t = W_p h_t                                   W_p: [P, H]    batchable (not fed back)

Recurrent weights: ``3H^2/g`` against an LSTM's ``4H^2`` at the same width, so
``g >= 6`` guarantees the issue's bound of 1/8 (``g = 8`` gives 3/32). Unlike
SRU the hidden units still mix across time inside each group, which keeps
modelling power close to a CIFG at a fraction of the per-step weights.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from memasr.cells.base import CellState, RecurrentCell

MAX_RECURRENT_FRACTION_OF_LSTM = 1.0 / 8.0


class GRCCell(RecurrentCell):
    def __init__(self, input_size: int, hidden_size: int, proj_size: int = 0, groups: int = 8) -> None:
        super().__init__()
        if hidden_size % groups:
            raise ValueError(f"GRC hidden size {hidden_size} is not divisible by groups={groups}")
        if 3.0 / (4.0 * groups) > MAX_RECURRENT_FRACTION_OF_LSTM:
            raise ValueError(f"GRC needs groups >= 6 to keep recurrent weights <= 1/8 of an LSTM's (got {groups})")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.groups = groups
        self.output_size = proj_size or hidden_size
        self.w_x = nn.Linear(input_size, 3 * hidden_size)
        block = hidden_size // groups
        self.r = nn.Parameter(torch.empty(groups, block, 3 * block))
        nn.init.uniform_(self.r, -1.0 / math.sqrt(block), 1.0 / math.sqrt(block))
        self.w_p = nn.Linear(hidden_size, proj_size, bias=False) if proj_size else None
        with torch.no_grad():
            self.w_x.bias.zero_()
            self.w_x.bias[hidden_size:2 * hidden_size].fill_(1.0)  # lean towards remembering

    def init_state(self, batch_size: int, device: torch.device | None = None,
                   dtype: torch.dtype | None = None) -> CellState:
        h = torch.zeros(batch_size, self.hidden_size, device=device, dtype=dtype)
        c = torch.zeros(batch_size, self.hidden_size, device=device, dtype=dtype)
        return (h, c)

    def project_inputs(self, x: Tensor) -> Tensor:
        return self.w_x(x)

    def _grouped_recurrence(self, h: Tensor) -> Tensor:
        """``h [B, H] -> [B, 3H]`` laid out as ``[z | f | o]`` like ``u``."""
        batch = h.shape[0]
        block = self.hidden_size // self.groups
        hg = h.reshape(batch, self.groups, block).transpose(0, 1)  # [g, B, H/g]
        out = torch.matmul(hg, self.r)  # [g, B, 3H/g]
        out = out.reshape(self.groups, batch, 3, block).permute(1, 2, 0, 3)  # [B, 3, g, H/g]
        return out.reshape(batch, 3 * self.hidden_size)

    def step(self, u_t: Tensor, state: CellState) -> tuple[Tensor, CellState]:
        h, c = state
        z, f, o = (u_t + self._grouped_recurrence(h)).chunk(3, dim=-1)
        f = torch.sigmoid(f)
        c_new = f * c + (1.0 - f) * torch.tanh(z)
        h_new = torch.sigmoid(o) * torch.tanh(c_new)
        return h_new, (h_new, c_new)

    def project_outputs(self, y: Tensor) -> Tensor:
        return self.w_p(y) if self.w_p is not None else y

    def recurrent_parameter_names(self) -> set[str]:
        return {"r"}
