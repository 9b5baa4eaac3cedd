"""Checkpoint directories: ``config.toml`` + ``model.pt`` + ``tokenizer.model`` together.

Writes are atomic: everything goes into a sibling temporary directory that is
renamed into place, so a crash never leaves a half-written model.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, TypeVar

import torch

from memasr.atomic import atomic_directory
from memasr.errors import InputError
from memasr.model.config import config_from_dict, dump_config
from memasr.model.transducer import Transducer, build_model

M = TypeVar("M", bound=torch.nn.Module)

CONFIG_FILE = "config.toml"
WEIGHTS_FILE = "model.pt"
TOKENIZER_FILE = "tokenizer.model"
META_FILE = "meta.json"


LM_FILE = "lm.arpa.gz"  # optional n-gram LM over the model's pieces (memasr lm), for --lm model
TRAINING_HEADS_FILE = "training_heads.pt"  # training-only weights (CTC head...): --init-from reads them


STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def save_pretrained(model: Transducer, directory: str | Path, tokenizer_file: str | Path | None = None,
                    meta: dict[str, Any] | None = None, training_heads: dict[str, Any] | None = None,
                    storage_dtype: str = "float32") -> Path:
    """Write a model directory atomically; ``training_heads`` (state dicts of training-only
    modules) go beside the model so a later run can warm-start from them too.

    ``storage_dtype="float16"`` halves ``model.pt`` (a reference model must fit the
    repository's 20 MB limit); readers widen it back to float32, so inference and further
    training always run in float32. The training heads stay float32."""
    if storage_dtype not in STORAGE_DTYPES:
        raise InputError(f"unknown storage dtype {storage_dtype!r}; choose from {', '.join(STORAGE_DTYPES)}")
    dtype = STORAGE_DTYPES[storage_dtype]
    directory = Path(directory)
    with atomic_directory(directory) as tmp:
        (tmp / CONFIG_FILE).write_text(dump_config(model.config))
        torch.save({k: _stored(v.detach().cpu(), dtype) for k, v in model.state_dict().items()}, tmp / WEIGHTS_FILE)
        if tokenizer_file is not None:
            shutil.copyfile(tokenizer_file, tmp / TOKENIZER_FILE)
        (tmp / META_FILE).write_text(json.dumps(meta or {}, indent=2, sort_keys=True))
        if training_heads:
            torch.save(training_heads, tmp / TRAINING_HEADS_FILE)
    return directory


def _stored(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return tensor.to(dtype) if tensor.is_floating_point() else tensor


def read_model_dir(directory: str | Path, map_location: str = "cpu") -> tuple[Any, dict]:
    """``(config, weights)`` of a model directory, unchecked against each other."""
    import tomllib

    directory = Path(directory)
    if not (directory / CONFIG_FILE).is_file() or not (directory / WEIGHTS_FILE).is_file():
        raise InputError(f"{directory} is not a memasr model directory (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    try:
        config = config_from_dict(tomllib.loads((directory / CONFIG_FILE).read_text()), str(directory / CONFIG_FILE))
        state = torch.load(directory / WEIGHTS_FILE, map_location=map_location, weights_only=True)
    except InputError:
        raise
    except Exception as exc:  # corrupt TOML or weights: torch.load raises many kinds
        raise InputError(f"cannot read model in {directory}: {type(exc).__name__}: {exc}") from None
    if isinstance(state, dict):  # float16-stored weights (save_pretrained's storage_dtype) run in float32
        state = {k: _stored(v, torch.float32) if isinstance(v, torch.Tensor) else v for k, v in state.items()}
    return config, state


def load_weights(model: M, state: dict, where: str | Path) -> M:
    """Load ``state`` into ``model`` (a Transducer or one of its parts); a mismatch is one-line bad input."""
    try:
        model.load_state_dict(state)
    except Exception as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(f"weights in {where} do not match its config: {first}") from None
    return model


def model_from_state(config, state: dict, where: str | Path) -> Transducer:
    """Build the model of ``config`` and load ``state``; a mismatch is one-line bad input."""
    return load_weights(build_model(config), state, where)


def load_pretrained(directory: str | Path, map_location: str = "cpu") -> tuple[Transducer, Any]:
    """Load ``(model, tokenizer or None)`` from a checkpoint directory."""
    directory = Path(directory)
    config, state = read_model_dir(directory, map_location)
    model = model_from_state(config, state, directory)
    model.eval()
    tokenizer = None
    if (directory / TOKENIZER_FILE).is_file():
        from memasr.data.tokenizer import Tokenizer

        tokenizer = Tokenizer.load(directory / TOKENIZER_FILE)
    return model, tokenizer
