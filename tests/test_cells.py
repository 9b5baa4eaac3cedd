import pytest
import torch

from memasr.cells import CELL_TYPES, build_cell

CASES = [("lstm", 0), ("lstm", 6), ("cifg", 0), ("cifg", 6), ("sru", 0), ("grc", 0), ("grc", 6)]


def _cell(kind: str, proj: int, input_size: int = 5, hidden: int = 16):
    torch.manual_seed(0)
    return build_cell(kind, input_size, hidden, proj).double()


@pytest.mark.parametrize("kind,proj", CASES)
def test_shapes_and_split(kind, proj):
    cell = _cell(kind, proj)
    x = torch.randn(3, 7, 5, dtype=torch.double)
    y, state = cell(x)
    assert y.shape == (3, 7, cell.output_size)
    assert all(s.shape[0] == 3 for s in state)
    # forward is exactly project_inputs -> step loop -> project_outputs
    u = cell.project_inputs(x)
    s = cell.init_state(3, dtype=torch.double)
    steps = []
    for t in range(7):
        h, s = cell.step(u[:, t], s)
        steps.append(h)
    assert torch.allclose(cell.project_outputs(torch.stack(steps, 1)), y)


@pytest.mark.parametrize("kind,proj", CASES)
def test_chunked_equals_whole_and_state_carry(kind, proj):
    cell = _cell(kind, proj)
    x = torch.randn(2, 20, 5, dtype=torch.double)
    whole, final = cell(x)
    state, outs = None, []
    for piece in x.split([3, 1, 8, 5, 3], dim=1):
        out, state = cell(piece, state)
        outs.append(out)
    assert torch.allclose(torch.cat(outs, 1), whole, atol=1e-5)
    for a, b in zip(state, final):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("kind,proj", CASES)
def test_gradients_flow_to_every_parameter(kind, proj):
    cell = _cell(kind, proj)
    y, _ = cell(torch.randn(2, 6, 5, dtype=torch.double))
    y.pow(2).sum().backward()
    for name, p in cell.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("kind,proj", CASES)
def test_gradcheck(kind, proj):
    cell = _cell(kind, proj, input_size=3, hidden=8)
    x = torch.randn(1, 4, 3, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: cell(inp)[0], (x,))


def test_recurrent_parameters_are_the_ones_used_in_step():
    for kind in CELL_TYPES:
        cell = _cell(kind, 0)
        names = cell.recurrent_parameter_names()
        assert names and names <= {n for n, _ in cell.named_parameters()}


def test_grc_recurrent_weights_at_most_an_eighth_of_lstm():
    for width in (64, 512, 2048):
        lstm = build_cell("lstm", 80, width)
        grc = build_cell("grc", 80, width, groups=8)
        lstm_rec = sum(p.numel() for n, p in lstm.named_parameters() if n in lstm.recurrent_parameter_names())
        grc_rec = sum(p.numel() for n, p in grc.named_parameters() if n in grc.recurrent_parameter_names())
        assert grc_rec * 8 <= lstm_rec
    with pytest.raises(ValueError):
        build_cell("grc", 8, 64, groups=4)  # too few groups would break the 1/8 bound


def test_grc_output_projection_is_outside_the_recurrence():
    cell = _cell("grc", 6)
    assert "w_p.weight" not in cell.recurrent_parameter_names()
    # changing W_p must not change the cell state trajectory
    x = torch.randn(1, 5, 5, dtype=torch.double)
    _, s1 = cell(x)
    with torch.no_grad():
        cell.w_p.weight.mul_(3.0)
    _, s2 = cell(x)
    assert all(torch.equal(a, b) for a, b in zip(s1, s2))


def test_unknown_cell():
    with pytest.raises(ValueError, match="unknown cell"):
        build_cell("gru", 3, 4)


@pytest.mark.parametrize("kind,proj", [("lstm", 0), ("lstm", 6), ("lstm", 16), ("lstm", 24), ("grc", 0), ("grc", 6)])
def test_fused_training_path_matches_step_ops(kind, proj):
    """Training mode runs a fused sequence kernel (ATen's LSTM without a projection, hand-written
    backward passes for LSTMP and GRC), eval mode the plain step ops: the same function, values
    and gradients."""
    cell = _cell(kind, proj)
    x = torch.randn(3, 9, 5, dtype=torch.double, requires_grad=True)
    state = tuple(torch.randn_like(s).requires_grad_() for s in cell.init_state(3, dtype=torch.double))
    results = []
    for training in (True, False):
        cell.train(training)
        y, (h, c) = cell(x, state)
        grads = torch.autograd.grad(y.pow(2).sum() + c.sum() + h.sum(), [*cell.parameters(), x, *state])
        results.append((y, h, c, grads))
    (y1, h1, c1, g1), (y2, h2, c2, g2) = results
    for a, b in [(y1, y2), (h1, h2), (c1, c2), *zip(g1, g2)]:
        assert torch.allclose(a, b, atol=1e-10)


@pytest.mark.parametrize("kind", ["grc", "lstm"])
def test_fused_path_trains_under_autocast(kind):
    """Mixed precision: the fused recurrence runs at the weights' precision, gradients are finite."""
    torch.manual_seed(0)
    cell = build_cell(kind, 20, 32, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, (h, c) = cell(torch.randn(2, 5, 20))
    (y.float().sum() + c.sum()).backward()
    assert c.dtype == torch.float32
    assert all(p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all() for p in cell.parameters())


@pytest.mark.parametrize("kind", ["grc", "lstm", "cifg"])
def test_widen_from_keeps_the_function_and_copies_learn_apart(kind):
    """A wider cell built from a trained one computes the same outputs (whole-sequence, fused
    training kernel and step by step), and a new unit gets other gradients than its original."""
    torch.manual_seed(0)
    options = {"groups": 8} if kind == "grc" else {}
    narrow = build_cell(kind, 12, 16, 8, **options).double()
    wide = build_cell(kind, 12, 40, 8, **options).double()
    with torch.no_grad():
        for p in narrow.parameters():
            p.normal_()  # every weight matters, not just a fresh init
    wide.widen_from(narrow)
    x = torch.randn(3, 9, 12, dtype=torch.double)
    for training in (False, True):
        narrow.train(training)
        wide.train(training)
        assert torch.allclose(wide(x)[0], narrow(x)[0], atol=1e-10)
    wide(x)[0].pow(2).sum().backward()
    grad = wide.w_x.weight.grad
    if kind == "grc":  # group 0: units 0-1 old, 2-3 copies of 0-1, then 4 (a copy of 0)
        original, copy = grad.view(3, 8, 5, 12)[:, 0, 0], grad.view(3, 8, 5, 12)[:, 0, 2]
    else:  # 16 old units, then copies of units 0..15, 0..7
        original, copy = grad.view(-1, 40, 12)[:, 0], grad.view(-1, 40, 12)[:, 16]
    assert copy.abs().sum() > 0 and not torch.allclose(original, copy)


def test_widen_from_refuses_what_it_cannot_preserve():
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="projection"):
        build_cell("lstm", 12, 40).widen_from(build_cell("lstm", 12, 16))  # output size would change
    with pytest.raises(ValueError, match="narrow"):
        build_cell("grc", 12, 16, 8).widen_from(build_cell("grc", 12, 40, 8))
    with pytest.raises(ValueError, match="cannot widen a LSTMCell"):
        build_cell("grc", 12, 40, 8).widen_from(build_cell("lstm", 12, 16, 8))
    with pytest.raises(ValueError, match="cannot be widened"):
        build_cell("sru", 12, 40).widen_from(build_cell("sru", 12, 16))
