"""Pruned RNN-T loss in pure PyTorch (training only).

The full RNN-T loss runs the joiner on every lattice node: a [B, T, U+1, V+1] tensor whose
output layer dominates a training step. Almost all of that lattice carries no probability
mass: for a given frame, only a few label positions near the "current" alignment matter.
The pruned loss (the idea of k2's smoothed + pruned RNN-T losses, Kuang et al., Interspeech
2022) exploits this in three steps, all written here from scratch:

1. **Simple lattice.** Two cheap training-only linear maps give ``am [B, T, V+1]`` from the
   encoder frames and ``lm [B, U+1, V+1]`` from the predictor outputs. Node ``(t, u)`` scores
   symbol ``v`` with ``am[t, v] + lm[u, v]``: a joiner that is a plain sum. Its normaliser
   over ``V+1`` for *every* node comes from one batched matmul,
   ``log(exp(am - max_am) @ exp(lm - max_lm)^T) + max_am + max_lm``, so no [T, U, V] tensor
   is ever built. Optionally the log-probs are interpolated with "lm only" and "am only"
   log-probs (``lm_scale``, ``am_scale``): the smoothing keeps the simple model from leaning
   on one side alone. The RNN-T loss of this lattice is the *simple loss*; it also trains
   the two maps (and, through them, encoder and predictor).
2. **Band choice.** The gradient of the simple lattice's log-likelihood with respect to each
   arc's log-prob is the posterior probability that an alignment uses that arc (its
   *occupation*). For every frame ``t`` we score each window of ``W`` consecutive label
   positions ``[s, s+W)`` by the mass that leaves frame ``t`` by a blank inside the window,
   minus the mass that enters the window from below during frame ``t`` (an emission of
   label ``s-1`` at that frame: such alignments spend part of frame ``t`` below the window),
   and take the best window. The starts are then repaired so that a path exists inside the
   band: non-decreasing in ``t``, consecutive windows overlapping (a blank keeps ``u``), the
   first window holding ``u = 0`` and the window of each sequence's last frame holding its
   last label position ``U_b`` (:func:`constrain_band_starts`).
3. **Exact loss in the band.** The real joiner (:meth:`Joiner.joint` on its own projections)
   runs only on the band, ``[B, T, W, V+1]``; its log-probs are placed back into a
   [B, T, U+1] lattice whose out-of-band cells hold :data:`~memasr.train.loss.LOG_ZERO`,
   and :func:`~memasr.train.loss.rnnt_loss_from_logprobs` gives the exact loss summed over
   the alignments that stay inside the band (the *pruned loss*). When ``W >= U+1`` the band
   is the whole lattice and the pruned loss equals the full RNN-T loss.

Conventions are those of :mod:`memasr.train.loss`: blank id 0, node ``(t, u)`` = ``t``
frames consumed and ``u`` labels emitted, targets ``[B, U]`` padded past ``target_lengths``
(any padding value). Both losses use reduction "sum" over the batch.

Training combines them as ``simple_weight * simple + pruned_weight * pruned`` with the
warm-up of :meth:`PrunedLossConfig.loss_weights` (icefall's recipe: the simple loss
dominates at first, when its bands are still poor).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from memasr.model.joiner import Joiner
from memasr.train.loss import LOG_ZERO, rnnt_loss_from_logprobs

BLANK = 0
# below this a float32 sum of exp() terms is near the denormal range and loses precision
_FP32_SUM_FLOOR = 1e-30


@dataclass
class PrunedLossConfig:
    """Settings of the pruned loss and of its weight schedule (icefall's defaults).

    ``loss = simple_weight * simple_loss + pruned_weight * pruned_loss``, see :meth:`loss_weights`.
    """

    prune_range: int = 5  # band width W: label positions kept per frame
    lm_scale: float = 0.25  # weight of the predictor-only log-probs in the simple lattice
    am_scale: float = 0.0  # weight of the encoder-only log-probs in the simple lattice
    simple_loss_scale: float = 0.5  # simple-loss weight after the warm-up
    warm_steps: int = 2000  # optimizer steps of the linear warm-up

    def loss_weights(self, step: int) -> tuple[float, float]:
        """``(simple_weight, pruned_weight)`` at optimizer step ``step`` (0-based).

        Linear from (1.0, 0.1) at step 0 to (simple_loss_scale, 1.0) at ``warm_steps``: early
        bands come from an untrained simple lattice, so the pruned loss starts small.
        """
        if step >= self.warm_steps:
            return self.simple_loss_scale, 1.0
        done = step / self.warm_steps
        return 1.0 - done * (1.0 - self.simple_loss_scale), 0.1 + 0.9 * done


class PrunedLosses(NamedTuple):
    """Result of :meth:`PrunedLossHead.compute`."""

    simple_loss: Tensor  # [] sum over the batch
    pruned_loss: Tensor  # [] sum over the batch
    band_start: Tensor  # [B, T] long: frame t keeps label positions band_start[b, t] + [0, band_width)
    band_width: int  # W = min(prune_range, U+1)


# --------------------------------------------------------------------------- simple lattice


def _at_least_fp32(x: Tensor) -> Tensor:
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def simple_joint_normalizer(am: Tensor, lm: Tensor) -> Tensor:
    """``log sum_v exp(am[b, t, v] + lm[b, u, v])`` for every node, without a [T, U, V] tensor.

    Args:
        am: [B, T, C] encoder-side scores.
        lm: [B, U+1, C] predictor-side scores.
    Returns:
        [B, T, U+1] log normaliser. Exact while, per node, the best ``am[t, v] + lm[u, v]`` lies
        within ~700 nats of ``max(am[t]) + max(lm[u])`` (a float32 sum that nears underflow is
        redone in float64).
    """
    # the maxima only keep exp() in range; detached, they add no gradient path
    am_max = am.detach().amax(-1, keepdim=True)  # [B, T, 1]
    lm_max = lm.detach().amax(-1, keepdim=True)  # [B, U+1, 1]
    am_rel, lm_rel = am - am_max, lm - lm_max
    summed = torch.matmul(am_rel.exp(), lm_rel.exp().transpose(1, 2))  # [B, T, U+1]
    if summed.dtype != torch.float64 and bool((summed < _FP32_SUM_FLOOR).any()):
        # the peaks of am and lm lie far apart (~70+ nats): float32 loses the sum, float64 keeps it
        summed = torch.matmul(am_rel.double().exp(), lm_rel.double().exp().transpose(1, 2))
    # beyond float64's range too (~700 nats) the sum is 0: tiny keeps log() finite
    log_summed = summed.clamp_min(torch.finfo(summed.dtype).tiny).log().to(am.dtype)
    return log_summed + am_max + lm_max.transpose(1, 2)


def _frame_scores_at_labels(x: Tensor, labels: Tensor) -> Tensor:
    """``x [B, T, C]`` at each target label: ``[B, T, U]``."""
    B, T, _ = x.shape
    return x.gather(2, labels[:, None, :].expand(B, T, labels.shape[1]))


def _label_scores_at_labels(x: Tensor, labels: Tensor) -> Tensor:
    """``x [B, U+1, C]`` (row u = after u labels) at the next label: ``[B, 1, U]``."""
    return x[:, : labels.shape[1]].gather(2, labels[:, :, None]).squeeze(2)[:, None, :]


def simple_lattice(am: Tensor, lm: Tensor, targets: Tensor, lm_scale: float = 0.25,
                   am_scale: float = 0.0) -> tuple[Tensor, Tensor]:
    """Smoothed log-probs of the additive ("simple") joiner at every lattice node.

    ``log p(v | t, u) = am[t, v] + lm[u, v] - normaliser[t, u]``, interpolated in the log
    domain with ``log_softmax(lm)[u, v]`` (weight ``lm_scale``) and ``log_softmax(am)[t, v]``
    (weight ``am_scale``); the joint part keeps ``1 - lm_scale - am_scale``.

    Args:
        am: [B, T, C] encoder-side scores (C = V+1, blank 0).
        lm: [B, U+1, C] predictor-side scores.
        targets: [B, U] labels (padding ignored by the loss; any value).
    Returns:
        blank_lp [B, T, U+1] and emit_lp [B, T, U], as :func:`~memasr.train.loss.gather_joint_logprobs`.
    """
    labels = targets.long().clamp(0, am.shape[-1] - 1)
    norm = simple_joint_normalizer(am, lm)  # [B, T, U+1]
    blank_joint = am[..., BLANK, None] + lm[..., BLANK][:, None, :] - norm
    emit_joint = _frame_scores_at_labels(am, labels) + _label_scores_at_labels(lm, labels) - norm[..., :-1]
    # (weight, blank log-probs, emission log-probs), broadcast to [B, T, U+1] / [B, T, U]
    parts = [(1.0 - lm_scale - am_scale, blank_joint, emit_joint)]
    if lm_scale:
        lm_lp = lm.log_softmax(-1)
        parts.append((lm_scale, lm_lp[..., BLANK][:, None, :], _label_scores_at_labels(lm_lp, labels)))
    if am_scale:
        am_lp = am.log_softmax(-1)
        parts.append((am_scale, am_lp[..., BLANK, None], _frame_scores_at_labels(am_lp, labels)))
    blank_lp = sum(w * b for w, b, _ in parts)
    emit_lp = sum(w * e for w, _, e in parts)
    return blank_lp, emit_lp


def loss_and_occupation(blank_lp: Tensor, emit_lp: Tensor, logit_lengths: Tensor, target_lengths: Tensor
                        ) -> tuple[Tensor, Tensor, Tensor]:
    """RNN-T loss (sum) of a lattice and the occupation of each arc.

    The occupation of an arc is d(log-likelihood)/d(arc log-prob): the posterior probability
    that an alignment takes it. It is computed with autograd on the loss's own graph
    (``retain_graph``), so a later ``backward()`` of the returned loss still works.

    Args:
        blank_lp: [B, T, U+1]; emit_lp: [B, T, U]; lengths [B].
    Returns:
        (loss [] attached to the inputs' graph when they require grad, blank_occ [B, T, U+1],
        emit_occ [B, T, U]); the occupations are plain tensors in [0, 1], zero on padding.
    """
    with torch.enable_grad():
        attached = blank_lp.requires_grad and emit_lp.requires_grad
        if not attached:  # e.g. evaluation under no_grad: differentiate a detached copy
            blank_lp, emit_lp = blank_lp.detach().requires_grad_(), emit_lp.detach().requires_grad_()
        loss = rnnt_loss_from_logprobs(blank_lp, emit_lp, logit_lengths, target_lengths, reduction="sum")
        blank_grad, emit_grad = torch.autograd.grad(loss, (blank_lp, emit_lp), retain_graph=attached)
    return (loss if attached else loss.detach()), -blank_grad, -emit_grad


# --------------------------------------------------------------------------- band choice


def _suffix_min(x: Tensor) -> Tensor:
    """``out[..., t] = min(x[..., t:])`` over the last dim."""
    return x.flip(-1).cummin(-1).values.flip(-1)


def _suffix_max(x: Tensor) -> Tensor:
    """``out[..., t] = max(x[..., t:])`` over the last dim."""
    return x.flip(-1).cummax(-1).values.flip(-1)


def constrain_band_starts(start: Tensor, logit_lengths: Tensor, target_lengths: Tensor, width: int) -> Tensor:
    """Repair preferred band starts so that an alignment fits inside the band.

    Frame ``t`` keeps label positions ``[start[t], start[t] + width)``. A path enters frame
    ``t + 1`` at the position where it left frame ``t``, so consecutive bands must share a
    position: ``0 <= start[t+1] - start[t] <= width - 1``. The path starts at ``u = 0``
    (``start[0] = 0``) and ends at ``(T_b - 1, U_b)``, so the band of frame ``T_b - 1`` (and of
    the padding frames after it) is ``max(U_b - width + 1, 0)``, the highest start that stays
    within ``[0, U_b]``. Starts are lowered to be non-decreasing, then raised to respect the
    step limit, then capped at ``(width - 1) * t`` (reachable from ``u = 0``); each pass keeps
    what the previous ones established. Needs ``U_b <= (width - 1) * T_b``.

    Args:
        start: [B, T] long preferred starts.
        logit_lengths: [B] frames T_b; target_lengths: [B] labels U_b.
        width: band width W (>= 1; W = 1 only when every U_b is 0).
    Returns:
        [B, T] long starts.
    """
    B, T = start.shape
    t = torch.arange(T, device=start.device)[None, :]  # [1, T]
    last_start = (target_lengths.to(start.device)[:, None] - width + 1).clamp_min(0)  # [B, 1]
    past_end = t >= logit_lengths.to(start.device)[:, None] - 1  # [B, T]
    start = torch.where(past_end, last_start, start)
    start = _suffix_min(start)  # non-decreasing, and never above last_start
    step = width - 1
    start = _suffix_max(start - step * t) + step * t  # start[t] >= start[t+1] - step
    return start.minimum(step * t)  # start[0] = 0 and every band reachable from u = 0


def choose_band_starts(blank_occ: Tensor, emit_occ: Tensor, logit_lengths: Tensor, target_lengths: Tensor,
                       width: int) -> Tensor:
    """Per frame, the start of the ``width`` label positions that hold the alignment mass.

    Window ``[s, s+width)`` of frame ``t`` scores ``sum_{u in window} blank_occ[t, u]`` (mass
    leaving the frame inside it) ``- emit_occ[t, s-1]`` (mass crossing into it from below
    during the frame); the best window per frame is then made valid by
    :func:`constrain_band_starts`.

    Args:
        blank_occ: [B, T, U+1]; emit_occ: [B, T, U] arc occupations (:func:`loss_and_occupation`).
        logit_lengths, target_lengths: [B].
        width: band width W, 1 <= W <= U+1.
    Returns:
        [B, T] long band starts.
    """
    n_starts = blank_occ.shape[-1] - width + 1
    leaving = F.pad(blank_occ.cumsum(-1), (1, 0))  # [B, T, U+2]: [u] = mass leaving below u
    leave_inside = leaving[..., width:width + n_starts] - leaving[..., :n_starts]  # [B, T, n_starts]
    enter_from_below = F.pad(emit_occ, (1, 0))[..., :n_starts]  # [s] = emit_occ[s - 1], 0 for s = 0
    best = (leave_inside - enter_from_below).argmax(-1)  # [B, T]
    return constrain_band_starts(best, logit_lengths, target_lengths, width)


# --------------------------------------------------------------------------- pruned joint


def band_joint_logprobs(joiner: Joiner, enc: Tensor, pred: Tensor, targets: Tensor, band_start: Tensor,
                        width: int) -> tuple[Tensor, Tensor]:
    """The real joiner on the band only: blank and next-label log-probs per band cell.

    Args:
        joiner: the model's :class:`Joiner` (its projections and :meth:`Joiner.joint`).
        enc: [B, T, D_enc] encoder output; pred: [B, U+1, P] predictor output.
        targets: [B, U] labels.
        band_start: [B, T] long, with ``band_start + width - 1 <= U``.
        width: band width W.
    Returns:
        blank_band, emit_band: [B, T, W]; cell ``(t, k)`` is node ``(t, band_start[t] + k)``
        (``emit_band`` at ``u = U`` is a placeholder: no label follows).
    """
    enc_proj = joiner.project_encoder(enc)  # [B, T, J]
    pred_proj = joiner.project_predictor(pred)  # [B, U+1, J]
    B, T, J = enc_proj.shape
    u = (band_start[..., None] + torch.arange(width, device=band_start.device)).reshape(B, T * width)
    pred_band = pred_proj.gather(1, u[..., None].expand(B, T * width, J)).reshape(B, T, width, J)
    logits = _at_least_fp32(joiner.joint(enc_proj[:, :, None, :], pred_band))  # [B, T, W, V+1]
    norm = logits.logsumexp(-1)  # [B, T, W]
    labels = F.pad(targets.long(), (0, 1)).gather(1, u).reshape(B, T, width).clamp(0, logits.shape[-1] - 1)
    blank_band = logits[..., BLANK] - norm
    emit_band = logits.gather(-1, labels[..., None]).squeeze(-1) - norm
    return blank_band, emit_band


def band_to_lattice(band: Tensor, band_start: Tensor, num_positions: int) -> Tensor:
    """Place band cells back on the lattice: ``[B, T, W] -> [B, T, num_positions]``, LOG_ZERO outside."""
    width = band.shape[-1]
    k = torch.arange(num_positions, device=band.device) - band_start[..., None]  # [B, T, num_positions]
    inside = (k >= 0) & (k < width)
    return band.gather(2, k.clamp(0, width - 1)).masked_fill(~inside, LOG_ZERO)


def pruned_rnnt_loss(joiner: Joiner, enc: Tensor, enc_lengths: Tensor, pred: Tensor, targets: Tensor,
                     target_lengths: Tensor, band_start: Tensor, width: int) -> Tensor:
    """Exact RNN-T loss (sum over the batch) over the alignments that stay inside the band.

    Shapes as :func:`band_joint_logprobs`; lengths [B]. Returns [].
    """
    blank_band, emit_band = band_joint_logprobs(joiner, enc, pred, targets, band_start, width)
    positions = pred.shape[1]  # U+1
    blank_lp = band_to_lattice(blank_band, band_start, positions)  # [B, T, U+1]
    emit_lp = band_to_lattice(emit_band, band_start, positions)[..., :-1]  # [B, T, U]
    return rnnt_loss_from_logprobs(blank_lp, emit_lp, enc_lengths, target_lengths, reduction="sum")


# --------------------------------------------------------------------------- module


class PrunedLossHead(nn.Module):
    """Training-only projections of the simple lattice, and the simple + pruned losses.

    Holds ``am_proj: D_enc -> V+1`` and ``lm_proj: P -> V+1`` (never exported). The joiner is
    passed in, so the pruned loss trains the model's own joiner.
    """

    def __init__(self, encoder_dim: int, predictor_dim: int, num_classes: int) -> None:
        super().__init__()
        self.am_proj = nn.Linear(encoder_dim, num_classes)
        self.lm_proj = nn.Linear(predictor_dim, num_classes)

    def compute(self, joiner: Joiner, enc: Tensor, enc_lengths: Tensor, pred: Tensor, targets: Tensor,
                target_lengths: Tensor, prune_range: int = 5, lm_scale: float = 0.25,
                am_scale: float = 0.0) -> PrunedLosses:
        """Both losses and the band.

        Args:
            joiner: the model's joiner.
            enc: [B, T, D_enc] encoder output; enc_lengths: [B] valid frames (1..T).
            pred: [B, U+1, P] predictor output (row 0 after the start symbol).
            targets: [B, U] labels in 1..V, padded past target_lengths; target_lengths: [B] (0..U).
            prune_range: label positions kept per frame (>= 2); the band width is
                ``min(prune_range, U+1)``. Each sequence needs ``U_b <= (prune_range - 1) * T_b``.
            lm_scale, am_scale: smoothing weights of the simple lattice (>= 0).
        Returns:
            :class:`PrunedLosses`. The simple lattice and both recursions run in float32 (or
            float64) even under autocast; the band joiner runs at the caller's precision.
        """
        B, T, _ = enc.shape
        U = targets.shape[1]
        if pred.shape[:2] != (B, U + 1) or targets.shape[0] != B:
            raise ValueError(f"expected enc [B,T,D], pred [B,U+1,P], targets [B,U]; got {tuple(enc.shape)}, "
                             f"{tuple(pred.shape)}, {tuple(targets.shape)}")
        if prune_range < 2:
            raise ValueError(f"prune_range must be >= 2 (a band of 1 position cannot emit), got {prune_range}")
        if lm_scale < 0 or am_scale < 0:
            raise ValueError(f"lm_scale and am_scale must be >= 0, got {lm_scale}, {am_scale}")
        width = min(prune_range, U + 1)
        t_len, u_len = enc_lengths.to(enc.device, torch.long), target_lengths.to(enc.device, torch.long)
        if bool((u_len > (width - 1) * t_len).any()):
            raise ValueError(f"a band of {width} positions cannot reach every label: need target_lengths <= "
                             f"{width - 1} * enc_lengths, got {u_len.tolist()} and {t_len.tolist()}")
        with torch.autocast(device_type=enc.device.type, enabled=False):
            am = self.am_proj(_at_least_fp32(enc))  # [B, T, V+1]
            lm = self.lm_proj(_at_least_fp32(pred))  # [B, U+1, V+1]
            blank_lp, emit_lp = simple_lattice(am, lm, targets, lm_scale, am_scale)
            simple, blank_occ, emit_occ = loss_and_occupation(blank_lp, emit_lp, t_len, u_len)
            band_start = choose_band_starts(blank_occ, emit_occ, t_len, u_len, width)
        pruned = pruned_rnnt_loss(joiner, enc, t_len, pred, targets, u_len, band_start, width)
        return PrunedLosses(simple, pruned, band_start, width)

    def forward(self, joiner: Joiner, enc: Tensor, enc_lengths: Tensor, pred: Tensor, targets: Tensor,
                target_lengths: Tensor, prune_range: int = 5, lm_scale: float = 0.25,
                am_scale: float = 0.0) -> tuple[Tensor, Tensor]:
        """``(simple_loss_sum, pruned_loss_sum)``; arguments as :meth:`compute`."""
        out = self.compute(joiner, enc, enc_lengths, pred, targets, target_lengths, prune_range, lm_scale,
                           am_scale)
        return out.simple_loss, out.pruned_loss
