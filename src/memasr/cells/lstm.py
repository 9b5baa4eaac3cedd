"""LSTM and CIFG-LSTM cells, with an optional recurrent projection (LSTMP).

Written from basic ops (matmul, sigmoid, tanh) so they export to ONNX without a
fused LSTM operator, and so the input matrix can be applied to a whole chunk.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from memasr.cells.base import CellState, RecurrentCell, split_outgoing, split_units

# ATen's note about its fused LSTM kernel (cuDNN copies weights that are not one flat buffer) is
# expected here and would otherwise repeat on every call.
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
        """Whole sequence; in training mode through a fused kernel (same gate order, same math,
        no per-step autograd nodes; see docs/cells.md for the measured gains): LSTMP on CPU through
        :class:`_ProjectedRecurrence`, everything else through ATen's LSTM (oneDNN on CPU, cuDNN on
        GPU). Eval and export keep the plain ops so ONNX sees no fused LSTM."""
        if not self._fused_ok(x):
            return super().forward(x, state)
        if state is None:
            state = self.init_state(x.shape[0], x.device, x.dtype)
        h, c = state
        dtype = self.w_h.weight.dtype
        if self.w_proj is not None and x.device.type == "cpu":  # cuDNN has a fused LSTMP kernel: keep it
            u = self.project_inputs(x.transpose(0, 1).contiguous())  # [T, B, 4H]: time-major, no wide copy
            with torch.autocast(device_type=x.device.type, enabled=False):  # recurrence at the weights' precision
                y, c_n = _ProjectedRecurrence.apply(u.to(dtype), h.to(dtype), c.to(dtype),
                                                    self.w_h.weight, self.w_proj.weight)
            y = y.transpose(0, 1)
            return y, (y[:, -1], c_n)
        if self.proj_size >= self.hidden_size:  # ATen takes only a projection narrower than the cell
            return super().forward(x, state)
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


class _ProjectedRecurrence(torch.autograd.Function):
    """The LSTMP recurrence over a whole sequence with a hand-written backward pass.

    ATen's CPU LSTM has no oneDNN kernel with a projection; its fallback records autograd nodes
    at every step, and their weight gradients are full ``[4H, P]`` and ``[P, H]`` matrices made
    and summed once per step. Here the backward loop carries only ``[B, .]`` activations, and
    ``dW_h`` and ``dW_proj`` are one matmul each over all steps (as GRC's ``dR``).
    Shapes: ``u [T, B, 4H]`` (``W_x x + b``, gates i, f, g, o), ``h0 [B, P]``, ``c0 [B, H]``,
    ``w_h [4H, P]``, ``w_proj [P, H]`` -> ``h [T, B, P]``, ``c_T [B, H]``.
    """

    @staticmethod
    def forward(ctx, u: Tensor, h0: Tensor, c0: Tensor, w_h: Tensor, w_proj: Tensor) -> tuple[Tensor, Tensor]:
        steps, batch, hidden = u.shape[0], u.shape[1], c0.shape[-1]
        gates = torch.empty_like(u)  # i, f, g, o after their nonlinearities
        c_all = u.new_empty(steps, batch, hidden)
        m_all = torch.empty_like(c_all)  # o * tanh(c), the projection's input
        h_all = u.new_empty(steps, batch, w_proj.shape[0])
        w_h_t, w_proj_t = w_h.t(), w_proj.t()
        h, c = h0, c0
        for t in range(steps):  # results are written straight into the saved buffers
            a = torch.addmm(u[t], h, w_h_t)
            torch.sigmoid(a[:, :2 * hidden], out=gates[t, :, :2 * hidden])
            torch.tanh(a[:, 2 * hidden:3 * hidden], out=gates[t, :, 2 * hidden:3 * hidden])
            torch.sigmoid(a[:, 3 * hidden:], out=gates[t, :, 3 * hidden:])
            i, f, g, o = gates[t].chunk(4, dim=-1)
            c = torch.addcmul(f * c, i, g, out=c_all[t])
            m = torch.mul(o, torch.tanh(c), out=m_all[t])
            h = torch.mm(m, w_proj_t, out=h_all[t])
        ctx.save_for_backward(h0, c0, w_h, w_proj, h_all, c_all, m_all, gates)
        return h_all, c

    @staticmethod
    @torch.autograd.function.once_differentiable  # saved gates are plain tensors: no double backward
    def backward(ctx, grad_h: Tensor, grad_c: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        h0, c0, w_h, w_proj, h_all, c_all, m_all, gates = ctx.saved_tensors
        steps, hidden, proj = gates.shape[0], c0.shape[-1], h0.shape[-1]
        grad_a = torch.empty_like(gates)
        grad_h_all = torch.empty_like(h_all)  # dL/dh_t, from above and from step t+1
        dh_next = torch.zeros_like(h0)
        dc = grad_c.clone() if grad_c is not None else torch.zeros_like(c0)
        for t in range(steps - 1, -1, -1):
            i, f, g, o = gates[t].chunk(4, dim=-1)
            c_prev = c_all[t - 1] if t > 0 else c0
            tanh_c = torch.tanh(c_all[t])
            dh = grad_h_all[t].copy_(dh_next) if grad_h is None else torch.add(grad_h[t], dh_next, out=grad_h_all[t])
            dm = torch.mm(dh, w_proj)
            ga = grad_a[t]  # gradients are written into it in place (a slice assignment would copy)
            torch.mul(dm * tanh_c, o * (1.0 - o), out=ga[:, 3 * hidden:])
            dc = dc + dm * o * (1.0 - tanh_c * tanh_c)
            torch.mul(dc * g, i * (1.0 - i), out=ga[:, :hidden])
            torch.mul(dc * c_prev, f * (1.0 - f), out=ga[:, hidden:2 * hidden])
            torch.mul(dc * i, 1.0 - g * g, out=ga[:, 2 * hidden:3 * hidden])
            dc = dc * f
            dh_next = torch.mm(grad_a[t], w_h)
        h_prev = torch.cat([h0.unsqueeze(0), h_all[:-1]], dim=0)  # [T, B, P]
        grad_w_h = grad_a.reshape(-1, 4 * hidden).t() @ h_prev.reshape(-1, proj)
        grad_w_proj = grad_h_all.reshape(-1, proj).t() @ m_all.reshape(-1, hidden)
        return grad_a, dh_next, dc, grad_w_h, grad_w_proj
