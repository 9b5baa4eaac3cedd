"""The RNN-T model: encoder + predictor + joiner, with torchaudio's public methods.

Tensor conventions: ``B`` batch, ``T`` feature frames (10 ms), ``T'`` encoder
output frames, ``U`` tokens, ``V`` vocabulary (non-blank), blank id 0.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from memasr.data.features import GlobalCMVN
from memasr.model.config import ModelConfig
from memasr.model.encoder import Encoder, EncoderState, stack_frames
from memasr.model.joiner import Joiner
from memasr.model.predictor import PredictorState, build_predictor
from memasr.model.tracing import WeightTracer, assign_trace_names


class Transducer(nn.Module):
    blank_id = 0

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.normalizer = GlobalCMVN(config.encoder.input_dim)
        self.encoder = Encoder(config.encoder)
        self.predictor = build_predictor(config.predictor, config.num_classes)
        self.joiner = Joiner(config.joiner, self.encoder.output_dim, self.predictor.output_size, config.num_classes)
        assign_trace_names(self)

    # --- encoder side -------------------------------------------------------------
    def stack(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Normalize and stack: ``features [B, T, F] -> ([B, T_s, stack*F], lengths)``."""
        enc = self.config.encoder
        return stack_frames(self.normalizer(features), lengths, enc.stack_frames, enc.stack_stride)

    def transcribe(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Whole utterance: ``features [B, T, F], lengths [B] -> (enc [B, T', D], lengths [B])``."""
        stacked, stacked_lengths = self.stack(features, lengths)
        enc, enc_lengths, _ = self.encoder(stacked, stacked_lengths)
        return enc, enc_lengths

    def transcribe_streaming(self, stacked: Tensor, state: EncoderState | None, layer_major: bool = True,
                             tracer: WeightTracer | None = None) -> tuple[Tensor, EncoderState]:
        """One chunk of stacked frames ``[B, N, stack*F]`` (``N`` a multiple of the time
        reduction ``R``) -> ``(enc [B, N/R, D], state)``."""
        return self.encoder.forward_streaming(stacked, state, layer_major=layer_major, tracer=tracer)

    # --- label side ---------------------------------------------------------------
    def predict(self, tokens: Tensor, lengths: Tensor, state: PredictorState | None = None,
                tracer: WeightTracer | None = None) -> tuple[Tensor, Tensor, PredictorState]:
        """``tokens [B, U] -> (out [B, U, P], lengths [B], state)``; token 0 (blank) is the start symbol."""
        out, state = self.predictor(tokens, state, tracer)
        return out, lengths, state

    def join(self, enc: Tensor, enc_lengths: Tensor, pred: Tensor, pred_lengths: Tensor
             ) -> tuple[Tensor, Tensor, Tensor]:
        """``enc [B, T', D], pred [B, U+1, P] -> (logits [B, T', U+1, V+1], enc_lengths, pred_lengths)``."""
        return self.joiner(enc, pred), enc_lengths, pred_lengths

    def forward(self, features: Tensor, feature_lengths: Tensor, targets: Tensor, target_lengths: Tensor
                ) -> tuple[Tensor, Tensor, Tensor]:
        """Training forward: returns ``(logits [B, T', U+1, V+1], enc_lengths [B], enc [B, T', D])``."""
        enc, enc_lengths = self.transcribe(features, feature_lengths)
        start = targets.new_zeros(targets.shape[0], 1)
        pred, _, _ = self.predict(torch.cat([start, targets], dim=1), target_lengths + 1)
        logits, _, _ = self.join(enc, enc_lengths, pred, target_lengths + 1)
        return logits, enc_lengths, enc

    def init_state(self, batch_size: int = 1, device: torch.device | None = None
                   ) -> tuple[EncoderState, PredictorState]:
        return (self.encoder.init_state(batch_size, device), self.predictor.init_state(batch_size, device))


def build_model(config: ModelConfig) -> Transducer:
    """Factory (icefall style): a Transducer from a config."""
    return Transducer(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
