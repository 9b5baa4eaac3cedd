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
import torch.nn.functional as F
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
        # W_x's rows taken group-major ([g, 3, b] instead of [3, g, b]; a copy of the small matrix)
        # and x time-major, so u comes out as [T, B, g, 3b] with no copy of the wide u itself.
        w = self.w_x.weight.view(3, groups, block, -1).transpose(0, 1).reshape(3 * self.hidden_size, -1)
        bias = self.w_x.bias.view(3, groups, block).transpose(0, 1).reshape(-1)
        u = F.linear(x.transpose(0, 1).contiguous(), w, bias).view(steps, batch, groups, 3 * block)
        dtype = self.r.dtype  # the recurrence runs at the weights' precision, also under AMP
        with torch.autocast(device_type=x.device.type, enabled=False):
            h_all, c_last = _GroupedRecurrence.apply(
                u.to(dtype), h.view(batch, groups, block).to(dtype), c.view(batch, groups, block).to(dtype), self.r)
        y = h_all.view(steps, batch, self.hidden_size)  # [T, B, H]
        return self.project_outputs(y).transpose(0, 1), (y[-1], c_last.reshape(batch, self.hidden_size))

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
    matmul, gates); this runs one loop each way over ``[g, B, .]`` views of time-major
    buffers, so nothing wide is permuted: ``u``, ``h``, ``c`` and the gates stay in the
    ``[T, B, g, .]`` layout that ``W_x``'s group-major rows and ``W_p`` read and write, and
    gradients are written in place. Each step's element-wise work stays per step (its
    ``[g, B, b]`` tensors fit in cache; whole-sequence factors would not), and ``dR``
    accumulates one small batched matmul per step.
    Shapes: ``u [T, B, g, 3b]`` (pre-activations, gate-major inside each group),
    ``h0, c0 [B, g, b]``, ``r [g, b, 3b]`` -> ``h [T, B, g, b]``, ``c_T [B, g, b]``.
    """

    @staticmethod
    def forward(ctx, u: Tensor, h0: Tensor, c0: Tensor, r: Tensor) -> tuple[Tensor, Tensor]:
        steps, block = u.shape[0], r.shape[1]
        h_all = u.new_empty(u.shape[:-1] + (block,))
        c_all = torch.empty_like(h_all)
        tanh_c_all = torch.empty_like(h_all)  # kept: the backward pass needs it too
        gates = torch.empty_like(u)  # z, f, o after their nonlinearities
        h, c = h0.transpose(0, 1), c0.transpose(0, 1)  # [g, B, b] views
        for t in range(steps):  # results are written straight into the saved buffers
            a = torch.baddbmm(u[t].transpose(0, 1), h, r)  # [g, B, 3b]
            g_t = gates[t].transpose(0, 1)
            z = torch.tanh(a[..., :block], out=g_t[..., :block])
            fo = torch.sigmoid(a[..., block:], out=g_t[..., block:])
            c = torch.lerp(z, c, fo[..., :block], out=c_all[t].transpose(0, 1))  # f c + (1 - f) z
            tanh_c = torch.tanh(c, out=tanh_c_all[t].transpose(0, 1))
            h = torch.mul(fo[..., block:], tanh_c, out=h_all[t].transpose(0, 1))
        ctx.save_for_backward(h0, c0, r, h_all, c_all, tanh_c_all, gates)
        return h_all, c_all[-1]

    @staticmethod
    @torch.autograd.function.once_differentiable  # saved gates are plain tensors: no double backward
    def backward(ctx, grad_h: Tensor, grad_c: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        h0, c0, r, h_all, c_all, tanh_c_all, gates = ctx.saved_tensors
        steps, block = h_all.shape[0], r.shape[1]
        grad_u = torch.empty_like(gates)
        grad_r = torch.zeros_like(r)
        r_t = r.transpose(1, 2)
        one = r.new_ones(())
        dh_next = torch.zeros_like(h0.transpose(0, 1))
        dc = grad_c.transpose(0, 1) if grad_c is not None else torch.zeros_like(dh_next)
        for t in range(steps - 1, -1, -1):
            g_t, ga = gates[t].transpose(0, 1), grad_u[t].transpose(0, 1)  # [g, B, 3b]
            z, f, o = g_t[..., :block], g_t[..., block:2 * block], g_t[..., 2 * block:]
            c_prev = (c_all[t - 1] if t > 0 else c0).transpose(0, 1)
            tanh_c = tanh_c_all[t].transpose(0, 1)
            dh = dh_next if grad_h is None else grad_h[t].transpose(0, 1) + dh_next
            # addcmul(one, x, x, value=-1) is 1 - x^2 (and addcmul(o, o, o, value=-1) is o (1 - o)) in one op
            dc = torch.addcmul(dc, dh * o, torch.addcmul(one, tanh_c, tanh_c, value=-1.0))
            one_minus_f = 1.0 - f
            torch.mul(dc * one_minus_f, torch.addcmul(one, z, z, value=-1.0), out=ga[..., :block])
            torch.mul(dc * (c_prev - z), f * one_minus_f, out=ga[..., block:2 * block])
            torch.mul(dh * tanh_c, torch.addcmul(o, o, o, value=-1.0), out=ga[..., 2 * block:])
            dc = dc * f
            dh_next = torch.bmm(ga, r_t)
            grad_r.baddbmm_((h_all[t - 1] if t > 0 else h0).permute(1, 2, 0), ga)  # dR += h_{t-1}^T a_t
        return grad_u, dh_next.transpose(0, 1), dc.transpose(0, 1), grad_r
