"""Streaming beam searches for transducers: modified beam search and standard (Graves) beam search.

Both carry their hypotheses across chunks in a :class:`BeamState` (one per stream),
so feeding the encoder frames of an utterance in any split gives the same result.

Scores are log-probabilities summed along the alignment path; hypotheses with the
same token sequence are merged with ``logaddexp`` (they then sum over their paths).

**Greedy protection.** Plain beam search can prune the path that greedy search
would take and end up with a lower score than greedy. To make "beam search never
scores worse than greedy on the same input" hold by construction, each beam keeps
the greedy path alive: the hypothesis that follows greedy's choice at every step is
flagged (``on_greedy_path``) and is never pruned (it replaces the K-th candidate if
it falls out of the top K). Its score is at least greedy's path score (merging only
adds probability), so the best hypothesis is never worse than greedy. The topology
matches: modified beam search (one symbol per frame) against greedy with
``max_symbols_per_frame=1``, standard beam search against greedy with the same
``max_symbols_per_frame``.

**Shallow fusion with an external LM.** Both searches take an optional
:class:`memasr.decode.fusion.ShallowFusion` (an n-gram LM over the model's token ids, its scale
and a per-token length bonus). Each hypothesis keeps its acoustic score (``score``, log-added on
merges) and its LM score (``lm_score``, the sum of ``log p_LM(token | history)`` over its
tokens; equal token sequences have equal LM scores, so merging keeps it as it is) apart; ranking
and pruning use the fused score, and the final choice (:meth:`BeamState.best` with
``final=True``) adds the end-of-sentence term. With fusion the greedy protection still keeps the
path of (acoustic, LM-free) greedy search alive, so it holds for the fused score: the chosen
hypothesis's fused score is at least that of greedy's token sequence (same acoustic path score
or more, same LM score and length). Without fusion, or with scale and bonus 0, every step is
the LM-free code path and the results are bit-identical.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from memasr.decode.fusion import ShallowFusion, active_fusion, best_hypothesis
from memasr.model.predictor import PredictorState
from memasr.model.state import stack_states, unstack_states
from memasr.model.tracing import WeightTracer
from memasr.model.transducer import Transducer



@dataclass
class BeamHypothesis:
    tokens: tuple[int, ...] = ()
    frames: tuple[int, ...] = ()  # encoder-output frame index of each token
    score: float = 0.0
    pred_proj: Tensor | None = None  # [J]; None while ``pending`` is not yet run
    pred_state: PredictorState | None = None  # tensors [1, ...]
    pending: int | None = None  # token whose predictor step is still to run (lazy expansion)
    on_greedy_path: bool = False
    symbols: int = 0  # symbols emitted on the current frame (standard beam search)
    lm_score: float = 0.0  # natural-log LM probability of ``tokens`` (0 without an LM)


@dataclass
class BeamState:
    """One stream's beam: its hypotheses and how many encoder frames it has consumed."""

    hyps: list[BeamHypothesis] = field(default_factory=list)
    frames_done: int = 0

    def best(self, fusion: ShallowFusion | None = None, final: bool = False) -> BeamHypothesis:
        """The hypothesis with the highest (fused) score; ``final`` (no more frames) adds the
        LM's end-of-sentence term first."""
        return best_hypothesis(self.hyps, fusion, final)


def _predict(model: Transducer, tokens: Tensor, state: PredictorState,
             tracer: WeightTracer | None) -> tuple[Tensor, PredictorState]:
    out, _, state = model.predict(tokens[:, None], torch.ones_like(tokens), state, tracer)
    return model.joiner.project_predictor(out[:, 0], tracer), state


def init_beam_state(model: Transducer, tracer: WeightTracer | None = None) -> BeamState:
    start = torch.full((1,), model.blank_id, dtype=torch.long)
    proj, state = _predict(model, start, None, tracer)
    return BeamState([BeamHypothesis(pred_proj=proj[0], pred_state=state, on_greedy_path=True)], 0)


def _logaddexp(a: float, b: float) -> float:
    hi, lo = (a, b) if a >= b else (b, a)
    return hi if lo == -math.inf else hi + math.log1p(math.exp(lo - hi))


def _merge(table: dict[tuple[int, ...], BeamHypothesis], hyp: BeamHypothesis) -> None:
    """Add ``hyp`` to ``table``, log-adding its score into an equal token sequence."""
    old = table.get(hyp.tokens)
    if old is None:
        table[hyp.tokens] = hyp
        return
    score = _logaddexp(old.score, hyp.score)
    # keep the greedy-path member (its frames and symbol count), else the more probable one
    keep, other = (hyp, old) if (hyp.on_greedy_path or (not old.on_greedy_path and hyp.score > old.score)) else (old, hyp)
    if keep.pred_proj is None and other.pred_proj is not None:  # same tokens -> same predictor output
        keep.pred_proj, keep.pred_state, keep.pending = other.pred_proj, other.pred_state, None
    keep.score = score
    table[hyp.tokens] = keep


