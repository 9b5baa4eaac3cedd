"""RNN-T loss in pure PyTorch (no custom kernels), vectorised over the batch.

Lattice: node (t, u) means "t frames consumed, u labels emitted". From (t, u) a
blank moves to (t + 1, u) and label ``y[u]`` moves to (t, u + 1). With
``alpha[0, 0] = 0`` and

    alpha[t, u] = logaddexp(alpha[t-1, u] + blank[t-1, u], alpha[t, u-1] + emit[t, u-1])

the log-likelihood is ``alpha[T-1, U] + blank[T-1, U]``.

Memory: the joint output [B, T, U+1, V] is by far the biggest tensor, so it is
reduced to two lattices before the recursion (:func:`gather_joint_logprobs`):
``blank_lp`` [B, T, U+1] and ``emit_lp`` [B, T, U]. Nothing [.., V]-sized is
kept apart from what autograd needs for log-softmax. A trainer may also build
the two lattices itself (e.g. computing the joint in chunks over T) and call
:func:`rnnt_loss_from_logprobs`.

The recursion runs over anti-diagonals n = t + u (T + U - 1 steps): every node on
a diagonal depends only on the previous diagonal, so each step is a few
[B, U+1] ops and is exact (no cumulative-sum cancellation).
"""
from __future__ import annotations

import torch

# Finite stand-in for log(0): -inf would give NaN gradients (inf - inf) in
# unreachable lattice cells, and 0 * NaN still poisons the backward pass.
_NEG = -1e30
LOG_ZERO = _NEG  # public name, for callers that build lattices themselves (train/pruned.py)

_REDUCTIONS = ("mean", "sum", "none")


