"""Model configuration: plain dataclasses with defaults, loaded from TOML presets.

Presets ship inside the package (``memasr/presets/*.toml``); a checkpoint
directory stores its own ``config.toml`` written by :func:`dump_config`.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from memasr.data.features import FeatureConfig
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

    @property
    def total_reduction(self) -> int:
        total = 1
        for _, factor in self.time_reduction:
            total *= factor
        return total


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
    """The model and its front end. ``features`` is the one feature configuration that
    training, streaming inference, tracing and export all use (``[features]`` in TOML;
    a config written before that table existed gets :meth:`FeatureConfig.legacy`)."""

    name: str = "custom"
    vocab_size: int = 256  # non-blank tokens; the model outputs vocab_size + 1 classes (blank = 0)
    schedule: str = "chunk:8"  # the runtime schedule this model is meant to run with
    features: FeatureConfig = field(default_factory=FeatureConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    joiner: JoinerConfig = field(default_factory=JoinerConfig)

    @property
    def num_classes(self) -> int:
        return self.vocab_size + 1

    @property
    def input_frame_ms(self) -> float:
        """Duration of one encoder-input (stacked) frame."""
        return self.features.hop_ms * self.encoder.stack_stride


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}")
    kwargs = {}
    for key, value in data.items():
        sub = {"encoder": EncoderConfig, "predictor": PredictorConfig, "joiner": JoinerConfig,
               "features": FeatureConfig}.get(key)
        if cls is ModelConfig and sub is not None:
            if not isinstance(value, dict):
                raise InputError(f"{where}: [{key}] must be a table")
            value = _build(sub, value, f"{where} [{key}]")
        kwargs[key] = value
    return cls(**kwargs)


def _upgrade_legacy(data: dict[str, Any]) -> dict[str, Any]:
    """Configs from before ``[features]``: the legacy front end, whose hop was the encoder's
    ``frame_shift_ms`` and whose bin count was the encoder's ``input_dim``."""
    if "features" in data:
        return data
    data = {**data}
    encoder = dict(data.get("encoder") or {})
    hop_ms = encoder.pop("frame_shift_ms", 10.0)
    data["encoder"] = encoder
    data["features"] = dataclasses.asdict(
        FeatureConfig.legacy(hop_ms=hop_ms, n_mels=encoder.get("input_dim", EncoderConfig.input_dim)))
    return data


def config_from_dict(data: dict[str, Any], where: str = "config") -> ModelConfig:
    try:
        config = _build(ModelConfig, _upgrade_legacy(data), where)
    except TypeError as exc:
        raise InputError(f"{where}: {exc}") from None
    validate_config(config, where)
    return config


def validate_config(config: ModelConfig, where: str = "config") -> None:
    """Reject configs that would fail later (or silently misbehave) with one clear InputError."""
    from memasr.cells import CELL_TYPES

    enc, pred = config.encoder, config.predictor

    def positive_ints(section: object, names: tuple[str, ...], minimum: int = 1) -> None:
        for name in names:
            value = getattr(section, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise InputError(f"{where}: {name} must be an integer >= {minimum}, got {value!r}")

    positive_ints(config, ("vocab_size",))
    if config.features.n_mels != enc.input_dim:
        raise InputError(f"{where}: [features] n_mels = {config.features.n_mels} but [encoder] input_dim = "
                         f"{enc.input_dim}; they must match")
    positive_ints(enc, ("input_dim", "stack_frames", "stack_stride", "num_layers", "hidden_size", "groups"))
    positive_ints(enc, ("proj_size", "output_dim"), 0)
    positive_ints(pred, ("num_layers", "hidden_size", "embed_dim", "context_size", "groups"))
    positive_ints(pred, ("proj_size",), 0)
    positive_ints(config.joiner, ("dim",))
    if enc.cell not in CELL_TYPES or (pred.kind == "rnn" and pred.cell not in CELL_TYPES):
        raise InputError(f"{where}: unknown cell; choose from {', '.join(CELL_TYPES)}")
    if pred.kind not in ("rnn", "stateless"):
        raise InputError(f"{where}: predictor kind must be 'rnn' or 'stateless'")
    seen = set()
    for entry in enc.time_reduction:
        if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(v, int) for v in entry)):
            raise InputError(f"{where}: time_reduction entries must be [after_layer, factor] integer pairs")
        after, factor = entry
        if not 0 <= after <= enc.num_layers or factor < 1 or after in seen:
            raise InputError(f"{where}: bad time_reduction entry [{after}, {factor}] "
                             f"(0 <= after_layer <= num_layers, factor >= 1, one entry per layer)")
        seen.add(after)
    for section, label in ((enc, "encoder"), (pred, "predictor")):
        if section.cell == "grc" and (section is enc or pred.kind == "rnn"):
            if section.groups < 6 or section.hidden_size % section.groups:
                raise InputError(f"{where}: [{label}] grc needs groups >= 6 dividing hidden_size")
        if section.cell == "sru" and section.proj_size and (section is enc or pred.kind == "rnn"):
            raise InputError(f"{where}: [{label}] sru has no projection; set proj_size = 0")
    if not 0.0 <= enc.dropout < 1.0 or not 0.0 <= pred.dropout < 1.0:
        raise InputError(f"{where}: dropout must be in [0, 1)")


SECTIONS = ("features", "encoder", "predictor", "joiner")


def config_differences(a: ModelConfig, b: ModelConfig, ignore: Iterable[str] = ()) -> list[str]:
    """Fields where two configs differ, flattened and in declaration order, e.g.
    ``["vocab_size 256 against 500", "encoder.cell lstm against grc"]``; names in ``ignore``
    (``"name"``, ``"encoder.dropout"``...) are skipped."""
    def flat(config: ModelConfig) -> dict[str, Any]:
        out = {f.name: getattr(config, f.name) for f in fields(config) if f.name not in SECTIONS}
        for section in SECTIONS:
            part = getattr(config, section)
            out.update({f"{section}.{f.name}": getattr(part, f.name) for f in fields(part)})
        return out

    skip, theirs, mine = set(ignore), flat(a), flat(b)
    return [f"{k} {theirs[k]} against {mine[k]}" for k in mine if k not in skip and theirs[k] != mine[k]]


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
