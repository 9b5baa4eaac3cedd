"""Pruned RNN-T loss: equals the full loss on a full band, exact inside a narrow band,
gradients, valid bands, and the simple lattice's normaliser."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from memasr.model.config import JoinerConfig
from memasr.model.joiner import Joiner
from memasr.train.loss import rnnt_loss
from memasr.train.pruned import (
    PrunedLossConfig,
    PrunedLossHead,
    choose_band_starts,
    loss_and_occupation,
    simple_joint_normalizer,
    simple_lattice,
)

D_ENC, D_PRED = 5, 4


def _setup(B, T, U, C, seed=0, joiner_dim=8):
    """A float64 joiner + head and one random batch with ragged lengths."""
    torch.manual_seed(seed)
    joiner = Joiner(JoinerConfig(dim=joiner_dim), D_ENC, D_PRED, C).double()
    head = PrunedLossHead(D_ENC, D_PRED, C).double()
    enc = torch.randn(B, T, D_ENC, dtype=torch.float64, requires_grad=True)
    pred = torch.randn(B, U + 1, D_PRED, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(1, C, (B, U))
    return joiner, head, enc, pred, targets


RAGGED = [  # (T, U, frames per sequence, labels per sequence)
    (6, 3, [6, 4, 2], [3, 1, 2]),
    (9, 5, [9, 9, 5, 3], [5, 0, 5, 2]),
]


@pytest.mark.parametrize("T,U,t_lens,u_lens", RAGGED)
@pytest.mark.parametrize("extra", [0, 3])
def test_full_band_equals_full_loss(T, U, t_lens, u_lens, extra):
    joiner, head, enc, pred, targets = _setup(len(t_lens), T, U, C=7, seed=T + extra)
    t_len, u_len = torch.tensor(t_lens), torch.tensor(u_lens)
    targets[1, u_lens[1]:] = -1  # padding must not matter
    out = head.compute(joiner, enc, t_len, pred, targets, u_len, prune_range=U + 1 + extra)
    assert out.band_width == U + 1 and int(out.band_start.abs().max()) == 0
    full = rnnt_loss(joiner(enc, pred), targets, t_len, u_len, reduction="sum")
    torch.testing.assert_close(out.pruned_loss, full, atol=1e-10, rtol=0)


def test_full_band_gradients_equal_full_loss_gradients():
    joiner, head, enc, pred, targets = _setup(3, 6, 3, C=7, seed=4)
    t_len, u_len = torch.tensor([6, 4, 3]), torch.tensor([3, 2, 1])
    leaves = [enc, pred, *joiner.parameters()]
    full = rnnt_loss(joiner(enc, pred), targets, t_len, u_len, reduction="sum")
    want = torch.autograd.grad(full, leaves)
    _, pruned = head(joiner, enc, t_len, pred, targets, u_len, prune_range=4)
    got = torch.autograd.grad(pruned, leaves)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-10, rtol=1e-9)


def _band_nll(logits, targets, start, width):
    """-log of the summed probability of the alignments whose every node lies in the band,
    by walking the lattice of one sequence: logits [T, U+1, C], targets [U], start [T]."""
    lp = logits.log_softmax(-1)
    T, U1, _ = lp.shape

    def scores_from(t, u):  # log-probs of every in-band path from (t, u) to the end
        if not 0 <= u - int(start[t]) < width:
            return []
        if (t, u) == (T - 1, U1 - 1):
            return [lp[t, u, 0]]
        out = [lp[t, u, targets[u]] + s for s in scores_from(t, u + 1)] if u < U1 - 1 else []
        return out + ([lp[t, u, 0] + s for s in scores_from(t + 1, u)] if t < T - 1 else [])

    return -torch.logsumexp(torch.stack(scores_from(0, 0)), 0)


def test_narrow_band_is_exact_over_in_band_alignments():
    joiner, head, enc, pred, targets = _setup(3, 7, 4, C=6, seed=1)
    t_len, u_len = torch.tensor([7, 6, 4]), torch.tensor([4, 4, 3])
    full = rnnt_loss(joiner(enc, pred), targets, t_len, u_len, reduction="none")
    logits = joiner(enc, pred).detach()
    for width in (2, 3):
        out = head.compute(joiner, enc, t_len, pred, targets, u_len, prune_range=width)
        want = sum(_band_nll(logits[b, :t_len[b], :u_len[b] + 1], targets[b], out.band_start[b], width)
                   for b in range(3))
        torch.testing.assert_close(out.pruned_loss, want, atol=1e-9, rtol=0)
        assert out.pruned_loss > full.sum()  # fewer alignments, higher loss


def test_gradcheck_simple_and_pruned():
    joiner, head, enc, pred, targets = _setup(2, 3, 2, C=4, seed=2, joiner_dim=4)
    t_len, u_len = torch.tensor([3, 2]), torch.tensor([2, 1])
    bands = []

    def losses(e, p):
        out = head.compute(joiner, e, t_len, p, targets, u_len, prune_range=2, lm_scale=0.25, am_scale=0.1)
        bands.append(out.band_start)
        return out.simple_loss, out.pruned_loss

    assert torch.autograd.gradcheck(losses, (enc, pred), eps=1e-6, atol=1e-6)
    assert all(torch.equal(b, bands[0]) for b in bands)  # finite differences did not move the band
    assert int(bands[0].max()) > 0  # and the band really prunes


def _assert_valid_bands(start, width, t_len, u_len):
    steps = start[:, 1:] - start[:, :-1]
    assert int(start[:, 0].abs().max()) == 0
    assert int(steps.min()) >= 0 and int(steps.max()) <= width - 1
    for b in range(start.shape[0]):
        T_b, U_b = int(t_len[b]), int(u_len[b])
        last = max(U_b - width + 1, 0)
        assert int(start[b].max()) <= last  # never past the sequence's labels
        assert (start[b, T_b - 1:] == last).all()  # last frame's band holds U_b
        assert last <= U_b < last + width


@pytest.mark.parametrize("seed", range(4))
def test_bands_monotone_in_range_and_respect_lengths(seed):
    g = torch.Generator().manual_seed(seed)
    B, T, U, C = 5, 30, 12, 9
    am, lm = torch.randn(B, T, C, generator=g) * 3, torch.randn(B, U + 1, C, generator=g) * 3
    targets = torch.randint(1, C, (B, U), generator=g)
    t_len = torch.randint(8, T + 1, (B,), generator=g)
    t_len[0] = T
    u_len = torch.minimum(torch.randint(0, U + 1, (B,), generator=g), t_len)
    u_len[1] = U
    blank_lp, emit_lp = simple_lattice(am, lm, targets, 0.25, 0.0)
    _, blank_occ, emit_occ = loss_and_occupation(blank_lp, emit_lp, t_len, u_len)
    for width in (2, 3, 5):
        _assert_valid_bands(choose_band_starts(blank_occ, emit_occ, t_len, u_len, width), width, t_len, u_len)


def test_band_follows_a_certain_alignment():
    # one alignment with all the mass: label u emitted at frame 2u (two frames per label)
    T, U = 12, 5
    blank_occ, emit_occ = torch.zeros(1, T, U + 1), torch.zeros(1, T, U)
    u = 0
    for t in range(T):
        while u < U and t == 2 * u:
            emit_occ[0, t, u] = 1.0
            u += 1
        blank_occ[0, t, u] = 1.0
    visited = [(t, int(blank_occ[0, t].argmax())) for t in range(T)]
    visited += [(int(t), int(u) + k) for t, u in emit_occ[0].nonzero() for k in (0, 1)]  # both ends of emissions
    for width in (2, 4):
        start = choose_band_starts(blank_occ, emit_occ, torch.tensor([T]), torch.tensor([U]), width)
        _assert_valid_bands(start, width, torch.tensor([T]), torch.tensor([U]))
        assert all(0 <= int(u) - int(start[0, t]) < width for t, u in visited)


def test_occupations_are_posteriors():
    g = torch.Generator().manual_seed(3)
    am, lm = torch.randn(2, 6, 5, generator=g, dtype=torch.float64), torch.randn(2, 4, 5, generator=g,
                                                                                 dtype=torch.float64)
    targets = torch.randint(1, 5, (2, 3), generator=g)
    t_len, u_len = torch.tensor([6, 4]), torch.tensor([3, 2])
    with torch.no_grad():
        loss, blank_occ, emit_occ = loss_and_occupation(*simple_lattice(am, lm, targets), t_len, u_len)
    assert not loss.requires_grad
    for b in range(2):
        # every alignment takes exactly T_b blanks and U_b emissions, one blank leaves each frame
        torch.testing.assert_close(blank_occ[b].sum(), t_len[b].double())
        torch.testing.assert_close(emit_occ[b].sum(), u_len[b].double())
        torch.testing.assert_close(blank_occ[b, : t_len[b]].sum(-1), torch.ones(int(t_len[b]), dtype=torch.float64))
    assert blank_occ[1, 4:].abs().max() == 0 and emit_occ[1, :, 2:].abs().max() == 0  # padding


def test_simple_normalizer_equals_brute_force():
    g = torch.Generator().manual_seed(5)
    B, T, U, C = 2, 5, 3, 7
    am, lm = torch.randn(B, T, C, generator=g) * 4, torch.randn(B, U + 1, C, generator=g) * 4
    targets = torch.randint(1, C, (B, U), generator=g)
    brute = (am[:, :, None] + lm[:, None]).log_softmax(-1)  # [B, T, U+1, C]
    torch.testing.assert_close(simple_joint_normalizer(am, lm), (am[:, :, None] + lm[:, None]).logsumexp(-1))
    blank_lp, emit_lp = simple_lattice(am, lm, targets, lm_scale=0.0, am_scale=0.0)
    torch.testing.assert_close(blank_lp, brute[..., 0])
    idx = targets[:, None, :, None].expand(B, T, U, 1)
    torch.testing.assert_close(emit_lp, brute[:, :, :U].gather(-1, idx).squeeze(-1))
    # smoothing interpolates with the predictor-only and encoder-only log-probs
    lm_lp, am_lp = lm.log_softmax(-1), am.log_softmax(-1)
    blank_s, _ = simple_lattice(am, lm, targets, lm_scale=0.25, am_scale=0.5)
    torch.testing.assert_close(blank_s, 0.25 * brute[..., 0] + 0.25 * lm_lp[:, None, :, 0] + 0.5 * am_lp[:, :, None, 0])


def test_normalizer_stays_finite_for_disjoint_peaks():
    am = torch.tensor([[[200.0, -200.0, 0.0]]])  # [1, 1, 3]
    lm = torch.tensor([[[-200.0, 200.0, 0.0]]])  # [1, 1, 3]
    norm = simple_joint_normalizer(am, lm)
    assert torch.isfinite(norm).all()
    torch.testing.assert_close(norm, (am[:, :, None] + lm[:, None]).logsumexp(-1))


def test_rejects_bad_arguments():
    joiner, head, enc, pred, targets = _setup(2, 3, 4, C=5)
    t_len, u_len = torch.tensor([3, 3]), torch.tensor([4, 4])
    with pytest.raises(ValueError, match="prune_range"):
        head(joiner, enc, t_len, pred, targets, u_len, prune_range=1)
    with pytest.raises(ValueError, match="cannot reach"):  # 4 labels in 3 frames need 2 per frame
        head(joiner, enc, t_len, pred, targets, u_len.new_tensor([4, 4]), prune_range=2)
    with pytest.raises(ValueError, match="expected"):
        head(joiner, enc, t_len, pred[:, :-1], targets, u_len, prune_range=3)


def test_loss_weights_warm_up():
    cfg = PrunedLossConfig()
    assert cfg.loss_weights(0) == (1.0, 0.1)
    simple, pruned = cfg.loss_weights(cfg.warm_steps // 2)
    assert simple == pytest.approx(0.75) and pruned == pytest.approx(0.55)
    assert cfg.loss_weights(cfg.warm_steps) == (0.5, 1.0) == cfg.loss_weights(10 * cfg.warm_steps)


def test_training_on_pruned_loss_lowers_full_loss():
    joiner, head, enc, pred, targets = _setup(3, 10, 5, C=9, seed=6)
    t_len, u_len = torch.tensor([10, 9, 7]), torch.tensor([5, 4, 3])
    enc, pred = nn.Parameter(enc.detach()), nn.Parameter(pred.detach())
    cfg = PrunedLossConfig(prune_range=3, warm_steps=5)

    def full_loss():
        with torch.no_grad():
            return float(rnnt_loss(joiner(enc, pred), targets, t_len, u_len, reduction="sum"))

    before = full_loss()
    params = [enc, pred, *joiner.parameters(), *head.parameters()]
    for step in range(15):  # plain gradient descent (torch.optim's first import alone takes seconds)
        simple, pruned = head(joiner, enc, t_len, pred, targets, u_len, cfg.prune_range, cfg.lm_scale, cfg.am_scale)
        simple_weight, pruned_weight = cfg.loss_weights(step)
        grads = torch.autograd.grad(simple_weight * simple + pruned_weight * pruned, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= 0.1 * g
    assert full_loss() < 0.3 * before  # 65.5 -> 10.5 nats here
