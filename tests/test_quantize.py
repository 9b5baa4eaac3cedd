import torch

from memasr.deploy.quantize import dequantize_tensor, quantize_model, quantize_tensor
from memasr.model import load_preset
from memasr.model.transducer import build_model


def test_per_channel_codes_and_error_bound():
    torch.manual_seed(0)
    w = torch.randn(6, 40) * torch.arange(1, 7)[:, None]  # rows at very different scales
    codes, scale = quantize_tensor(w, 8)
    assert codes.abs().max() <= 127 and scale.shape == (6,)
    err = (dequantize_tensor(codes, scale) - w).abs()
    assert (err <= scale[:, None] / 2 + 1e-6).all()  # rounding error at most half a step per row


def test_quantized_model_stays_close_and_has_few_levels():
    torch.manual_seed(0)
    model = build_model(load_preset("small-optimized")).eval()
    q = quantize_model(model, 8)
    w = q.encoder.layers[0].cell.w_x.weight
    assert all(len(torch.unique(row)) <= 255 for row in w[:4])
    x = torch.randn(1, 40, 80)
    a, _ = model.transcribe(x, torch.tensor([40]))
    b, _ = q.transcribe(x, torch.tensor([40]))
    assert torch.allclose(a, b, atol=0.05)
    assert not torch.equal(a, b)
