"""Workload extraction: every weight tensor of a memasr model, its role and its rate.

Roles (DESIGN.md section 3):

* ``batchable`` — applied to inputs only; one fetch can serve a whole chunk;
* ``recurrent`` — needed at every sequential step of its layer;
* ``predictor`` — per emitted token per hypothesis;
* ``joiner`` — per (frame, hypothesis, symbol step).

Rates are invocations per second of audio, derived from the stacked-frame rate,
the time reductions before each layer, the token rate and the beam width.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from memasr.model.config import ModelConfig
from memasr.model.transducer import Transducer, build_model

ENCODER_OUT = "encoder_out"
PREDICTOR = "predictor"
JOINER = "joiner"
DECODER_PASS = ("decoder", 0)


def layer_rate_key(layer: int) -> str:
    return f"layer:{layer}"


@dataclass(frozen=True)
class WeightTensor:
    name: str
    component: str  # encoder | predictor | joiner
    layer: int  # encoder layer index (num_layers = output projection); 0 for the decoder
    role: str  # batchable | recurrent | predictor | joiner
    numel: int
    rate: str  # key into OperatingPoint rates
    rows: int = 1  # > 1 for an embedding table, which is read by row
    rows_per_use: int = 1  # embedding rows one use reads (a stateless predictor reads its context)

    @property
    def use_numel(self) -> int:
        """Elements read per use: a whole matrix, or the embedding rows it looks up."""
        return self.numel // self.rows * (self.rows_per_use if self.rows > 1 else 1)

    @property
    def macs_per_use(self) -> int:
        # A matrix-vector product does one MAC per weight; embedding lookups and
        # element-wise vectors (biases, norms) are negligible and counted as 0.
        return self.numel if self.rows == 1 and self.is_matrix else 0

    @property
    def is_matrix(self) -> bool:
        return not self.name.endswith(("bias", ".b", ".v")) and ".norm." not in self.name

    def pass_key(self) -> tuple[str, int]:
        return ("encoder", self.layer) if self.component == "encoder" else DECODER_PASS


@dataclass(frozen=True)
class LayerPass:
    """Activation footprint of one encoder layer (per stream, per frame at that layer)."""

    layer: int
    in_dim: int
    out_dim: int
    state_numel: int


@dataclass
class Workload:
    name: str
    tensors: list[WeightTensor]
    passes: list[LayerPass]
    input_frame_rate: float  # encoder-input (stacked) frames per second
    input_frame_ms: float
    reduction_before: list[int]  # cumulative time reduction seen by each encoder layer (+ output)
    total_reduction: int
    encoder_out_dim: int
    joiner_dim: int
    num_classes: int
    predictor_state_numel: int
    predictor_out_dim: int
    params: int = 0
    default_schedule: str = "frame"
    extra: dict = field(default_factory=dict)

    def layer_frame_rate(self, layer: int) -> float:
        return self.input_frame_rate / self.reduction_before[layer]

    @property
    def encoder_out_rate(self) -> float:
        return self.input_frame_rate / self.total_reduction


@dataclass(frozen=True)
class OperatingPoint:
    """Decoding activity. ``*_calls_per_s`` override the estimates from token rate and beam
    (the trace mode measures them)."""

    token_rate: float = 4.0
    beam: int = 1
    predictor_calls_per_s: float | None = None
    joiner_calls_per_s: float | None = None

    def rates(self, workload: Workload) -> dict[str, float]:
        rates = {layer_rate_key(i): workload.layer_frame_rate(i) for i in range(len(workload.reduction_before))}
        rates[ENCODER_OUT] = workload.encoder_out_rate
        # greedy: one predictor call per emitted token; one joiner call per frame plus one per token
        rates[PREDICTOR] = self.predictor_calls_per_s if self.predictor_calls_per_s is not None \
            else self.beam * self.token_rate
        rates[JOINER] = self.joiner_calls_per_s if self.joiner_calls_per_s is not None \
            else self.beam * (workload.encoder_out_rate + self.token_rate)
        return rates


def _encoder_tensors(model: Transducer) -> list[WeightTensor]:
    tensors = []
    params = dict(model.named_parameters())
    for index, layer in enumerate(model.encoder.layers):
        groups = layer.tensor_groups()
        for role, names in (("batchable", groups["input"]), ("recurrent", groups["recurrent"]),
                            ("batchable", groups["output"])):
            tensors += [WeightTensor(n, "encoder", index, role, params[n].numel(), layer_rate_key(index))
                        for n in names]
    out_layer = len(model.encoder.layers)
    tensors += [WeightTensor(n, "encoder", out_layer, "batchable", params[n].numel(), layer_rate_key(out_layer))
                for n in model.encoder.output_tensors()]
    return tensors


def _decoder_tensors(model: Transducer) -> list[WeightTensor]:
    tensors = []
    for name, p in model.predictor.named_parameters():
        full = f"predictor.{name}"
        embedding = name.startswith("embedding.")
        tensors.append(WeightTensor(full, "predictor", 0, "predictor", p.numel(), PREDICTOR,
                                    p.shape[0] if embedding else 1,
                                    model.predictor.rows_per_call if embedding else 1))
    for name, p in model.joiner.named_parameters():
        full = f"joiner.{name}"
        if name.startswith("encoder_proj."):
            # applied once per encoder output frame, on inputs only: chunk-batchable
            tensors.append(WeightTensor(full, "joiner", 0, "batchable", p.numel(), ENCODER_OUT))
        elif name.startswith("predictor_proj."):
            tensors.append(WeightTensor(full, "joiner", 0, "predictor", p.numel(), PREDICTOR))
        else:
            tensors.append(WeightTensor(full, "joiner", 0, "joiner", p.numel(), JOINER))
    return tensors


def extract_workload(model: Transducer | ModelConfig) -> Workload:
    """Workload of a model instance or config (a config is built on the meta device: no memory)."""
    if isinstance(model, ModelConfig):
        with torch.device("meta"):
            model = build_model(model)
    config = model.config
    enc = model.encoder
    reduction_before, current = [], enc.reduction_after.get(0, 1)
    passes = []
    for index, layer in enumerate(enc.layers):
        reduction_before.append(current)
        passes.append(LayerPass(index, layer.cell.input_size, layer.cell.output_size, layer.cell.state_numel()))
        current *= enc.reduction_after.get(index + 1, 1)
    reduction_before.append(current)  # the optional output projection
    if enc.output_proj is not None:
        passes.append(LayerPass(len(enc.layers), enc.output_proj.in_features, enc.output_proj.out_features, 0))
    pred_state = sum(s[0].numel() for s in model.predictor.init_state(1, torch.device("meta")))
    return Workload(
        name=config.name,
        tensors=_encoder_tensors(model) + _decoder_tensors(model),
        passes=passes,
        input_frame_rate=1000.0 / config.input_frame_ms,
        input_frame_ms=config.input_frame_ms,
        reduction_before=reduction_before,
        total_reduction=enc.total_reduction,
        encoder_out_dim=enc.output_dim,
        joiner_dim=config.joiner.dim,
        num_classes=config.num_classes,
        predictor_state_numel=pred_state,
        predictor_out_dim=model.predictor.output_size,
        params=sum(p.numel() for p in model.parameters()),
        default_schedule=config.schedule,
    )
