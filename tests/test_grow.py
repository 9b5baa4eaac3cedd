import dataclasses

import pytest
import torch

from memasr.errors import InputError
from memasr.model.config import load_preset
from memasr.model.grow import widen_model, widening_problems
from memasr.model.transducer import build_model


def _configs(hidden: int = 48, wider: int = 80):
    base = load_preset("small-optimized")
    narrow = dataclasses.replace(base, encoder=dataclasses.replace(base.encoder, hidden_size=hidden, num_layers=2))
    wide = dataclasses.replace(narrow, encoder=dataclasses.replace(narrow.encoder, hidden_size=wider, dropout=0.2))
    return narrow, wide


def test_widened_model_gives_the_same_encoder_output_and_logits():
    torch.manual_seed(0)
    narrow_cfg, wide_cfg = _configs()
    narrow, wide = build_model(narrow_cfg), build_model(wide_cfg)
    with torch.no_grad():
        for p in narrow.parameters():
            p.add_(0.1 * torch.randn_like(p))
    widen_model(wide, narrow)
    narrow.eval()
    wide.eval()
    features, lengths = torch.randn(2, 120, 80), torch.tensor([120, 90])
    targets, target_lengths = torch.randint(1, 50, (2, 5)), torch.tensor([5, 3])
    a = narrow(features, lengths, targets, target_lengths)[0]
    b = wide(features, lengths, targets, target_lengths)[0]
    assert torch.allclose(a, b, atol=1e-5)
    assert sum(p.numel() for p in wide.parameters()) > sum(p.numel() for p in narrow.parameters())


def test_only_the_hidden_size_may_grow():
    narrow_cfg, wide_cfg = _configs()
    assert widening_problems(narrow_cfg, wide_cfg) == []
    other = dataclasses.replace(wide_cfg, vocab_size=500,
                                encoder=dataclasses.replace(wide_cfg.encoder, num_layers=3))
    problems = widening_problems(narrow_cfg, other)
    assert problems == ["vocab_size 256 against 500", "encoder.num_layers 2 against 3"]
    assert widening_problems(wide_cfg, narrow_cfg) == ["encoder.hidden_size 80 is wider than 48"]
    no_proj = dataclasses.replace(narrow_cfg, encoder=dataclasses.replace(narrow_cfg.encoder, proj_size=0))
    assert widening_problems(no_proj, no_proj) == ["widening needs encoder.proj_size > 0"]
    with pytest.raises(InputError, match="encoder.num_layers 2 against 3"):
        widen_model(build_model(other), build_model(narrow_cfg))
