"""Weight quantization: symmetric per-output-channel rounding to ``bits``-bit integers.

The analyzer counts weight bytes at the profile's bit width; this module makes
a model whose weights really are representable at that width, so WER at 8 bits
can be measured next to float. Embedding tables are quantized per row, like any
other matrix (one scale per output channel = per row).
"""
from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


def quantize_tensor(weight: Tensor, bits: int = 8) -> tuple[Tensor, Tensor]:
    """``weight [O, ...] -> (int codes [O, ...] as int32, scale [O])``, symmetric, per output channel."""
    if bits < 2 or bits > 16:
        raise ValueError(f"bits must be between 2 and 16, got {bits}")
    levels = 2 ** (bits - 1) - 1
    flat = weight.detach().reshape(weight.shape[0], -1)
    scale = flat.abs().amax(dim=1).clamp_min(1e-12) / levels
    codes = torch.round(flat / scale[:, None]).clamp(-levels, levels).to(torch.int32)
    return codes.reshape(weight.shape), scale


def dequantize_tensor(codes: Tensor, scale: Tensor) -> Tensor:
    return (codes.reshape(codes.shape[0], -1).float() * scale[:, None]).reshape(codes.shape)


def quantize_model(model: nn.Module, bits: int = 8, min_numel: int = 1024) -> nn.Module:
    """A copy of ``model`` whose matrices (>= 2-D, at least ``min_numel`` elements) are rounded to
    ``bits``-bit per-channel integers. Biases, norms and small vectors stay in float, as int8
    runtimes keep them."""
    quantized = copy.deepcopy(model)
    with torch.no_grad():
        for _, param in quantized.named_parameters():
            if param.dim() >= 2 and param.numel() >= min_numel:
                param.copy_(dequantize_tensor(*quantize_tensor(param, bits)))
    return quantized
