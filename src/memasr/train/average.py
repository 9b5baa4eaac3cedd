"""Checkpoint averaging (icefall's ``--avg``, NeMo's checkpoint averaging): the element-wise
mean of the weights of several checkpoints of one run, usually the last few. It smooths the
noise of the last optimizer steps and often lowers WER at no cost at inference time.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from memasr.errors import InputError
from memasr.model.checkpoint import TRAINING_HEADS_FILE, WEIGHTS_FILE, read_model_dir
from memasr.model.config import ModelConfig, dump_config

HEAD_NAMES = ("ctc_head", "pruned_head")  # training-only modules a checkpoint may carry


def average_state_dicts(states: list[dict[str, torch.Tensor]], what: str = "weights") -> dict[str, torch.Tensor]:
    """Mean of floating-point entries (accumulated in float64); other entries (integer
    counters) are taken from the last state. All states must have the same keys and shapes;
    ``what`` names them in errors (``weights``, or a training head)."""
    if not states:
        raise InputError("nothing to average")
    keys = list(states[-1])
    for i, state in enumerate(states):
        if list(state) != keys:
            raise InputError(f"checkpoint {i + 1} has different {what} than the others (not the same model)")
        for k in keys:
            if state[k].shape != states[-1][k].shape:
                raise InputError(f"checkpoint {i + 1}: {what} {k} has shape {tuple(state[k].shape)}, "
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


@dataclass
class Weights:
    """What one averaging input holds: the model and, when present, its training-only heads
    (``ctc_head``, ``pruned_head``: state dicts that ``--init-from`` warm-starts from)."""

    config: ModelConfig
    model: dict[str, torch.Tensor]
    heads: dict[str, dict[str, torch.Tensor]]
    step: int | None  # None for a model directory


def read_weights(path: str | Path) -> Weights:
    """The weights of a trainer checkpoint ``ckpt-*.pt`` or a model directory (``config.toml`` +
    ``model.pt``, and ``training_heads.pt`` when it has one)."""
    path = Path(path)
    if path.is_dir():
        config, weights = read_model_dir(path)
        heads = _read_heads_file(path / TRAINING_HEADS_FILE)
        return Weights(config, _tensors(weights, path / WEIGHTS_FILE), _checked_heads(heads, path), None)
    from memasr.train.trainer import read_training_checkpoint  # heavy module: only for ckpt files

    state, config = read_training_checkpoint(path)
    heads = {k: state[k] for k in HEAD_NAMES if state.get(k) is not None}
    return Weights(config, _tensors(state["model"], path), _checked_heads(heads, path), state.get("step"))


def _read_heads_file(path: Path) -> dict[str, dict[str, torch.Tensor]]:
    if not path.is_file():
        return {}
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None


def _tensors(state, where: str | Path, what: str = "model weights") -> dict[str, torch.Tensor]:
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{where} holds no {what} (a dict of tensors)")
    return state


def _checked_heads(heads, where: Path) -> dict[str, dict[str, torch.Tensor]]:
    """``{head name: state dict}``, each a dict of tensors; anything else is one-line bad input."""
    if not isinstance(heads, dict):
        raise InputError(f"{where}: the training heads are not a dict of state dicts")
    return {k: _tensors(v, where, f"usable training head {k!r}") for k, v in heads.items()}


@dataclass
class Averaged:
    config: ModelConfig
    model: dict[str, torch.Tensor]
    heads: dict[str, dict[str, torch.Tensor]]  # only heads every input has
    steps: list[int | None]  # of each input; None for model directories
    dropped_heads: list[str]  # heads only some inputs have: left out of the average


def average_checkpoints(paths: list[str | Path]) -> Averaged:
    """Average the weights of ``paths`` (checkpoints of one model). Training heads are averaged
    too when every input has them, so the result still warm-starts a run (``--init-from``)."""
    inputs = [read_weights(p) for p in paths]
    last = inputs[-1]
    if any(dump_config(w.config) != dump_config(last.config) for w in inputs):
        raise InputError("the checkpoints have different model configs; average checkpoints of one run")
    shared = [k for k in HEAD_NAMES if all(k in w.heads for w in inputs)]
    heads = {k: average_state_dicts([w.heads[k] for w in inputs], f"training head {k}") for k in shared}
    dropped = sorted({k for w in inputs for k in w.heads} - set(shared))
    return Averaged(last.config, average_state_dicts([w.model for w in inputs]), heads,
                    [w.step for w in inputs], dropped)
