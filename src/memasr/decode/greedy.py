"""Batched greedy search for streaming transducers (``max_symbols_per_frame`` per frame)."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from memasr.model.predictor import PredictorState
from memasr.model.state import stack_states, unstack_states
from memasr.model.tracing import WeightTracer
from memasr.model.transducer import Transducer


@dataclass
class Hypothesis:
    """One stream's greedy result so far; ``frames`` are encoder-output frame indices."""

    tokens: list[int] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    score: float = 0.0


@dataclass
class GreedyState:
    """Decoder state of ``B`` streams: predictor state ``[B, ...]`` and its projection ``[B, J]``."""

    hyps: list[Hypothesis]
    pred_state: PredictorState
    pred_proj: Tensor
    frames_done: list[int]


def _run_predictor(model: Transducer, tokens: Tensor, state: PredictorState | None,
                   tracer: WeightTracer | None) -> tuple[Tensor, PredictorState]:
    """``tokens [B] -> (projected predictor output [B, J], new state)``."""
    out, _, state = model.predict(tokens[:, None], torch.ones_like(tokens), state, tracer)
    return model.joiner.project_predictor(out[:, 0], tracer), state


def init_greedy_state(model: Transducer, batch_size: int = 1, tracer: WeightTracer | None = None) -> GreedyState:
    start = torch.full((batch_size,), model.blank_id, dtype=torch.long)
    pred_proj, pred_state = _run_predictor(model, start, None, tracer)
    return GreedyState([Hypothesis() for _ in range(batch_size)], pred_state, pred_proj, [0] * batch_size)


def stack_greedy_states(states: list[GreedyState]) -> GreedyState:
    return GreedyState([h for s in states for h in s.hyps], stack_states([s.pred_state for s in states]),
                       torch.cat([s.pred_proj for s in states]), [f for s in states for f in s.frames_done])


def unstack_greedy_state(state: GreedyState) -> list[GreedyState]:
    preds = unstack_states(state.pred_state)
    return [GreedyState([h], p, state.pred_proj[i:i + 1], [state.frames_done[i]])
            for i, (h, p) in enumerate(zip(state.hyps, preds))]


def _select(state: PredictorState, index: Tensor) -> PredictorState:
    return tuple(s.index_select(0, index) for s in state)


def greedy_search(model: Transducer, enc_proj: Tensor, state: GreedyState, max_symbols_per_frame: int = 3,
                  tracer: WeightTracer | None = None) -> GreedyState:
    """Consume projected encoder frames ``enc_proj [B, T, J]`` and extend each hypothesis."""
    batch, frames, _ = enc_proj.shape
    for t in range(frames):
        active = torch.arange(batch)
        for _ in range(max_symbols_per_frame):
            logits = model.joiner.joint(enc_proj[active, t], state.pred_proj[active], tracer)
            log_probs = logits.log_softmax(-1)
            best = log_probs.argmax(-1)
            emit = best != model.blank_id
            for i, b in enumerate(active.tolist()):
                state.hyps[b].score += float(log_probs[i, best[i]])
            if not bool(emit.any()):
                break
            active, tokens = active[emit], best[emit]
            pred_proj, pred_state = _run_predictor(model, tokens, _select(state.pred_state, active), tracer)
            state.pred_proj = state.pred_proj.index_copy(0, active, pred_proj)
            state.pred_state = tuple(s.index_copy(0, active, n) for s, n in zip(state.pred_state, pred_state))
            for b, token in zip(active.tolist(), tokens.tolist()):
                state.hyps[b].tokens.append(token)
                state.hyps[b].frames.append(state.frames_done[b] + t)
                if tracer is not None and hasattr(tracer, "tokens"):
                    tracer.tokens += 1
    state.frames_done = [f + frames for f in state.frames_done]
    return state
