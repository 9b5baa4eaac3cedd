"""Joiner: per-frame and per-token projections, tanh, output layer over vocab + blank.

The two projections are exposed separately so search code applies the encoder
projection once per frame and the predictor projection once per token, not
once per (frame, token) pair.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from memasr.model.config import JoinerConfig
from memasr.model.tracing import WeightTracer, emit, param_names


class Joiner(nn.Module):
    def __init__(self, config: JoinerConfig, encoder_dim: int, predictor_dim: int, num_classes: int) -> None:
        super().__init__()
        self.encoder_proj = nn.Linear(encoder_dim, config.dim)
        self.predictor_proj = nn.Linear(predictor_dim, config.dim, bias=False)
        self.output = nn.Linear(config.dim, num_classes)

    def project_encoder(self, enc: Tensor, tracer: WeightTracer | None = None) -> Tensor:
        """``enc [..., D_enc] -> [..., J]`` (once per encoder frame; chunk-batchable)."""
        emit(tracer, param_names(self.encoder_proj, ["weight", "bias"]))
        return self.encoder_proj(enc)

    def project_predictor(self, pred: Tensor, tracer: WeightTracer | None = None) -> Tensor:
        """``pred [..., P] -> [..., J]`` (once per token per hypothesis)."""
        if tracer is not None:
            for _ in range(max(1, pred.shape[:-1].numel())):  # once per token per hypothesis
                emit(tracer, param_names(self.predictor_proj, ["weight"]))
        return self.predictor_proj(pred)

    def joint(self, enc_proj: Tensor, pred_proj: Tensor, tracer: WeightTracer | None = None) -> Tensor:
        """Broadcasting join of projected inputs: ``tanh(enc + pred) -> logits [..., V+1]``."""
        if tracer is not None:
            # one use per (hypothesis, symbol step): every row of the batch is an invocation
            rows = max(1, torch.broadcast_shapes(enc_proj.shape, pred_proj.shape)[:-1].numel())
            tracer.begin_pass("joiner", 0, rows)
            for _ in range(rows):
                emit(tracer, param_names(self.output, ["weight", "bias"]))
        return self.output(torch.tanh(enc_proj + pred_proj))

    def forward(self, enc: Tensor, pred: Tensor) -> Tensor:
        """Full lattice for training: ``enc [B, T, D_enc], pred [B, U+1, P] -> [B, T, U+1, V+1]``."""
        return self.joint(self.project_encoder(enc).unsqueeze(2), self.project_predictor(pred).unsqueeze(1))