def _rank_key(fusion: ShallowFusion | None) -> Callable[[BeamHypothesis], float]:
    """Ranking while frames are still to come: the fused score, or the acoustic one."""
    return fusion.fused if fusion is not None else (lambda h: h.score)


def _top_k_protected(hyps: list[BeamHypothesis], k: int, fusion: ShallowFusion | None = None
                     ) -> list[BeamHypothesis]:
    ranked = sorted(hyps, key=_rank_key(fusion), reverse=True)
    kept = ranked[:k]
    if not any(h.on_greedy_path for h in kept):
        greedy = [h for h in ranked[k:] if h.on_greedy_path]
        if greedy:
            kept[-1] = greedy[0]
    return kept


@torch.no_grad()
def modified_beam_search(model: Transducer, enc_proj: Tensor, states: list[BeamState], max_active_paths: int = 4,
                         tracer: WeightTracer | None = None, fusion: ShallowFusion | None = None
                         ) -> list[BeamState]:
    """Consume ``enc_proj [B, T, J]`` for ``B`` streams; at most one symbol per frame per hypothesis.

    All hypotheses of all streams share one joiner call and one predictor call per frame.
    With active ``fusion`` the top ``max_active_paths`` extensions are chosen by the fused score
    (see the module docstring).
    """
    fusion = active_fusion(fusion)
    fuse = fusion is not None
    batch, frames, _ = enc_proj.shape
    if batch != len(states):
        raise ValueError(f"{batch} streams of encoder frames but {len(states)} beam states")
    blank = model.blank_id
    for t in range(frames):
        hyps = [h for s in states for h in s.hyps]
        owner = torch.tensor([b for b, s in enumerate(states) for _ in s.hyps])
        pred_proj = torch.stack([h.pred_proj for h in hyps])
        log_probs = model.joiner.joint(enc_proj[owner, t], pred_proj, tracer).log_softmax(-1)  # [H, V+1]
        classes = log_probs.shape[1]
        scores = torch.tensor([h.score for h in hyps], dtype=torch.float64)[:, None] + log_probs.double()
        argmax = log_probs.argmax(-1).tolist()
        if fuse:
            # LM score of every extension [H, V+1] (blank: the hypothesis's own LM score)
            lm_new = torch.tensor([h.lm_score for h in hyps], dtype=torch.float64)[:, None] + torch.stack(
                [fusion.lm.log_probs(h.tokens) for h in hyps])
            ranked = scores + fusion.scale * lm_new
            if fusion.length_bonus:  # every non-blank column emits one more token
                lengths = torch.tensor([len(h.tokens) for h in hyps], dtype=torch.float64)[:, None]
                emits = torch.ones(classes, dtype=torch.float64)
                emits[blank] = 0.0
                ranked = ranked + fusion.length_bonus * (lengths + emits)
        else:
            ranked = scores
        chosen: list[list[tuple[int, int, float]]] = []  # per stream: (row, token, score)
        row0 = 0
        for s in states:
            rows = len(s.hyps)
            flat = ranked[row0:row0 + rows].reshape(-1)
            k = min(max_active_paths, flat.numel())
            values, index = flat.topk(k)
            if fuse:  # carry the acoustic score; the LM part is recomputed from lm_new
                values = scores[row0:row0 + rows].reshape(-1)[index]
            cands = [(row0 + i // classes, i % classes, v) for i, v in zip(index.tolist(), values.tolist())]
            for r in range(row0, row0 + rows):
                if hyps[r].on_greedy_path:
                    g = (r, argmax[r])
                    if all((c[0], c[1]) != g for c in cands):
                        cands[-1] = (r, argmax[r], float(scores[r, argmax[r]]))
            chosen.append(cands)
            row0 += rows
        # one batched predictor step for every non-blank extension
        expand = [(r, tok) for cands in chosen for r, tok, _ in cands if tok != blank]
        new_pred: dict[tuple[int, int], tuple[Tensor, PredictorState]] = {}
        if expand:
            tokens = torch.tensor([tok for _, tok in expand])
            state_in = stack_states([hyps[r].pred_state for r, _ in expand])
            proj, state_out = _predict(model, tokens, state_in, tracer)
            for i, (key, st) in enumerate(zip(expand, unstack_states(state_out))):
                new_pred[key] = (proj[i], st)
        for s, cands in zip(states, chosen):
            table: dict[tuple[int, ...], BeamHypothesis] = {}
            frame = s.frames_done + t
            for r, tok, score in cands:
                h = hyps[r]
                greedy = h.on_greedy_path and tok == argmax[r]
                lm_score = float(lm_new[r, tok]) if fuse else 0.0
                if tok == blank:
                    _merge(table, BeamHypothesis(h.tokens, h.frames, score, h.pred_proj, h.pred_state,
                                                 on_greedy_path=greedy, lm_score=lm_score))
                else:
                    proj, st = new_pred[(r, tok)]
                    _merge(table, BeamHypothesis(h.tokens + (tok,), h.frames + (frame,), score, proj, st,
                                                 on_greedy_path=greedy, lm_score=lm_score))
            s.hyps = list(table.values())
    for s in states:
        s.frames_done += frames
    return states


def _materialize(model: Transducer, hyp: BeamHypothesis, tracer: WeightTracer | None) -> None:
    if hyp.pending is None:
        return
    proj, state = _predict(model, torch.tensor([hyp.pending]), hyp.pred_state, tracer)
    hyp.pred_proj, hyp.pred_state, hyp.pending = proj[0], state, None


@torch.no_grad()
def beam_search(model: Transducer, enc_proj: Tensor, state: BeamState, beam: int = 4,
                max_symbols_per_frame: int = 3, tracer: WeightTracer | None = None,
                fusion: ShallowFusion | None = None) -> BeamState:
    """Standard transducer beam search (Graves 2012, as in ESPnet/icefall) for one stream.

    Per frame: repeatedly expand the most probable unfinished hypothesis ``y*`` (set A):
    ``y* + blank`` finishes the frame (set B), ``y* + k`` for the top non-blank ``k`` stay in A.
    The frame ends when B holds ``beam`` hypotheses more probable than A's best (and the
    greedy-path hypothesis has finished the frame). A hypothesis that already emitted
    ``max_symbols_per_frame`` symbols on this frame moves to B as it is. The predictor runs
    lazily, only for hypotheses that get expanded. With active ``fusion`` "most probable" means
    the fused score and the expanded tokens are the top fused ones.
    """
    fusion = active_fusion(fusion)
    fuse = fusion is not None
    rank = _rank_key(fusion)
    if enc_proj.shape[0] != 1:
        raise ValueError("beam_search decodes one stream at a time")
    blank = model.blank_id
    for t in range(enc_proj.shape[1]):
        frame = state.frames_done + t
        enc_t = enc_proj[0, t]
        active: dict[tuple[int, ...], BeamHypothesis] = {}
        for h in state.hyps:
            h.symbols = 0
            _merge(active, h)
        finished: dict[tuple[int, ...], BeamHypothesis] = {}
        while active:
            best = max(active.values(), key=rank)
            del active[best.tokens]
            if best.symbols >= max_symbols_per_frame:
                _merge(finished, best)
            else:
                _materialize(model, best, tracer)
                log_probs = model.joiner.joint(enc_t, best.pred_proj, tracer).log_softmax(-1)
                k = min(beam, log_probs.numel() - 1)
                if fuse:
                    lm_lp = fusion.lm.log_probs(best.tokens)  # [V+1]
                    index = (log_probs[1:].double() + fusion.scale * lm_lp[1:]).topk(k).indices
                    values = log_probs[1:][index]
                else:
                    values, index = log_probs[1:].topk(k)
                values, index = values.tolist(), (index + 1).tolist()
                blank_lp = float(log_probs[blank])
                top = index[0] if values[0] > blank_lp else blank
                _merge(finished, BeamHypothesis(best.tokens, best.frames, best.score + blank_lp,
                                                best.pred_proj, best.pred_state,
                                                on_greedy_path=best.on_greedy_path and top == blank,
                                                symbols=best.symbols, lm_score=best.lm_score))
                for v, i in zip(values, index):
                    _merge(active, BeamHypothesis(best.tokens + (i,), best.frames + (frame,), best.score + v,
                                                  None, best.pred_state, pending=i,
                                                  on_greedy_path=best.on_greedy_path and top == i,
                                                  symbols=best.symbols + 1,
                                                  lm_score=best.lm_score + float(lm_lp[i]) if fuse else 0.0))
            best_active = max((rank(h) for h in active.values()), default=-math.inf)
            ahead = sum(1 for h in finished.values() if rank(h) > best_active)
            if ahead >= beam and not any(h.on_greedy_path for h in active.values()):
                break
        state.hyps = _top_k_protected(list(finished.values()), beam, fusion)
        for h in state.hyps:
            _materialize(model, h, tracer)
    state.frames_done += enc_proj.shape[1]
    return state
