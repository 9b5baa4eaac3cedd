"""The streaming runtime that really runs the schedules of DESIGN.md section 3.

``chunk:N`` (layer-major): each encoder layer processes all N stacked frames of
the chunk, then the joiner's encoder projection is applied to the chunk's
output frames at once, then the search consumes them.
``frame`` (time-major): one reduction group at a time goes through every layer,
the encoder projection and the search before the next group starts.

Both produce the same tokens; only the order of weight uses differs.

The decoder state depends on the search method: a batched :class:`GreedyState`
for ``greedy``, a list of per-stream :class:`BeamState` for the two beam searches.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch
from torch import Tensor

from memasr.decode.beam import BeamState, beam_search, init_beam_state, modified_beam_search
from memasr.decode.fusion import ShallowFusion
from memasr.decode.greedy import (GreedyState, greedy_search, init_greedy_state, stack_greedy_states,
                                  unstack_greedy_state)
from memasr.errors import InputError
from memasr.memory.schedule import Schedule, parse_schedule
from memasr.model.encoder import EncoderState
from memasr.model.state import stack_states, unstack_states
from memasr.model.tracing import WeightTracer
from memasr.model.transducer import Transducer


METHODS = ("greedy", "modified_beam_search", "beam_search")
DecoderState = Union[GreedyState, list[BeamState]]


@dataclass
class RuntimeState:
    encoder: EncoderState | None
    decoder: DecoderState


def stack_runtime_states(states: list[RuntimeState], model: Transducer) -> RuntimeState:
    """Batch single- or multi-stream states (icefall's ``stack_states``) for one batched call."""
    enc = [s.encoder if s.encoder is not None else model.encoder.init_state(_batch_of(s)) for s in states]
    first = states[0].decoder
    if isinstance(first, GreedyState):
        dec: DecoderState = stack_greedy_states([s.decoder for s in states])
    else:
        dec = [b for s in states for b in s.decoder]
    return RuntimeState(stack_states(enc), dec)


def unstack_runtime_state(state: RuntimeState) -> list[RuntimeState]:
    encs = unstack_states(state.encoder) if state.encoder is not None else None
    if isinstance(state.decoder, GreedyState):
        decs: list = unstack_greedy_state(state.decoder)
    else:
        decs = [[b] for b in state.decoder]
    return [RuntimeState(encs[i] if encs is not None else None, d) for i, d in enumerate(decs)]


def _batch_of(state: RuntimeState) -> int:
    return len(state.decoder.hyps) if isinstance(state.decoder, GreedyState) else len(state.decoder)


class StreamingRuntime:
    """Encoder schedule + search. ``method`` is one of :data:`METHODS`; ``max_active_paths``
    is the beam width of both beam searches; ``fusion`` (an external LM) is shallow fusion in
    both (see :mod:`memasr.decode.fusion`)."""

    def __init__(self, model: Transducer, schedule: Schedule | str | None = None,
                 max_symbols_per_frame: int = 3, method: str = "greedy", max_active_paths: int = 4,
                 fusion: ShallowFusion | None = None) -> None:
        if isinstance(schedule, str) or schedule is None:
            schedule = parse_schedule(schedule or model.config.schedule)
        reduction = model.encoder.total_reduction
        if schedule.layer_major and schedule.chunk_frames % reduction:
            raise InputError(f"chunk size {schedule.chunk_frames} must be a multiple of the model's "
                             f"time reduction ({reduction})")
        if method not in METHODS:
            raise InputError(f"unknown decoding method {method!r}; choose from {', '.join(METHODS)}")
        if max_active_paths < 1 or max_symbols_per_frame < 1:
            raise InputError("max_active_paths and max_symbols_per_frame must be >= 1")
        if fusion is not None:
            if method == "greedy":
                raise InputError("an external LM needs modified_beam_search or beam_search, not greedy")
            fusion.check_vocabulary(model.joiner.output.out_features - 1)
        self.fusion = fusion
        self.model = model.eval()
        self.schedule = schedule
        self.max_symbols_per_frame = max_symbols_per_frame
        self.method = method
        self.max_active_paths = max_active_paths
        # frames handed to the encoder per call: a chunk, or one reduction group
        self.step_frames = schedule.chunk_frames if schedule.layer_major else reduction

    def init_state(self, batch_size: int = 1, tracer: WeightTracer | None = None) -> RuntimeState:
        if self.method == "greedy":
            return RuntimeState(None, init_greedy_state(self.model, batch_size, tracer))
        return RuntimeState(None, [init_beam_state(self.model, tracer) for _ in range(batch_size)])

    def search(self, enc_proj: Tensor, decoder: DecoderState, tracer: WeightTracer | None = None) -> DecoderState:
        """Run the configured search over projected encoder frames ``[B, T, J]``."""
        if self.method == "greedy":
            return greedy_search(self.model, enc_proj, decoder, self.max_symbols_per_frame, tracer)
        if self.method == "modified_beam_search":
            return modified_beam_search(self.model, enc_proj, decoder, self.max_active_paths, tracer, self.fusion)
        return [beam_search(self.model, enc_proj[i:i + 1], s, self.max_active_paths, self.max_symbols_per_frame,
                            tracer, self.fusion) for i, s in enumerate(decoder)]

    def best_tokens(self, state: RuntimeState, index: int = 0, final: bool = False
                    ) -> tuple[list[int], list[int], float]:
        """:func:`best_tokens` with this runtime's LM: ``final`` (the stream has ended and every
        frame is decoded) adds the LM's end-of-sentence score before choosing."""
        return best_tokens(state, index, self.fusion, final)

    @torch.no_grad()
    def process(self, stacked: Tensor, state: RuntimeState, tracer: WeightTracer | None = None) -> RuntimeState:
        """Run ``stacked [B, N, D]`` (``N`` a multiple of the time reduction; the last chunk
        of a stream may be shorter than the schedule's chunk) through encoder and search."""
        step = self.step_frames
        for start in range(0, stacked.shape[1], step):
            piece = stacked[:, start:start + step]
            enc, state.encoder = self.model.transcribe_streaming(piece, state.encoder, self.schedule.layer_major,
                                                                 tracer)
            enc_proj = self.model.joiner.project_encoder(enc, tracer)
            state.decoder = self.search(enc_proj, state.decoder, tracer)
        return state

    @torch.no_grad()
    def run_features(self, features: Tensor, tracer: WeightTracer | None = None) -> RuntimeState:
        """Single stream, whole feature matrix ``[T, F]``, fed chunk by chunk."""
        stacked, _ = self.model.stack(features[None], torch.tensor([features.shape[0]]))
        pad = (-stacked.shape[1]) % self.model.encoder.total_reduction
        if pad:
            stacked = torch.nn.functional.pad(stacked, (0, 0, 0, pad))
        state = self.init_state(1, tracer)
        return self.process(stacked, state, tracer)


def best_tokens(state: RuntimeState, index: int = 0, fusion: ShallowFusion | None = None,
                final: bool = False) -> tuple[list[int], list[int], float]:
    """``(tokens, encoder-frame index per token, acoustic score)`` of stream ``index``'s best
    hypothesis (by the fused score with ``fusion``; ``final`` adds its end-of-sentence term)."""
    if isinstance(state.decoder, GreedyState):
        h = state.decoder.hyps[index]
        return list(h.tokens), list(h.frames), h.score
    h = state.decoder[index].best(fusion, final)
    return list(h.tokens), list(h.frames), h.score
