"""Streaming recurrent encoder: frame stacking, cells, time reduction anywhere.

The streaming entry point :meth:`Encoder.forward_streaming` runs either
schedule of DESIGN.md section 3:

* layer-major (``chunk:N``): each layer processes every frame of the chunk,
  its input matrix applied once to the whole chunk, before the next layer runs;
* time-major (``frame``): every frame goes through every layer before the next
  frame starts.

Both compute the same function; they differ in the order of weight uses, which
an optional tracer records.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from memasr.cells import CellState, RecurrentCell, build_cell
from memasr.model.config import EncoderConfig
from memasr.model.tracing import WeightTracer, emit, param_names

EncoderState = list[CellState]


def stack_frames(features: Tensor, lengths: Tensor, size: int, stride: int) -> tuple[Tensor, Tensor]:
    """``features [B, T, F] -> ([B, T', size*F], lengths [B])``, ``T' = (T - size) // stride + 1``.

    Output frame j concatenates input frames ``j*stride .. j*stride+size-1``; no padding,
    so a streaming stacker that waits for full windows gives identical frames.
    """
    batch, total, dim = features.shape
    if total < size:
        return features.new_zeros(batch, 0, size * dim), torch.zeros_like(lengths)
    windows = features.unfold(1, size, stride)  # [B, T', F, size]
    stacked = windows.permute(0, 1, 3, 2).reshape(batch, windows.shape[1], size * dim)
    out_lengths = torch.where(lengths >= size, (lengths - size) // stride + 1, torch.zeros_like(lengths))
    return stacked, out_lengths


class EncoderLayer(nn.Module):
    """One recurrent cell with optional output LayerNorm and dropout."""

    def __init__(self, cell: RecurrentCell, layer_norm: bool, dropout: float) -> None:
        super().__init__()
        self.cell = cell
        self.norm = nn.LayerNorm(cell.output_size) if layer_norm else None
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        recurrent = cell.recurrent_parameter_names()
        cell_params = [n for n, _ in cell.named_parameters()]
        self._output_side = [n for n in cell_params if n.startswith(("w_p.",))]
        self._input_side = [n for n in cell_params if n not in recurrent and n not in self._output_side]
        self._recurrent = [n for n in cell_params if n in recurrent]

    def tensor_groups(self) -> dict[str, list[str]]:
        """Full parameter names by when they are used: input side, per step, output side."""
        norm = param_names(self.norm, [n for n, _ in self.norm.named_parameters()]) if self.norm else []
        return {
            "input": param_names(self.cell, self._input_side),
            "recurrent": param_names(self.cell, self._recurrent),
            "output": param_names(self.cell, self._output_side) + norm,
        }

    def forward(self, x: Tensor, state: CellState, tracer: WeightTracer | None = None) -> tuple[Tensor, CellState]:
        """Layer-major pass over a chunk: ``x [B, N, I] -> (y [B, N, O], state)``."""
        if tracer is None:
            y, state = self.cell(x, state)  # same function; the cell may use a fused kernel
        else:
            groups = self.tensor_groups()
            tracer.begin_pass("encoder", self.layer_index, x.shape[1])
            emit(tracer, groups["input"])
            u = self.cell.project_inputs(x)
            y, state = self.cell.run_steps(u, state, lambda: emit(tracer, groups["recurrent"]))
            emit(tracer, groups["output"])
            y = self.cell.project_outputs(y)
        if self.norm is not None:
            y = self.norm(y)
        if self.dropout is not None:
            y = self.dropout(y)
        return y, state


def _reduce_time(x: Tensor, factor: int) -> Tensor:
    """Concatenate ``factor`` consecutive frames: ``[B, T, D] -> [B, T/factor, factor*D]``."""
    batch, total, dim = x.shape
    return x.reshape(batch, total // factor, factor * dim)


class Encoder(nn.Module):
    """Recurrent encoder over stacked frames.

    Input to :meth:`forward` / :meth:`forward_streaming` is stacked frames
    ``[B, T, stack_frames * input_dim]``; ``T`` must be a multiple of
    :attr:`total_reduction` for streaming (the runtime pads the last chunk).
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.reduction_after = {after: factor for after, factor in config.time_reduction}
        self.total_reduction = config.total_reduction
        dim = config.stack_frames * config.input_dim
        dim *= self.reduction_after.get(0, 1)
        layers = []
        for index in range(config.num_layers):
            cell = build_cell(config.cell, dim, config.hidden_size, config.proj_size,
                              **({"groups": config.groups} if config.cell == "grc" else {}))
            layer = EncoderLayer(cell, config.layer_norm, config.dropout)
            layer.layer_index = index
            layers.append(layer)
            dim = cell.output_size * self.reduction_after.get(index + 1, 1)
        self.layers = nn.ModuleList(layers)
        self.output_proj = nn.Linear(dim, config.output_dim) if config.output_dim else None
        self.output_dim = config.output_dim or dim

    @property
    def input_dim(self) -> int:
        return self.config.stack_frames * self.config.input_dim

    def init_state(self, batch_size: int, device: torch.device | None = None,
                   dtype: torch.dtype | None = None) -> EncoderState:
        return [layer.cell.init_state(batch_size, device, dtype) for layer in self.layers]

    def output_tensors(self) -> list[str]:
        return param_names(self.output_proj, ["weight", "bias"]) if self.output_proj is not None else []

    def _finish(self, x: Tensor, tracer: WeightTracer | None) -> Tensor:
        if self.output_proj is None:
            return x
        if tracer is not None:
            tracer.begin_pass("encoder", len(self.layers), x.shape[1])
            emit(tracer, self.output_tensors())
        return self.output_proj(x)

    def forward(self, x: Tensor, lengths: Tensor, state: EncoderState | None = None
                ) -> tuple[Tensor, Tensor, EncoderState]:
        """Whole sequence: ``x [B, T, D_in] -> (out [B, ceil(T/R), D_out], lengths [B], state)``.

        ``T`` is zero-padded up to a multiple of the total time reduction ``R``, and frames at or
        past ``lengths`` (batch padding) are zeroed: streaming appends zero frames after an
        utterance, and the time reduction pairs an odd-length utterance's last frame with one.
        """
        padding = torch.arange(x.shape[1], device=x.device)[None, :] >= lengths.to(x.device)[:, None]
        x = x.masked_fill(padding.unsqueeze(-1), 0.0)
        pad = (-x.shape[1]) % self.total_reduction
        if pad:
            x = torch.nn.functional.pad(x, (0, 0, 0, pad))
        out, state = self.forward_streaming(x, state, layer_major=True)
        out_lengths = torch.div(lengths + self.total_reduction - 1, self.total_reduction, rounding_mode="floor")
        return out, out_lengths, state

    def forward_streaming(self, x: Tensor, state: EncoderState | None, layer_major: bool = True,
                          tracer: WeightTracer | None = None) -> tuple[Tensor, EncoderState]:
        """One chunk: ``x [B, N, D_in]`` with ``N % R == 0`` -> ``(out [B, N/R, D_out], state)``."""
        if x.shape[1] % self.total_reduction:
            raise ValueError(f"chunk of {x.shape[1]} frames is not a multiple of the time reduction {self.total_reduction}")
        if state is None:
            state = self.init_state(x.shape[0], x.device, x.dtype)
        state = list(state)
        if layer_major:
            out = self._layer_major(x, state, tracer)
        else:
            out = self._time_major(x, state, tracer)
        return self._finish(out, tracer), state

    def _layer_major(self, x: Tensor, state: EncoderState, tracer: WeightTracer | None) -> Tensor:
        if 0 in self.reduction_after:
            x = _reduce_time(x, self.reduction_after[0])
        for index, layer in enumerate(self.layers):
            x, state[index] = layer(x, state[index], tracer)
            factor = self.reduction_after.get(index + 1, 1)
            if factor > 1:
                x = _reduce_time(x, factor)
        return x

    def _time_major(self, x: Tensor, state: EncoderState, tracer: WeightTracer | None) -> Tensor:
        # pending[k] holds frames waiting for the reduction after layer k to fill up.
        pending: dict[int, list[Tensor]] = {k: [] for k in self.reduction_after}
        outputs = []
        for t in range(x.shape[1]):
            frame = x[:, t:t + 1]
            for index in range(len(self.layers) + 1):
                boundary = index  # reduction before layer `index` (after layer index)
                if boundary in pending:
                    pending[boundary].append(frame)
                    if len(pending[boundary]) < self.reduction_after[boundary]:
                        frame = None
                        break
                    frame = torch.cat(pending[boundary], dim=-1)
                    pending[boundary] = []
                if index == len(self.layers):
                    break
                frame, state[index] = self.layers[index](frame, state[index], tracer)
            if frame is not None:
                outputs.append(frame)
        return torch.cat(outputs, dim=1)
