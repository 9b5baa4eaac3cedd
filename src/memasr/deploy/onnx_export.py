"""Export a memasr transducer to ONNX: four small graphs plus metadata.

Like icefall's exporter, projections are folded next to the parts that use them,
so a runtime never recomputes them:

* ``features.onnx``  — framed samples ``frames [F, win]`` -> normalized log-mel ``[F, n_mels]``.
  The real FFT is written as a matmul with a DFT basis, so no FFT operator is needed;
* ``encoder.onnx``   — one layer-major chunk ``x [1, N, stack*n_mels]`` and the recurrent
  states -> ``enc_proj [1, N/R, J]`` (joiner encoder projection folded in) and new states;
* ``decoder.onnx``   — ``tokens [B]`` and predictor states -> ``pred_proj [B, J]`` and new states;
* ``joiner.onnx``    — ``enc_proj [B, J], pred_proj [B, J] -> logits [B, V+1]``.

Every graph carries the same key/value metadata (model type, chunk, reduction, stacking,
feature settings, state names), so :mod:`memasr.deploy.ort_runtime` needs nothing else.
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import torch
from torch import Tensor, nn

from memasr.atomic import atomic_directory
from memasr.data.features import FeatureConfig, _FrameKernel
from memasr.errors import InputError
from memasr.memory.schedule import parse_schedule
from memasr.model.transducer import Transducer

OPSET = 17
GRAPHS = ("features", "encoder", "decoder", "joiner")


class FeatureGraph(nn.Module):
    """The front end of :class:`memasr.data.features.LogMel` followed by the model's CMVN."""

    def __init__(self, config: FeatureConfig, normalizer: nn.Module) -> None:
        super().__init__()
        kernel = _FrameKernel(config)
        self.config = config
        win, n_fft = config.win_length, config.n_fft
        k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)
        n = torch.arange(win, dtype=torch.float64)
        angle = 2 * math.pi * n[:, None] * k[None, :] / n_fft  # zero padding: only the first `win` rows
        window = kernel.window.double()[:, None]
        self.register_buffer("cos_basis", (window * torch.cos(angle)).float())
        self.register_buffer("sin_basis", (window * torch.sin(angle)).float())
        self.register_buffer("fbank", kernel.fbank.float())
        self.register_buffer("mean", normalizer.mean.clone())
        self.register_buffer("std", normalizer.std.clone())

    def forward(self, frames: Tensor) -> Tensor:
        cfg = self.config
        if cfg.remove_dc_offset:
            frames = frames - frames.mean(dim=-1, keepdim=True)
        if cfg.preemphasis > 0:
            prev = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)
            frames = frames - cfg.preemphasis * prev
        real, imag = frames @ self.cos_basis, frames @ self.sin_basis
        mel = (real.square() + imag.square()) @ self.fbank
        return (mel.clamp_min(cfg.log_floor).log() - self.mean) / self.std


def _flat_encoder_state(model: Transducer) -> list[Tensor]:
    return [s for layer in model.encoder.init_state(1) for s in layer]


class EncoderGraph(nn.Module):
    def __init__(self, model: Transducer) -> None:
        super().__init__()
        self.model = model
        self.layout = [len(layer) for layer in model.encoder.init_state(1)]

    def forward(self, x: Tensor, *flat_state: Tensor):
        state, i = [], 0
        for count in self.layout:
            state.append(tuple(flat_state[i:i + count]))
            i += count
        enc, new_state = self.model.encoder.forward_streaming(x, state, layer_major=True)
        return (self.model.joiner.project_encoder(enc), *[s for layer in new_state for s in layer])


class DecoderGraph(nn.Module):
    def __init__(self, model: Transducer) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: Tensor, *state: Tensor):
        out, new_state = self.model.predictor(tokens[:, None], tuple(state))
        return (self.model.joiner.project_predictor(out[:, 0]), *new_state)


class JoinerGraph(nn.Module):
    def __init__(self, model: Transducer) -> None:
        super().__init__()
        self.model = model

    def forward(self, enc_proj: Tensor, pred_proj: Tensor) -> Tensor:
        return self.model.joiner.joint(enc_proj, pred_proj)


