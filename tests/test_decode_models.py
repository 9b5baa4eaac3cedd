"""Shared helpers for the decode/recognizer/transcribe tests (no tests here).

Tiny random-weight transducers, so every test runs in well under a second.
The joiner's blank bias is raised so that random models emit a plausible
mix of blanks and tokens instead of ``max_symbols_per_frame`` tokens per frame.
"""
from __future__ import annotations

import numpy as np
import torch

from memasr.model.config import EncoderConfig, JoinerConfig, ModelConfig, PredictorConfig
from memasr.model.transducer import Transducer, build_model


def tiny_config(kind: str = "lstm", schedule: str = "chunk:4", vocab: int = 24) -> ModelConfig:
    """``lstm``: LSTMP encoder (x2 reduction after layer 1) + LSTM predictor (baseline-like);
    ``grc``: GRC encoder with layer norm (x2 after layer 1) + stateless predictor (optimized-like)."""
    if kind == "lstm":
        enc = EncoderConfig(cell="lstm", num_layers=3, hidden_size=48, proj_size=24, time_reduction=[[1, 2]])
        pred = PredictorConfig(kind="rnn", cell="lstm", hidden_size=32, proj_size=16, embed_dim=16)
    else:
        enc = EncoderConfig(cell="grc", num_layers=3, hidden_size=48, proj_size=24, groups=8,
                            time_reduction=[[1, 2]], layer_norm=True)
        pred = PredictorConfig(kind="stateless", embed_dim=24, context_size=2)
    return ModelConfig(name=f"tiny-{kind}", vocab_size=vocab, schedule=schedule, encoder=enc, predictor=pred,
                       joiner=JoinerConfig(dim=24))


def tiny_model(kind: str = "lstm", seed: int = 0, blank_rate: float = 0.5, schedule: str = "chunk:4",
               weight_scale: float = 8.0) -> Transducer:
    """Random weights; CMVN fitted on speech-like audio; joiner output weights scaled up so the
    choices depend on the input, and the blank bias set so that blank wins about
    ``blank_rate`` of the frames of that audio (at the start state)."""
    from memasr.data.features import LogMel

    torch.manual_seed(seed)
    model = build_model(tiny_config(kind, schedule)).eval()
    calib = LogMel()(torch.from_numpy(speechlike(3.0, seed=99)))
    model.normalizer.fit([calib])  # inputs ~ N(0, 1)
    with torch.no_grad():
        model.joiner.output.weight.mul_(weight_scale)
        model.joiner.predictor_proj.weight.mul_(0.3)  # let the audio, not the last token, drive choices
        enc, _ = model.transcribe(calib[None], torch.tensor([calib.shape[0]]))
        start = torch.zeros(1, 1, dtype=torch.long)
        pred, _, _ = model.predict(start, torch.ones(1))
        logits = model.joiner.joint(model.joiner.project_encoder(enc[0]), model.joiner.project_predictor(pred[0]))
        margin = logits[:, 1:].max(-1).values - logits[:, 0]
        model.joiner.output.bias[0] += float(torch.quantile(margin, blank_rate))
    return model


def speechlike(seconds: float = 2.0, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """Band-limited (< 3.5 kHz) noise bursts with harmonics and pauses, float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = np.zeros_like(t)
    for f0 in rng.uniform(100, 300, 4):
        for h in range(1, 8):
            if f0 * h < 3500:
                x += np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.28)) / h
    envelope = (np.sin(2 * np.pi * 1.7 * t) > -0.2).astype(float) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.3 * t))
    x = x * envelope
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def decode_all(recognizer, audio: np.ndarray, sr: int = 16000, pieces: list[int] | None = None):
    """Feed ``audio`` (in ``pieces`` sample counts if given), finish, decode everything."""
    s = recognizer.create_stream()
    if pieces is None:
        s.accept_waveform(sr, audio)
    else:
        start = 0
        for n in pieces:
            s.accept_waveform(sr, audio[start:start + n])
            start += n
            while recognizer.is_ready(s):
                recognizer.decode_stream(s)
        s.accept_waveform(sr, audio[start:])
    s.input_finished()
    while recognizer.is_ready(s):
        recognizer.decode_stream(s)
    return s
