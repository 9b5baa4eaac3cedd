"""Trace mode end to end: run the real streaming runtime on audio with a recorder,
replay the trace, and set it beside the analytic figure at the same operating point."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from memasr.memory.analysis import Analysis, analyze
from memasr.memory.hardware import HardwareProfile
from memasr.memory.schedule import Schedule
from memasr.memory.trace import SimulationResult, TraceRecorder, simulate
from memasr.memory.workload import extract_workload
from memasr.model.transducer import Transducer


@dataclass
class TraceReport:
    audio_seconds: float
    analytic: Analysis  # at the measured operating point
    lru: SimulationResult
    belady: SimulationResult
    recorder: TraceRecorder

    @property
    def traced_offchip_bytes_per_s(self) -> float:
        return self.lru.offchip_bytes / self.audio_seconds

    @property
    def belady_offchip_bytes_per_s(self) -> float:
        return self.belady.offchip_bytes / self.audio_seconds

    @property
    def agreement(self) -> float:
        """Traced (LRU) over analytic off-chip bytes per second."""
        return self.traced_offchip_bytes_per_s / self.analytic.traffic.offchip_bytes_per_s

    @property
    def symbols_per_frame(self) -> float:
        frames = self.analytic.workload.encoder_out_rate * self.audio_seconds
        return self.recorder.tokens / frames if frames else 0.0


def trace_run(model: Transducer, audio: np.ndarray, profile: HardwareProfile, schedule: Schedule,
              sample_rate: int = 16000, max_symbols_per_frame: int = 3) -> TraceReport:
    """Stream ``audio`` (float32, mono) through ``model`` under ``schedule`` and compare."""
    from memasr.data.features import LogMel
    from memasr.decode.runtime import StreamingRuntime

    features = LogMel(model.config.features)(torch.as_tensor(audio, dtype=torch.float32))
    enc = model.config.encoder
    # Trim to whole chunks so per-second rates compare like with like (no partial last chunk).
    unit = (schedule.chunk_frames if schedule.layer_major else enc.total_reduction) * enc.stack_stride
    overlap = enc.stack_frames - enc.stack_stride  # stacked frame j spans j*stride .. j*stride+stack-1
    usable = (features.shape[0] - overlap) // unit * unit + overlap
    if usable > overlap:
        features = features[:usable]
    runtime = StreamingRuntime(model, schedule, max_symbols_per_frame)
    recorder = TraceRecorder()
    runtime.run_features(features, recorder)
    # Per-second rates use the audio the encoder actually consumed (whole stacked frames).
    frames = int(np.ceil(((features.shape[0] - enc.stack_frames) // enc.stack_stride + 1) / enc.total_reduction))
    seconds = frames * enc.total_reduction * model.config.input_frame_ms / 1000.0
    analytic, lru, belady = replay(model, recorder, seconds, profile, schedule)
    return TraceReport(seconds, analytic, lru, belady, recorder)


def replay(model: Transducer, recorder: TraceRecorder, seconds: float, profile: HardwareProfile,
           schedule: Schedule, policies: tuple[str, ...] = ("lru", "belady"), beam: int = 1
           ) -> tuple[Analysis, SimulationResult, SimulationResult | None]:
    """Analytic figure at the run's measured operating point, and the trace replayed with the
    same pinned set (LRU, plus Belady unless left out of ``policies``)."""
    workload = extract_workload(model)
    analytic = analyze(workload, profile, schedule, recorder.operating_point(seconds, beam))
    pinned = analytic.traffic.pinned_names
    lru = simulate(recorder.events, workload, profile, schedule, pinned, "lru", analytic.op)
    belady = simulate(recorder.events, workload, profile, schedule, pinned, "belady", analytic.op) \
        if "belady" in policies else None
    return analytic, lru, belady