def _metadata(model: Transducer, chunk: int, features: FeatureConfig, n_enc: int, n_dec: int) -> dict[str, str]:
    enc = model.config.encoder
    return {"model_type": "memasr-transducer", "version": "1", "chunk_frames": str(chunk),
            "total_reduction": str(model.encoder.total_reduction), "stack_frames": str(enc.stack_frames),
            "stack_stride": str(enc.stack_stride), "vocab_size": str(model.config.vocab_size), "blank_id": "0",
            "encoder_states": str(n_enc), "decoder_states": str(n_dec), "model_name": model.config.name,
            "features": json.dumps({"sample_rate": features.sample_rate, "win_length": features.win_length,
                                    "hop_length": features.hop_length, "n_mels": features.n_mels,
                                    "snip_edges": features.snip_edges})}


def export_onnx(model: Transducer, out_dir: str | Path, chunk_frames: int | None = None,
                tokenizer_file: str | Path | None = None, int8: bool = False) -> Path:
    """Write the four graphs (and ``*.int8.onnx`` copies with ``int8``) to ``out_dir`` atomically."""
    import onnx

    model = model.eval()
    schedule = parse_schedule(model.config.schedule)
    chunk = chunk_frames or (schedule.chunk_frames if schedule.layer_major else model.encoder.total_reduction)
    if chunk % model.encoder.total_reduction:
        raise ValueError(f"chunk {chunk} is not a multiple of the time reduction {model.encoder.total_reduction}")
    features = model.config.features
    enc_state = _flat_encoder_state(model)
    dec_state = list(model.predictor.init_state(1))
    meta = _metadata(model, chunk, features, len(enc_state), len(dec_state))
    out_dir = Path(out_dir)
    if out_dir.exists() and not (out_dir.is_dir() and (not any(out_dir.iterdir()) or (out_dir / "encoder.onnx").is_file())):
        # never replace a folder that is not an earlier export (a checkpoint, a home folder...)
        raise InputError(f"{out_dir} exists and is not an empty folder or an earlier memasr export")
    with atomic_directory(out_dir) as tmp:
        enc_names = [f"state{i}" for i in range(len(enc_state))]
        dec_names = [f"state{i}" for i in range(len(dec_state))]
        specs = {
            "features": (FeatureGraph(features, model.normalizer), (torch.zeros(7, features.win_length),),
                         ["frames"], ["features"], {"frames": {0: "F"}, "features": {0: "F"}}),
            "encoder": (EncoderGraph(model), (torch.zeros(1, chunk, model.encoder.input_dim), *enc_state),
                        ["x", *enc_names], ["enc_proj", *[f"new_{n}" for n in enc_names]], {}),
            "decoder": (DecoderGraph(model), (torch.zeros(2, dtype=torch.long),
                                              *[torch.cat([s, s]) for s in dec_state]),
                        ["tokens", *dec_names], ["pred_proj", *[f"new_{n}" for n in dec_names]],
                        {n: {0: "B"} for n in ["tokens", "pred_proj", *dec_names, *[f"new_{n}" for n in dec_names]]}),
            "joiner": (JoinerGraph(model), (torch.zeros(2, model.config.joiner.dim),
                                            torch.zeros(2, model.config.joiner.dim)),
                       ["enc_proj", "pred_proj"], ["logits"], {n: {0: "B"} for n in ("enc_proj", "pred_proj", "logits")}),
        }
        for name, (module, inputs, in_names, out_names, axes) in specs.items():
            path = tmp / f"{name}.onnx"
            with torch.no_grad():
                torch.onnx.export(module, inputs, str(path), input_names=in_names, output_names=out_names,
                                  dynamic_axes=axes, opset_version=OPSET, dynamo=False)
            graph = onnx.load(str(path))
            for key, value in meta.items():
                graph.metadata_props.add(key=key, value=value)
            onnx.save(graph, str(path))
            if int8 and name != "features":
                from onnxruntime.quantization import QuantType, quantize_dynamic

                quantize_dynamic(str(path), str(tmp / f"{name}.int8.onnx"), weight_type=QuantType.QInt8)
        if tokenizer_file is not None:
            shutil.copyfile(tokenizer_file, tmp / "tokenizer.model")
    return out_dir
