"""Simple Recurrent Unit (Lei et al., 2018, with the SRU++-style state vectors).

Every matrix acts on the input; the recurrence is element-wise::

    [x~, f', r'] = W x                                  (chunk-batchable)
    f_t = sigmoid(f'_t + v_f * c_{t-1} + b_f)
    r_t = sigmoid(r'_t + v_r * c_{t-1} + b_r)
    c_t = f_t * c_{t-1} + (1 - f_t) * x~_t
    h_t = r_t * tanh(c_t) + (1 - r_t) * skip(x_t)

``skip`` is the identity when input and hidden sizes match, else a projection
(folded into ``W`` as a fourth block so it is batchable too).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from memasr.cells.base import CellState, RecurrentCell


class SRUCell(RecurrentCell):
    def __init__(self, input_size: int, hidden_size: int, proj_size: int = 0) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = hidden_size
        self.skip_projected = input_size != hidden_size
        blocks = 4 if self.skip_projected else 3
        self.w_x = nn.Linear(input_size, blocks * hidden_size, bias=False)
        self.v = nn.Parameter(torch.zeros(2, hidden_size))  # v_f, v_r (element-wise)
        self.b = nn.Parameter(torch.zeros(2, hidden_size))  # b_f, b_r
        nn.init.uniform_(self.v, -0.5, 0.5)
        if proj_size:
            raise ValueError("SRUCell has no projection; use the encoder's layer projection")

    def init_state(self, batch_size: int, device: torch.device | None = None,
                   dtype: torch.dtype | None = None) -> CellState:
        return (torch.zeros(batch_size, self.hidden_size, device=device, dtype=dtype),)

    def project_inputs(self, x: Tensor) -> Tensor:
        u = self.w_x(x)
        if not self.skip_projected:
            u = torch.cat([u, x], dim=-1)  # carry the identity skip along with U
        return u

    def step(self, u_t: Tensor, state: CellState) -> tuple[Tensor, CellState]:
        (c,) = state
        x_tilde, f_in, r_in, skip = u_t.chunk(4, dim=-1)
        f = torch.sigmoid(f_in + self.v[0] * c + self.b[0])
        r = torch.sigmoid(r_in + self.v[1] * c + self.b[1])
        c_new = f * c + (1.0 - f) * x_tilde
        h = r * torch.tanh(c_new) + (1.0 - r) * skip
        return h, (c_new,)

    def recurrent_parameter_names(self) -> set[str]:
        return {"v", "b"}
