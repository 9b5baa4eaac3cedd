"""The streaming recognizer, with sherpa-onnx's API names.

Typical use::

    rec = Recognizer.from_pretrained("exp/model")
    s = rec.create_stream()
    for block in blocks:                      # any rate, float or int16, mono or [n, channels]
        s.accept_waveform(sample_rate, block)
        while rec.is_ready(s):
            rec.decode_stream(s)              # or rec.decode_streams([s1, s2, ...])
        if rec.is_endpoint(s):
            print(rec.get_result(s).text)
            rec.reset(s)
    s.input_finished()
    while rec.is_ready(s):
        rec.decode_stream(s)
    print(rec.get_result(s).text)

Pipeline of a stream: mono float32 -> soxr streaming resampler to 16 kHz ->
streaming log-mel (frame-exact with the whole-utterance front end) -> the
model's CMVN -> incremental frame stacking -> encoder in pieces of the
schedule's step (a chunk of N stacked frames for ``chunk:N``, one reduction
group for ``frame``) -> joiner encoder projection -> search. At
:meth:`OnlineStream.input_finished` the remaining stacked frames are zero-padded
to a multiple of the time reduction, exactly as :meth:`Transducer.transcribe`
pads a whole utterance, so streaming decoding equals full-utterance decoding.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from memasr.data.audio import DEFAULT_SR, StreamingResampler, to_mono_float
from memasr.data.features import StreamingLogMel
from memasr.decode.fusion import ShallowFusion
from memasr.decode.runtime import METHODS, RuntimeState, StreamingRuntime, stack_runtime_states, \
    unstack_runtime_state
from memasr.errors import InputError
from memasr.memory.schedule import parse_schedule
from memasr.model.encoder import stack_frames
from memasr.model.tracing import WeightTracer
from memasr.model.transducer import Transducer

if TYPE_CHECKING:
    from memasr.lm.ngram import NgramLM

DEFAULT_MODEL_DIR = "pretrained/default"
MODEL_LM = "model"  # RecognizerConfig.lm / --lm value: the LM file shipped in the model directory


@dataclass
class EndpointRule:
    """Fires when all hold: tokens were decoded (if ``must_contain_nonsilence``), the
    trailing silence (time since the last token, or since the segment start when there is
    none) is >= ``min_trailing_silence`` s, and the segment is >= ``min_utterance_length`` s."""

    must_contain_nonsilence: bool
    min_trailing_silence: float
    min_utterance_length: float

    def fires(self, trailing_silence: float, utterance_length: float, has_tokens: bool) -> bool:
        return ((has_tokens or not self.must_contain_nonsilence)
                and trailing_silence >= self.min_trailing_silence
                and utterance_length >= self.min_utterance_length)


@dataclass
class EndpointConfig:
    """sherpa-onnx's three default rules: long silence with nothing said, shorter silence
    after speech, and a maximum segment length."""

    rule1: EndpointRule = field(default_factory=lambda: EndpointRule(False, 2.4, 0.0))
    rule2: EndpointRule = field(default_factory=lambda: EndpointRule(True, 1.2, 0.0))
    rule3: EndpointRule = field(default_factory=lambda: EndpointRule(False, 0.0, 20.0))

    def detected(self, trailing_silence: float, utterance_length: float, has_tokens: bool) -> bool:
        return any(r.fires(trailing_silence, utterance_length, has_tokens) for r in (self.rule1, self.rule2, self.rule3))


@dataclass
class RecognizerConfig:
    schedule: str | None = None  # None: the model's own schedule (config.schedule)
    decoding_method: str = "greedy"  # greedy | modified_beam_search | beam_search
    max_active_paths: int = 4
    max_symbols_per_frame: int = 3
    enable_endpoint: bool = True
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    # shallow fusion (beam searches only): an ARPA n-gram over the model's pieces (path, a
    # loaded memasr.lm.NgramLM, or MODEL_LM for the one shipped in the model directory) and its
    # weight; see memasr.decode.fusion
    lm: str | NgramLM | None = None
    lm_scale: float = 0.0
    length_bonus: float = 0.0  # with an LM: added to the fused score per emitted token


@dataclass
class RecognitionResult:
    text: str
    tokens: list[str]  # token pieces (ids as strings without a tokenizer)
    token_ids: list[int]
    timestamps: list[float]  # seconds from the start of the stream, one per token
    segment: int  # how many times the stream was reset before this result
    start_time: float  # seconds from the start of the stream to this segment's start

    def as_dict(self) -> dict:
        return {"text": self.text, "tokens": self.tokens, "timestamps": self.timestamps,
                "segment": self.segment, "start_time": self.start_time}


class OnlineStream:
    """One audio stream's front-end buffers and decoder state. Create with
    :meth:`Recognizer.create_stream`."""

    def __init__(self, recognizer: "Recognizer") -> None:
        self._rec = recognizer
        model = recognizer.model
        enc = model.config.encoder
        self._fbank = StreamingLogMel(recognizer.feature_config)
        self._resampler: StreamingResampler | None = None
        self._stack, self._stride = enc.stack_frames, enc.stack_stride
        self._feats = torch.zeros(0, enc.input_dim)  # normalized features not yet fully stacked
        self._pending = torch.zeros(0, enc.stack_frames * enc.input_dim)  # stacked frames not yet encoded
        self._finished = False
        self._flushed = False  # final padded piece queued
        self.num_samples = 0  # 16 kHz samples accepted
        runtime = recognizer.runtime
        self.state: RuntimeState = runtime.init_state(1, recognizer.tracer)
        self.state.encoder = model.encoder.init_state(1)
        self.segment = 0
        self._segment_start_frame = 0  # encoder-output frame where the current segment starts

    # --- input ---------------------------------------------------------------------
    def accept_waveform(self, sample_rate: int, samples) -> None:
        """Feed samples: ``[n]`` or ``[n, channels]``, float in [-1, 1] or int16/int32 PCM,
        at any positive sample rate (the rate must stay the same within a stream)."""
        if self._finished:
            raise InputError("accept_waveform() after input_finished()")
        if isinstance(samples, Tensor):
            samples = samples.detach().cpu().numpy()
        x = to_mono_float(np.asarray(samples), source="accept_waveform")
        if self._resampler is None:
            rate = sample_rate
            if isinstance(rate, float) and rate.is_integer():
                rate = int(rate)
            self._resampler = StreamingResampler(rate, DEFAULT_SR)
        elif int(sample_rate) != self._resampler.sr_in:
            raise InputError(f"sample rate changed within a stream ({self._resampler.sr_in} -> {sample_rate})")
        self._add_samples(self._resampler.accept(x))

    def input_finished(self) -> None:
        """No more audio: drain the resampler and queue the final (padded) piece."""
        if self._finished:
            return
        if self._resampler is not None:
            self._add_samples(self._resampler.flush())
        self._add_features(self._fbank.flush())  # frames mirrored past the end (snip_edges = False)
        self._finished = True

    @property
    def finished(self) -> bool:
        return self._finished

    def _add_samples(self, x: np.ndarray) -> None:
        if x.size == 0:
            return
        self.num_samples += x.size
        self._add_features(self._fbank.accept(torch.from_numpy(np.ascontiguousarray(x))))

    def _add_features(self, feats: Tensor) -> None:
        if feats.shape[0] == 0:
            return
        model = self._rec.model
        buf = torch.cat([self._feats, model.normalizer(feats)]) if self._feats.numel() else model.normalizer(feats)
        stacked, _ = stack_frames(buf[None], torch.tensor([buf.shape[0]]), self._stack, self._stride)
        made = stacked.shape[1]
        if made:
            self._pending = torch.cat([self._pending, stacked[0]])
        self._feats = buf[made * self._stride:].clone()

    # --- decoding helpers (used by the Recognizer) -----------------------------------
    def _ready_frames(self, step: int) -> int:
        """Stacked frames the next decode step takes (0: not ready)."""
        n = self._pending.shape[0]
        if n >= step:
            return step
        return n if self._finished and n > 0 else 0

    def _take(self, count: int, reduction: int) -> Tensor:
        piece, self._pending = self._pending[:count], self._pending[count:]
        pad = (-piece.shape[0]) % reduction
        if pad:  # only the last piece of a finished stream
            piece = torch.nn.functional.pad(piece, (0, 0, 0, pad))
        return piece

    @property
    def frames_done(self) -> int:
        dec = self.state.decoder
        return dec.frames_done[0] if hasattr(dec, "frames_done") else dec[0].frames_done


class Recognizer:
    """Streaming transducer recognizer. ``Recognizer(model, tokenizer, config)`` or
    :meth:`from_pretrained`. ``tracer`` (a :class:`memasr.memory.trace.TraceRecorder`)
    records every weight use of every decode call while set."""

    def __init__(self, model: Transducer, tokenizer=None, config: RecognizerConfig | None = None,
                 tracer: WeightTracer | None = None) -> None:
        self.config = config or RecognizerConfig()
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.tracer = tracer
        if self.config.decoding_method not in METHODS:
            raise InputError(f"unknown decoding method {self.config.decoding_method!r}; "
                             f"choose from {', '.join(METHODS)}")
        schedule = parse_schedule(self.config.schedule or model.config.schedule)
        lm = self._load_lm(self.config.lm, tokenizer)
        self.fusion = ShallowFusion(lm, self.config.lm_scale, self.config.length_bonus) if lm is not None else None
        self.runtime = StreamingRuntime(model, schedule, self.config.max_symbols_per_frame,
                                        self.config.decoding_method, self.config.max_active_paths, self.fusion)
        enc = model.config.encoder
        self.feature_config = model.config.features
        self.frame_seconds = enc.total_reduction * enc.stack_stride * self.feature_config.hop_ms / 1000.0

    @staticmethod
    def _load_lm(lm, tokenizer):
        """``config.lm`` (None, an ARPA path or an ``NgramLM``) checked against the tokenizer."""
        if lm is None:
            return None
        if lm == MODEL_LM:
            raise InputError(f"lm={MODEL_LM!r} (the model's own LM) needs Recognizer.from_pretrained")
        from memasr.lm.ngram import NgramLM

        if tokenizer is None:
            raise InputError("an external LM needs the model's tokenizer (tokenizer.model)")
        if isinstance(lm, NgramLM):
            lm.check_tokenizer(tokenizer)
            return lm
        return NgramLM.read_arpa(lm, tokenizer)  # InputError: missing file, words not pieces

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None, config: RecognizerConfig | None = None
                        ) -> "Recognizer":
        """Load a checkpoint directory (``None``: the model bundled with memasr)."""
        from memasr.model.checkpoint import load_pretrained

        if directory is None:
            bundled = resources.files("memasr") / DEFAULT_MODEL_DIR
            if not (bundled / "config.toml").is_file():
                raise InputError("no default model is bundled with memasr yet; pass a model directory "
                                 "(e.g. --model DIR, as written by `memasr train`)")
            directory = Path(str(bundled))
        model, tokenizer = load_pretrained(directory)
        if config is not None and config.lm == MODEL_LM:
            from memasr.model.checkpoint import LM_FILE

            shipped = Path(directory) / LM_FILE
            if not shipped.is_file():
                raise InputError(f"{directory} ships no language model ({LM_FILE}); give --lm an ARPA file "
                                 f"(memasr lm builds one)")
            config = dataclasses.replace(config, lm=str(shipped))
        return cls(model, tokenizer, config)

    @property
    def schedule(self):
        return self.runtime.schedule

    def create_stream(self) -> OnlineStream:
        return OnlineStream(self)

    def is_ready(self, stream: OnlineStream) -> bool:
        return stream._ready_frames(self.runtime.step_frames) > 0

    def decode_stream(self, stream: OnlineStream) -> None:
        """Decode one step (a chunk, or one reduction group for ``frame``) if it is ready."""
        self.decode_streams([stream])

    @torch.no_grad()
    def decode_streams(self, streams: list[OnlineStream]) -> None:
        """Decode one step of every ready stream; streams whose steps have the same length
        run as one batch (batched encoder, batched greedy / modified beam search)."""
        step = self.runtime.step_frames
        reduction = self.model.encoder.total_reduction
        groups: dict[int, list[OnlineStream]] = {}
        for s in streams:
            n = s._ready_frames(step)
            if n:
                groups.setdefault(n, []).append(s)
        for count, group in groups.items():
            x = torch.stack([s._take(count, reduction) for s in group])
            state = stack_runtime_states([s.state for s in group], self.model) if len(group) > 1 else group[0].state
            state = self.runtime.process(x, state, self.tracer)
            if len(group) > 1:
                for s, st in zip(group, unstack_runtime_state(state)):
                    s.state = st
            else:
                group[0].state = state

    def get_result(self, stream: OnlineStream) -> RecognitionResult:
        # the LM's end-of-sentence term counts once the stream has ended and is fully decoded
        final = stream.finished and not self.is_ready(stream)
        tokens, frames, _ = self.runtime.best_tokens(stream.state, final=final)
        if self.tokenizer is not None:
            text = self.tokenizer.decode(tokens)
            pieces = [self.tokenizer.id_to_piece(t) for t in tokens]
        else:
            pieces = [str(t) for t in tokens]
            text = " ".join(pieces)
        return RecognitionResult(text, pieces, tokens, [round(f * self.frame_seconds, 3) for f in frames],
                                 stream.segment, round(stream._segment_start_frame * self.frame_seconds, 3))

    def score(self, stream: OnlineStream) -> float:
        """Acoustic log-probability score of the best hypothesis (sum over its merged alignment
        paths; with an LM the hypothesis is chosen by the fused score)."""
        return self.runtime.best_tokens(stream.state)[2]

    def is_endpoint(self, stream: OnlineStream) -> bool:
        if not self.config.enable_endpoint:
            return False
        tokens, frames, _ = self.runtime.best_tokens(stream.state)
        done = stream.frames_done
        last = frames[-1] + 1 if frames else stream._segment_start_frame
        trailing = (done - last) * self.frame_seconds
        length = (done - stream._segment_start_frame) * self.frame_seconds
        return self.config.endpoint.detected(trailing, length, bool(frames))

    def reset(self, stream: OnlineStream) -> None:
        """Start a new segment (after an endpoint): the result is cleared and the search
        restarts from the start symbol; audio buffers and the encoder state carry on."""
        done = stream.frames_done
        fresh = self.runtime.init_state(1, self.tracer)
        if hasattr(fresh.decoder, "frames_done"):
            fresh.decoder.frames_done = [done]
        else:
            fresh.decoder[0].frames_done = done
        stream.state = RuntimeState(stream.state.encoder, fresh.decoder)
        stream._segment_start_frame = done
        stream.segment += 1
