"""Checkpoint averaging (icefall's ``--avg``, NeMo's checkpoint averaging): the element-wise
mean of the weights of several checkpoints of one run, usually the last few. It smooths the
noise of the last optimizer steps and often lowers WER at no cost at inference time.
"""
from __future__ import annotations

from pathlib import Path

import torch

from memasr.errors import InputError
from memasr.model.checkpoint import WEIGHTS_FILE, read_model_dir
from memasr.model.config import ModelConfig, dump_config


def average_state_dicts(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Mean of floating-point entries (accumulated in float64); other entries (integer
    counters) are taken from the last state. All states must have the same keys and shapes."""
    if not states:
        raise InputError("nothing to average")
    keys = list(states[-1])
    for i, state in enumerate(states):
        if list(state) != keys:
            raise InputError(f"checkpoint {i + 1} has different weights than the others (not the same model)")
        for k in keys:
            if state[k].shape != states[-1][k].shape:
                raise InputError(f"checkpoint {i + 1}: {k} has shape {tuple(state[k].shape)}, "
                                 f"not {tuple(states[-1][k].shape)}")
    out = {}
    for k in keys:
        last = states[-1][k]
        if last.is_floating_point():
            total = sum(s[k].to(torch.float64) for s in states)
            out[k] = (total / len(states)).to(last.dtype)
        else:
            out[k] = last.clone()
    return out


def read_weights(path: str | Path) -> tuple[ModelConfig, dict[str, torch.Tensor], int | None]:
    """``(config, model state, step or None)`` from a trainer checkpoint ``ckpt-*.pt`` or a model
    directory (``config.toml`` + ``model.pt``)."""
    path = Path(path)
    if path.is_dir():
        config, weights = read_model_dir(path)
        return config, _tensors(weights, path / WEIGHTS_FILE), None
    from memasr.train.trainer import read_training_checkpoint  # heavy module: only for ckpt files

    state, config = read_training_checkpoint(path)
    return config, _tensors(state["model"], path), state.get("step")


def _tensors(state, where: Path) -> dict[str, torch.Tensor]:
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{where} holds no model weights (a dict of tensors)")
    return state


def average_checkpoints(paths: list[str | Path]) -> tuple[ModelConfig, dict[str, torch.Tensor], list[int | None]]:
    """Average the weights of ``paths`` (checkpoints of one model); returns the config, the
    averaged state and the step of each input (None for model directories)."""
    configs, states, steps = [], [], []
    for p in paths:
        config, state, step = read_weights(p)
        configs.append(config)
        states.append(state)
        steps.append(step)
    if any(dump_config(c) != dump_config(configs[-1]) for c in configs):
        raise InputError("the checkpoints have different model configs; average checkpoints of one run")
    return configs[-1], average_state_dicts(states), steps