def gather_joint_logprobs(
    logits: torch.Tensor, targets: torch.Tensor, blank: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities of blank and of the next target label at every lattice node.

    Args:
        logits: [B, T, U+1, V] unnormalised joint outputs.
        targets: [B, U] int labels (values past a sequence's length are ignored).
        blank: blank index.
    Returns:
        blank_lp [B, T, U+1] and emit_lp [B, T, U] (``emit_lp[b, t, u]`` = log p(targets[b, u] | t, u)),
        in float32 or float64 (half-precision logits are upcast).
    """
    if logits.dim() != 4 or targets.dim() != 2:
        raise ValueError(f"expected logits [B,T,U+1,V] and targets [B,U], got {tuple(logits.shape)}, {tuple(targets.shape)}")
    B, T, U1, V = logits.shape
    if targets.shape != (B, U1 - 1):
        raise ValueError(f"targets shape {tuple(targets.shape)} does not match logits {tuple(logits.shape)}")
    if logits.dtype not in (torch.float32, torch.float64):
        logits = logits.float()
    # log_softmax(x)[k] = x[k] - logsumexp(x): gather the two needed columns
    # instead of materialising a second [B, T, U+1, V] tensor.
    norm = torch.logsumexp(logits, dim=-1)  # [B, T, U+1]
    blank_lp = logits[..., blank] - norm
    idx = targets.long().clamp(0, V - 1)  # padding may be -1 or anything
    idx = idx[:, None, :, None].expand(B, T, U1 - 1, 1)
    emit_lp = logits[:, :, :-1, :].gather(-1, idx).squeeze(-1) - norm[:, :, :-1]
    return blank_lp, emit_lp


def _skew(x: torch.Tensor, n_diag: int) -> torch.Tensor:
    """[B, T, W] -> [B, n_diag, W] with out[b, n, u] = x[b, n - u, u], _NEG where n - u is outside [0, T)."""
    B, T, W = x.shape
    n = torch.arange(n_diag, device=x.device)[:, None]
    u = torch.arange(W, device=x.device)[None, :]
    t = n - u  # [n_diag, W]
    valid = (t >= 0) & (t < T)
    idx = t.clamp(0, T - 1)[None].expand(B, n_diag, W)
    out = x.gather(1, idx)
    return out.masked_fill(~valid[None], _NEG)


def rnnt_loss_from_logprobs(
    blank_lp: torch.Tensor,
    emit_lp: torch.Tensor,
    logit_lengths: torch.Tensor,
    target_lengths: torch.Tensor,
    reduction: str = "mean",
) -> torch.Tensor:
    """RNN-T negative log-likelihood from pre-gathered lattices.

    Args:
        blank_lp: [B, T, U+1] log p(blank | t, u).
        emit_lp: [B, T, U] log p(y[u] | t, u).
        logit_lengths: [B] valid frames T_b (1 <= T_b <= T).
        target_lengths: [B] valid labels U_b (0 <= U_b <= U).
        reduction: "mean" (over the batch), "sum" or "none".
    Returns:
        [] loss, or [B] per-sequence losses for "none". Each sequence uses only its
        own T_b x (U_b + 1) corner of the lattice; padding gets zero gradient.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    B, T, U1 = blank_lp.shape
    U = U1 - 1
    if emit_lp.shape != (B, T, U):
        raise ValueError(f"emit_lp shape {tuple(emit_lp.shape)} does not match blank_lp {tuple(blank_lp.shape)}")
    t_len = logit_lengths.to(blank_lp.device, torch.long)
    u_len = target_lengths.to(blank_lp.device, torch.long)
    if t_len.shape != (B,) or u_len.shape != (B,):
        raise ValueError("logit_lengths and target_lengths must be [B]")
    if bool(((t_len < 1) | (t_len > T) | (u_len < 0) | (u_len > U)).any()):
        raise ValueError(f"lengths out of range: T={T}, U={U}, got {t_len.tolist()}, {u_len.tolist()}")
    if blank_lp.dtype not in (torch.float32, torch.float64):  # _NEG overflows half precision
        blank_lp, emit_lp = blank_lp.float(), emit_lp.float()

    n_diag = T + U  # diagonals 0 .. T+U-1 hold every node (t < T, u <= U)
    # unbind once: indexing a diagonal per step would make each step's backward write a
    # zero-filled [B, n_diag, U+1] gradient (quadratic in T + U); unbind's backward is one stack
    blank_d = _skew(blank_lp, n_diag).unbind(1)  # n_diag x [B, U+1]
    emit_d = _skew(emit_lp, n_diag).unbind(1)  # n_diag x [B, U]

    alpha = torch.full((B, U1), _NEG, dtype=blank_lp.dtype, device=blank_lp.device)
    alpha[:, 0] = 0.0
    alphas = [alpha]
    for n in range(1, n_diag):
        from_blank = alpha + blank_d[n - 1]  # (t-1, u) -> (t, u)
        from_emit = alpha[:, :-1] + emit_d[n - 1]  # (t, u-1) -> (t, u)
        alpha = torch.cat([from_blank[:, :1], torch.logaddexp(from_blank[:, 1:], from_emit)], dim=1)
        alphas.append(alpha)
    alpha_all = torch.stack(alphas, dim=1)  # [B, n_diag, U+1]; [b, n, u] = alpha[b, n-u, u]

    batch = torch.arange(B, device=blank_lp.device)
    last_t = t_len - 1
    log_like = alpha_all[batch, last_t + u_len, u_len] + blank_lp[batch, last_t, u_len]
    loss = -log_like
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def rnnt_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    logit_lengths: torch.Tensor,
    target_lengths: torch.Tensor,
    blank: int = 0,
    reduction: str = "mean",
) -> torch.Tensor:
    """RNN-T loss from raw joint outputs (log-softmax applied here, as torchaudio's default).

    Args:
        logits: [B, T, U+1, V] joint network outputs.
        targets: [B, U] int labels, padded past target_lengths.
        logit_lengths: [B] encoder frames per sequence.
        target_lengths: [B] labels per sequence.
        blank: blank index.
        reduction: "mean" (over the batch), "sum" or "none" ([B]).
    """
    blank_lp, emit_lp = gather_joint_logprobs(logits, targets, blank)
    return rnnt_loss_from_logprobs(blank_lp, emit_lp, logit_lengths, target_lengths, reduction)
