"""Model configuration: plain dataclasses with defaults, loaded from TOML presets.

Presets ship inside the package (``memasr/presets/*.toml``); a checkpoint
directory stores its own ``config.toml`` written by :func:`dump_config`.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from memasr.errors import InputError


@dataclass
class EncoderConfig:
    """Recurrent encoder. ``time_reduction`` holds ``[after_layer, factor]`` pairs;
    ``after_layer = 0`` reduces right after frame stacking, ``k`` after the k-th layer."""

    input_dim: int = 80
    stack_frames: int = 4
    stack_stride: int = 3
    cell: str = "lstm"
    num_layers: int = 4
    hidden_size: int = 512
    proj_size: int = 0
    groups: int = 8
    time_reduction: list[list[int]] = field(default_factory=list)
    layer_norm: bool = False
    output_dim: int = 0
    dropout: float = 0.0
    frame_shift_ms: float = 10.0

    @property
    def total_reduction(self) -> int:
        total = 1
        for _, factor in self.time_reduction:
            total *= factor
        return total

    @property
    def input_frame_ms(self) -> float:
        """Duration of one encoder-input (stacked) frame."""
        return self.frame_shift_ms * self.stack_stride


@dataclass
class PredictorConfig:
    """``kind = "rnn"`` (embedding + recurrent cells) or ``"stateless"`` (embedding of the
    last ``context_size`` tokens + a depthwise 1-D convolution, as in icefall)."""

    kind: str = "rnn"
    cell: str = "lstm"
    num_layers: int = 1
    hidden_size: int = 512
    proj_size: int = 0
    groups: int = 8
    embed_dim: int = 256
    context_size: int = 2
    dropout: float = 0.0


@dataclass
class JoinerConfig:
    dim: int = 256


@dataclass
class ModelConfig:
    name: str = "custom"
    vocab_size: int = 256  # non-blank tokens; the model outputs vocab_size + 1 classes (blank = 0)
    schedule: str = "chunk:8"  # the runtime schedule this model is meant to run with
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    joiner: JoinerConfig = field(default_factory=JoinerConfig)

    @property
    def num_classes(self) -> int:
        return self.vocab_size + 1


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}")
    kwargs = {}
    for key, value in data.items():
        sub = {"encoder": EncoderConfig, "predictor": PredictorConfig, "joiner": JoinerConfig}.get(key)
        if cls is ModelConfig and sub is not None:
            if not isinstance(value, dict):
                raise InputError(f"{where}: [{key}] must be a table")
            value = _build(sub, value, f"{where} [{key}]")
        kwargs[key] = value
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any], where: str = "config") -> ModelConfig:
    config = _build(ModelConfig, data, where)
    validate_config(config, where)
    return config


def validate_config(config: ModelConfig, where: str = "config") -> None:
    from memasr.cells import CELL_TYPES

    enc, pred = config.encoder, config.predictor
    if enc.cell not in CELL_TYPES or (pred.kind == "rnn" and pred.cell not in CELL_TYPES):
        raise InputError(f"{where}: unknown cell; choose from {', '.join(CELL_TYPES)}")
    if pred.kind not in ("rnn", "stateless"):
        raise InputError(f"{where}: predictor kind must be 'rnn' or 'stateless'")
    for after, factor in enc.time_reduction:
        if not 0 <= after <= enc.num_layers or factor < 1:
            raise InputError(f"{where}: bad time_reduction entry [{after}, {factor}]")
    if config.vocab_size < 1 or enc.num_layers < 1:
        raise InputError(f"{where}: vocab_size and num_layers must be positive")


def load_config(path: str | Path) -> ModelConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"config file {path} is not valid TOML: {exc}") from None
    return config_from_dict(data, str(path))


def list_presets() -> list[str]:
    folder = resources.files("memasr") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_preset(name: str) -> ModelConfig:
    resource = resources.files("memasr") / "presets" / f"{name}.toml"
    if not resource.is_file():
        raise InputError(f"unknown preset {name!r}; choose from {', '.join(list_presets())}")
    return config_from_dict(tomllib.loads(resource.read_text()), f"preset {name}")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dump_config(config: ModelConfig) -> str:
    """TOML text that :func:`config_from_dict` reads back to an equal config."""
    lines, tables = [], []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            tables.append((f.name, value))
        else:
            lines.append(f"{f.name} = {_toml_value(value)}")
    for name, table in tables:
        lines.append(f"\n[{name}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in dataclasses.asdict(table).items())
    return "\n".join(lines) + "\n"
