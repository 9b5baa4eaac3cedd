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

from memasr.cells.base import CellState, RecurrentCell, split_outgoing, split_units

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

    def forward(self, x: Tensor, state: CellState | None = None) -> tuple[Tensor, CellState]:
        """Whole sequence; in training mode through :class:`_GroupedRecurrence` (same math,
        a hand-written backward pass). Eval, streaming and export use the plain step ops."""
        if not self._fused_ok(x):
            return super().forward(x, state)
        batch, steps = x.shape[:2]
        if state is None:
            state = self.init_state(batch, x.device, x.dtype)
        h, c = state
        groups, block = self.groups, self.hidden_size // self.groups
        u = self.project_inputs(x).view(batch, steps, 3, groups, block)
        u = u.permute(1, 3, 0, 2, 4).reshape(steps, groups, batch, 3 * block)  # [T, g, B, 3b]
        dtype = self.r.dtype  # the recurrence runs at the weights' precision, also under AMP
        with torch.autocast(device_type=x.device.type, enabled=False):
            h_all, c_last = _GroupedRecurrence.apply(
                u.to(dtype), h.view(batch, groups, block).transpose(0, 1).to(dtype),
                c.view(batch, groups, block).transpose(0, 1).to(dtype), self.r)
        y = h_all.permute(2, 0, 1, 3).reshape(batch, steps, self.hidden_size)
        return self.project_outputs(y), (y[:, -1], c_last.transpose(0, 1).reshape(batch, self.hidden_size))

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

    def widen_from(self, source: RecurrentCell) -> None:
        """More units per group, same groups (see :meth:`RecurrentCell.widen_from`): a copy
        stays in its original's group; ``R``'s rows (what a unit feeds back) and ``W_p``'s
        columns are shared among the copies."""
        self._check_widen_source(source)
        if source.groups != self.groups or self.w_p is None:
            raise ValueError(f"a GRC widens with the same groups and a projection "
                             f"(groups {source.groups} against {self.groups}, proj {self.output_size})")
        g, old, new = self.groups, source.hidden_size // self.groups, self.hidden_size // self.groups
        units, copies = split_units(old, new)
        with torch.no_grad():
            self.w_x.weight.copy_(source.w_x.weight.view(3, g, old, -1)[:, :, units].reshape_as(self.w_x.weight))
            self.w_x.bias.copy_(source.w_x.bias.view(3, g, old)[:, :, units].reshape_as(self.w_x.bias))
            r = source.r.view(g, old, 3, old)[:, :, :, units]  # gate inputs of every unit, copies included
            r = split_outgoing(r.permute(0, 2, 3, 1), units, copies, noise=0.0).permute(0, 3, 1, 2)
            self.r.copy_(r.reshape_as(self.r))
            w_p = split_outgoing(source.w_p.weight.view(-1, g, old), units, copies)
            self.w_p.weight.copy_(w_p.reshape_as(self.w_p.weight))


class _GroupedRecurrence(torch.autograd.Function):
    """The GRC recurrence over a whole sequence with a hand-written backward pass.

    Autograd through the per-step ops records ~20 nodes per step (reshapes, a grouped
    matmul, gates); this keeps gates in the matmul's own ``[g, B, .]`` layout, stores them
    once per step and runs one loop backwards, with ``dR`` as a single batched matmul.
    Shapes: ``u [T, g, B, 3b]`` (pre-activations from ``W_x``, gate-major inside each group),
    ``h0, c0 [g, B, b]``, ``r [g, b, 3b]`` -> ``h [T, g, B, b]``, ``c_T [g, B, b]``.
    """

    @staticmethod
    def forward(ctx, u: Tensor, h0: Tensor, c0: Tensor, r: Tensor) -> tuple[Tensor, Tensor]:
        steps, block = u.shape[0], r.shape[1]
        h_all = u.new_empty(u.shape[:-1] + (block,))
        c_all = torch.empty_like(h_all)
        gates = torch.empty_like(u)  # z, f, o after their nonlinearities
        h, c = h0, c0
        for t in range(steps):  # results are written straight into the saved buffers
            a = torch.baddbmm(u[t], h, r)
            z = torch.tanh(a[..., :block], out=gates[t, ..., :block])
            fo = torch.sigmoid(a[..., block:], out=gates[t, ..., block:])
            f, o = fo[..., :block], fo[..., block:]
            c = torch.addcmul(f * c, 1.0 - f, z, out=c_all[t])
            h = torch.mul(o, torch.tanh(c), out=h_all[t])
        ctx.save_for_backward(h0, c0, r, h_all, c_all, gates)
        return h_all, c

    @staticmethod
    @torch.autograd.function.once_differentiable  # saved gates are plain tensors: no double backward
    def backward(ctx, grad_h: Tensor, grad_c: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        h0, c0, r, h_all, c_all, gates = ctx.saved_tensors
        steps, block = h_all.shape[0], r.shape[1]
        grad_a = torch.empty_like(gates)
        r_t = r.transpose(1, 2)
        dh_next = torch.zeros_like(h0)
        dc = grad_c.clone() if grad_c is not None else torch.zeros_like(c0)
        for t in range(steps - 1, -1, -1):
            z, f, o = gates[t, ..., :block], gates[t, ..., block:2 * block], gates[t, ..., 2 * block:]
            c_prev = c_all[t - 1] if t > 0 else c0
            tanh_c = torch.tanh(c_all[t])
            dh = dh_next if grad_h is None else grad_h[t] + dh_next
            dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
            grad_a[t, ..., :block] = dc * (1.0 - f) * (1.0 - z * z)
            grad_a[t, ..., block:2 * block] = dc * (c_prev - z) * f * (1.0 - f)
            grad_a[t, ..., 2 * block:] = dh * tanh_c * o * (1.0 - o)
            dc = dc * f
            dh_next = torch.bmm(grad_a[t], r_t)
        h_prev = torch.cat([h0.unsqueeze(0), h_all[:-1]], dim=0)  # [T, g, B, b]
        groups = r.shape[0]
        grad_r = torch.bmm(h_prev.permute(1, 3, 0, 2).reshape(groups, block, -1),
                           grad_a.permute(1, 0, 2, 3).reshape(groups, -1, 3 * block))
        return grad_a, dh_next, dc, grad_r
