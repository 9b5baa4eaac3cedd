"""Predictors (the transducer's label model): recurrent or stateless.

Token ids: 0 is blank, which also serves as the start symbol; real tokens are
``1..vocab_size``.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from memasr.cells import CellState, build_cell
from memasr.model.config import PredictorConfig
from memasr.model.tracing import WeightTracer, emit, param_names

PredictorState = tuple[Tensor, ...]


class Predictor(nn.Module):
    """Common interface: ``forward(tokens [B, U], state) -> (out [B, U, output_size], state)``."""

    output_size: int

    def init_state(self, batch_size: int, device: torch.device | None = None) -> PredictorState:
        raise NotImplementedError

    def dense_tensors(self) -> list[str]:
        """Full names of the tensors used whole at every invocation (everything but the embedding)."""
        return param_names(self, [n for n, _ in self.named_parameters() if not n.startswith("embedding.")])

    rows_per_call: int = 1  # embedding rows one invocation reads

    def _trace(self, rows: Tensor, tracer: WeightTracer | None) -> None:
        """``rows [B, U, rows_per_call]``: the embedding rows each (hypothesis, token) call reads."""
        if tracer is None:
            return
        embedding = f"{self.trace_name}.embedding.weight"
        tracer.begin_pass("predictor", 0, rows.shape[0] * rows.shape[1])
        for call in rows.reshape(-1, rows.shape[-1]).tolist():  # one invocation per token per hypothesis
            for row in call:
                tracer.use(embedding, row=int(row))
            emit(tracer, self.dense_tensors())


class RNNPredictor(Predictor):
    """Embedding followed by a stack of recurrent cells."""

    def __init__(self, config: PredictorConfig, num_classes: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_classes, config.embed_dim)
        dim = config.embed_dim
        cells = []
        for _ in range(config.num_layers):
            cell = build_cell(config.cell, dim, config.hidden_size, config.proj_size,
                              **({"groups": config.groups} if config.cell == "grc" else {}))
            cells.append(cell)
            dim = cell.output_size
        self.cells = nn.ModuleList(cells)
        # state tensors per cell, counted once: the flat state is split on every call
        self._state_counts = [len(c.init_state(1, torch.device("meta"))) for c in cells]
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else None
        self.output_size = dim

    def init_state(self, batch_size: int, device: torch.device | None = None) -> PredictorState:
        states: list[Tensor] = []
        for cell in self.cells:
            states.extend(cell.init_state(batch_size, device))
        return tuple(states)

    def _split_state(self, state: PredictorState) -> list[CellState]:
        out, offset = [], 0
        for n in self._state_counts:
            out.append(tuple(state[offset:offset + n]))
            offset += n
        return out

    def forward(self, tokens: Tensor, state: PredictorState | None = None,
                tracer: WeightTracer | None = None) -> tuple[Tensor, PredictorState]:
        """``tokens [B, U] -> (out [B, U, output_size], state)``."""
        if state is None:
            state = self.init_state(tokens.shape[0], tokens.device)
        self._trace(tokens[..., None], tracer)
        x = self.embedding(tokens)
        new_state: list[Tensor] = []
        for cell, cell_state in zip(self.cells, self._split_state(state)):
            x, cell_state = cell(x, cell_state)
            if self.dropout is not None:
                x = self.dropout(x)
            new_state.extend(cell_state)
        return x, tuple(new_state)


class StatelessPredictor(Predictor):
    """Embedding of the last ``context_size`` tokens mixed by a depthwise Conv1d, then ReLU.

    It has no recurrent weights; its state is just the last tokens ``[B, context_size]``.
    """

    def __init__(self, config: PredictorConfig, num_classes: int) -> None:
        super().__init__()
        self.context_size = config.context_size
        self.rows_per_call = config.context_size
        self.embedding = nn.Embedding(num_classes, config.embed_dim)
        self.conv = nn.Conv1d(config.embed_dim, config.embed_dim, config.context_size,
                              groups=config.embed_dim, bias=False) if config.context_size > 1 else None
        self.output_size = config.embed_dim

    def init_state(self, batch_size: int, device: torch.device | None = None) -> PredictorState:
        return (torch.zeros(batch_size, self.context_size - 1, dtype=torch.long, device=device),)

    def forward(self, tokens: Tensor, state: PredictorState | None = None,
                tracer: WeightTracer | None = None) -> tuple[Tensor, PredictorState]:
        """``tokens [B, U] -> (out [B, U, embed_dim], state = last context_size - 1 tokens)``."""
        if state is None:
            state = self.init_state(tokens.shape[0], tokens.device)
        history = torch.cat([state[0], tokens], dim=1)  # [B, k-1+U]
        if tracer is not None:  # each output position reads the embeddings of its k-token context
            self._trace(history.unfold(1, self.context_size, 1), tracer)
        x = self.embedding(history)
        if self.conv is not None:
            x = self.conv(x.transpose(1, 2)).transpose(1, 2)  # [B, U, E]
        x = torch.relu(x)
        return x, (history[:, history.shape[1] - (self.context_size - 1):],)


def build_predictor(config: PredictorConfig, num_classes: int) -> Predictor:
    if config.kind == "stateless":
        return StatelessPredictor(config, num_classes)
    return RNNPredictor(config, num_classes)
