"""RNN-T loss against brute-force alignment enumeration, gradcheck and torchaudio."""
from __future__ import annotations

import itertools

import pytest
import torch

from memasr.train.loss import gather_joint_logprobs, rnnt_loss, rnnt_loss_from_logprobs


def brute_force_nll(logits: torch.Tensor, targets: torch.Tensor, blank: int = 0) -> torch.Tensor:
    """-log sum over every alignment; logits [T, U+1, V] of one sequence, targets [U]."""
    lp = logits.double().log_softmax(-1)
    T, U1, _ = lp.shape
    U = U1 - 1
    path_scores = []
    # an alignment = which of the T-1+U steps before the final blank are emissions
    for emits in itertools.combinations(range(T - 1 + U), U):
        t = u = 0
        score = lp.new_zeros(())
        for step in range(T - 1 + U):
            if step in emits:
                score = score + lp[t, u, targets[u]]
                u += 1
            else:
                score = score + lp[t, u, blank]
                t += 1
        path_scores.append(score + lp[T - 1, U, blank])
    return -torch.logsumexp(torch.stack(path_scores), 0)


def _case(B, T, U, V, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, U + 1, V, dtype=torch.float64, generator=g) * 2
    targets = torch.randint(1, V, (B, U), generator=g)
    return logits, targets


@pytest.mark.parametrize("T,U,V", [(1, 0, 3), (1, 3, 4), (4, 0, 3), (3, 2, 4), (5, 4, 6)])
def test_matches_brute_force(T, U, V):
    logits, targets = _case(2, T, U, V, seed=T * 10 + U)
    lengths_t = torch.full((2,), T)
    lengths_u = torch.full((2,), U)
    got = rnnt_loss(logits, targets, lengths_t, lengths_u, reduction="none")
    want = torch.stack([brute_force_nll(logits[b], targets[b]) for b in range(2)])
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


def test_nonzero_blank_index():
    logits, targets = _case(1, 3, 2, 5, seed=3)
    targets = torch.tensor([[0, 1]])  # label 0 is a real symbol when blank=4
    got = rnnt_loss(logits, targets, torch.tensor([3]), torch.tensor([2]), blank=4, reduction="sum")
    torch.testing.assert_close(got, brute_force_nll(logits[0], targets[0], blank=4), atol=1e-6, rtol=0)


def test_unequal_lengths_equal_per_item_losses():
    logits, targets = _case(4, 6, 4, 5, seed=7)
    t_len = torch.tensor([6, 3, 1, 5])
    u_len = torch.tensor([4, 2, 3, 0])
    targets[1, 2:] = -1  # padding must not matter, even out of range
    batch = rnnt_loss(logits, targets, t_len, u_len, reduction="none")
    for b in range(4):
        T, U = int(t_len[b]), int(u_len[b])
        single = rnnt_loss(logits[b:b + 1, :T, :U + 1], targets[b:b + 1, :U],
                           t_len[b:b + 1], u_len[b:b + 1], reduction="none")
        torch.testing.assert_close(batch[b], single[0], atol=1e-9, rtol=0)
        torch.testing.assert_close(batch[b], brute_force_nll(logits[b, :T, :U + 1], targets[b, :U]),
                                   atol=1e-6, rtol=0)
    assert torch.isclose(rnnt_loss(logits, targets, t_len, u_len, reduction="sum"), batch.sum())
    assert torch.isclose(rnnt_loss(logits, targets, t_len, u_len, reduction="mean"), batch.mean())


def test_padding_gets_zero_gradient_and_grads_finite():
    logits, targets = _case(2, 5, 3, 4, seed=11)
    logits = logits.float().requires_grad_()
    loss = rnnt_loss(logits, targets, torch.tensor([5, 2]), torch.tensor([3, 1]))
    loss.backward()
    grad = logits.grad
    assert torch.isfinite(grad).all()
    assert grad[1, 2:].abs().max() == 0  # frames past T_b
    assert grad[1, :, 2:].abs().max() == 0  # label positions past U_b
    assert grad[0].abs().sum() > 0
    # d loss / d logits sums to zero over V (softmax), per lattice node
    torch.testing.assert_close(grad.sum(-1), torch.zeros_like(grad.sum(-1)), atol=1e-6, rtol=0)


def test_gradcheck():
    logits, targets = _case(2, 3, 2, 4, seed=5)
    logits.requires_grad_()
    t_len, u_len = torch.tensor([3, 2]), torch.tensor([2, 1])
    assert torch.autograd.gradcheck(
        lambda x: rnnt_loss(x, targets, t_len, u_len, reduction="sum"), (logits,), eps=1e-6, atol=1e-6
    )


def test_from_logprobs_matches_and_chunked_joint():
    logits, targets = _case(2, 6, 3, 5, seed=13)
    t_len, u_len = torch.tensor([6, 4]), torch.tensor([3, 2])
    # a trainer computing the joint in chunks over T gathers per chunk and concatenates
    parts = [gather_joint_logprobs(logits[:, s:s + 2], targets) for s in range(0, 6, 2)]
    blank_lp = torch.cat([p[0] for p in parts], dim=1)
    emit_lp = torch.cat([p[1] for p in parts], dim=1)
    assert blank_lp.shape == (2, 6, 4) and emit_lp.shape == (2, 6, 3)
    torch.testing.assert_close(
        rnnt_loss_from_logprobs(blank_lp, emit_lp, t_len, u_len, reduction="none"),
        rnnt_loss(logits, targets, t_len, u_len, reduction="none"),
    )


def test_half_precision_logits_upcast():
    logits, targets = _case(1, 4, 2, 5, seed=17)
    want = rnnt_loss(logits, targets, torch.tensor([4]), torch.tensor([2]))
    got = rnnt_loss(logits.bfloat16(), targets, torch.tensor([4]), torch.tensor([2]))
    assert got.dtype == torch.float32 and torch.isfinite(got)
    assert abs(got.item() - want.item()) < 0.1


def test_rejects_bad_shapes_and_lengths():
    logits, targets = _case(1, 3, 2, 4)
    with pytest.raises(ValueError):
        rnnt_loss(logits, targets[:, :1], torch.tensor([3]), torch.tensor([1]))
    with pytest.raises(ValueError):
        rnnt_loss(logits, targets, torch.tensor([4]), torch.tensor([2]))
    with pytest.raises(ValueError):
        rnnt_loss(logits, targets, torch.tensor([3]), torch.tensor([2]), reduction="avg")


def _torchaudio_rnnt():
    try:
        import torchaudio.functional as F  # noqa: PLC0415
    except (ImportError, OSError, RuntimeError) as exc:  # wheel built against another torch
        pytest.skip(f"torchaudio unavailable: {exc}")
    if not hasattr(F, "rnnt_loss"):
        pytest.skip("torchaudio has no rnnt_loss")
    return F.rnnt_loss


def test_matches_torchaudio():
    ta_rnnt = _torchaudio_rnnt()
    logits, targets = _case(3, 7, 4, 6, seed=19)
    logits = logits.float()
    t_len = torch.tensor([7, 5, 3], dtype=torch.int32)
    u_len = torch.tensor([4, 2, 3], dtype=torch.int32)
    want = ta_rnnt(logits, targets.int(), t_len, u_len, blank=0, reduction="none")
    got = rnnt_loss(logits, targets, t_len, u_len, reduction="none")
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-5)
