"""Run an exported memasr transducer with onnxruntime and numpy only (no torch import).

Usage::

    from memasr.deploy.ort_runtime import OnnxTransducer
    asr = OnnxTransducer("exported/")          # features/encoder/decoder/joiner.onnx + tokenizer.model
    text = asr.transcribe(samples, sample_rate=16000)

The encoder graph runs fixed layer-major chunks of ``chunk_frames`` stacked frames; the
last chunk is zero-padded and only its real output frames are searched, which gives the
same tokens as the torch runtime (greedy, ``max_symbols_per_frame`` per frame).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from memasr.data import framing

_DTYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64}


class OnnxTransducer:
    def __init__(self, directory: str | Path, int8: bool = False, threads: int = 1,
                 max_symbols_per_frame: int = 3) -> None:
        directory = Path(directory)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1

        def session(name: str) -> ort.InferenceSession:
            path = directory / (f"{name}.int8.onnx" if int8 and name != "features" else f"{name}.onnx")
            if not path.is_file():
                raise FileNotFoundError(f"{path} is missing: export with `memasr export`")
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        self.features_session, self.encoder, self.decoder, self.joiner = (
            session(n) for n in ("features", "encoder", "decoder", "joiner"))
        meta = self.encoder.get_modelmeta().custom_metadata_map
        if meta.get("model_type") != "memasr-transducer":
            raise ValueError(f"{directory} does not hold a memasr export")
        self.chunk = int(meta["chunk_frames"])
        self.reduction = int(meta["total_reduction"])
        self.stack_frames = int(meta["stack_frames"])
        self.stack_stride = int(meta["stack_stride"])
        self.blank = int(meta["blank_id"])
        feats = json.loads(meta["features"])
        self.sample_rate, self.win, self.hop = feats["sample_rate"], feats["win_length"], feats["hop_length"]
        self.n_mels = feats["n_mels"]
        self.snip_edges = feats.get("snip_edges", True)  # exports from before the field snipped
        self.max_symbols = max_symbols_per_frame
        self.tokenizer = None
        if (directory / "tokenizer.model").is_file():
            import sentencepiece as spm

            self.tokenizer = spm.SentencePieceProcessor(model_file=str(directory / "tokenizer.model"))

    @staticmethod
    def _zeros(session: ort.InferenceSession, batch: int = 1) -> list[np.ndarray]:
        """Zero states shaped like the session's state inputs (first dim = batch)."""
        states = []
        for spec in session.get_inputs()[1:]:
            shape = [batch] + [d if isinstance(d, int) else 1 for d in spec.shape[1:]]
            states.append(np.zeros(shape, dtype=_DTYPES[spec.type]))
        return states

    def compute_features(self, samples: np.ndarray) -> np.ndarray:
        """``samples [n]`` at 16 kHz -> normalized log-mel ``[F, n_mels]``."""
        count = framing.num_frames(len(samples), self.win, self.hop, self.snip_edges)
        if count == 0:
            return np.zeros((0, self.n_mels), np.float32)
        idx = framing.frame_indices(len(samples), self.win, self.hop, self.snip_edges, 0, count)
        frames = samples.astype(np.float32)[idx]
        return self.features_session.run(None, {"frames": np.ascontiguousarray(frames)})[0]

    def _stack(self, feats: np.ndarray) -> np.ndarray:
        count = (len(feats) - self.stack_frames) // self.stack_stride + 1 if len(feats) >= self.stack_frames else 0
        idx = np.arange(count)[:, None] * self.stack_stride + np.arange(self.stack_frames)[None, :]
        return feats[idx].reshape(count, self.stack_frames * self.n_mels)

    def transcribe_ids(self, samples: np.ndarray, sample_rate: int = 16000) -> list[int]:
        if sample_rate != self.sample_rate:
            import soxr

            samples = soxr.resample(samples, sample_rate, self.sample_rate)
        stacked = self._stack(self.compute_features(samples))
        enc_state = self._zeros(self.encoder)
        dec_state = self._zeros(self.decoder)
        pred_proj, *dec_state = self.decoder.run(None, self._decoder_feed(np.array([self.blank]), dec_state))
        tokens: list[int] = []
        for start in range(0, len(stacked), self.chunk):
            piece = stacked[start:start + self.chunk]
            valid = -(-len(piece) // self.reduction)  # output frames backed by real input
            x = np.zeros((1, self.chunk, stacked.shape[1]), np.float32)
            x[0, :len(piece)] = piece
            enc_proj, *enc_state = self.encoder.run(None, {"x": x, **{f"state{i}": s for i, s in enumerate(enc_state)}})
            for t in range(valid):
                for _ in range(self.max_symbols):
                    logits = self.joiner.run(None, {"enc_proj": enc_proj[:, t], "pred_proj": pred_proj})[0]
                    best = int(logits[0].argmax())
                    if best == self.blank:
                        break
                    tokens.append(best)
                    pred_proj, *dec_state = self.decoder.run(None, self._decoder_feed(np.array([best]), dec_state))
        return tokens

    def _decoder_feed(self, tokens: np.ndarray, state: list[np.ndarray]) -> dict:
        return {"tokens": tokens.astype(np.int64), **{f"state{i}": s for i, s in enumerate(state)}}

    def transcribe(self, samples: np.ndarray, sample_rate: int = 16000) -> str:
        ids = self.transcribe_ids(samples, sample_rate)
        if self.tokenizer is None:
            return " ".join(map(str, ids))
        return self.tokenizer.decode([i - 1 for i in ids])  # model ids are sentencepiece ids + 1
