"""The RNN-T trainer behind ``memasr train``.

One code path for a laptop CPU, one GPU and ``torchrun`` with DDP (gloo on CPU,
nccl on GPU): the process group is set up from torchrun's environment
variables when ``WORLD_SIZE > 1``.

Exact resume: batches are a pure function of ``(seed, epoch)`` (manifest) or of
the step (on-the-fly synthesis); SpecAugment and dropout are re-seeded from
``(seed, step, rank)`` at every step; the checkpoint holds model, CTC head,
optimizer, scheduler, grad scaler, RNG states and the data position. So a run
killed after step ``k`` and resumed produces the same losses from ``k + 1`` on
as an uninterrupted run (on the same device and thread count).

Output directory layout::

    OUT/tokenizer.model          SentencePiece model (trained here unless present)
    OUT/checkpoints/ckpt-*.pt    full trainer state, last N kept (atomic writes)
    OUT/best/                    best model by dev loss / WER (``load_pretrained``)
    OUT/final/                   model at the end of training (``load_pretrained``)
    OUT/train.csv, OUT/dev.csv   logs (+ OUT/tensorboard/ when tensorboard is installed)
"""
from __future__ import annotations

import copy
import csv
import dataclasses
import json
import math
import os
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from memasr.atomic import atomic_path
from memasr.data.tokenizer import MODEL_FILENAME, Tokenizer, normalize_text
from memasr.errors import InputError
from memasr.model.config import (ModelConfig, config_differences, config_from_dict, dump_config, load_config,
                                 load_preset)
from memasr.model.transducer import Transducer, build_model, count_parameters
from memasr.train import data as D
from memasr.train.loss import rnnt_loss
from memasr.train.pruned import PrunedLossConfig, PrunedLossHead

CKPT_DIR = "checkpoints"
CKPT_RE = re.compile(r"^ckpt-(\d{8})\.pt$")
TRAIN_CSV_FIELDS = ["step", "epoch", "loss", "rnnt", "ctc", "lr", "grad_norm", "utts", "tokens",
                    "audio_seconds", "audio_hours_total", "elapsed_s", "steps_per_s", "audio_s_per_s",
                    "padding", "data_wait"]
# padding: share of the window's padded feature frames that are padding; data_wait: share of the
# window's wall time the main process spent waiting for its next batch (high: the loader is the
# bottleneck, not the model's step)
INIT_SCOPES = ("model", "encoder", "widen")  # what --init-from brings
DEV_CSV_FIELDS = ["step", "dev_loss", "dev_wer", "dev_utts", "dev_words", "audio_hours_total", "elapsed_s"]


@dataclass
class TrainOptions:
    out: str
    train: str  # manifest path or "synth:"
    preset: str | None = None
    config: str | None = None
    dev: str | None = None
    steps: int | None = None
    epochs: float | None = None
    max_hours: float | None = None  # hours of training audio (all ranks together)
    max_wall_minutes: float | None = None
    batch_frames: int = 10000  # padded 10 ms frames per batch per process
    batch_tokens: int | None = None  # padded tokens per batch per process (None: frames alone)
    lr: float = 1e-3
    lr_schedule: str = "eden"  # "eden": warmup then ((s^2 + S^2) / S^2)^-0.25, independent of the run length;
    #                             "cosine": warmup then cosine to min_lr_ratio at the planned last step
    lr_decay_steps: int = 3000  # S of the eden schedule
    min_lr_ratio: float = 0.05
    warmup: int = 500
    weight_decay: float = 1e-2
    clip: float = 5.0
    ctc_weight: float = 0.3
    rnnt_weight: float = 1.0  # 0: CTC only (the encoder alone; predictor and joiner are skipped)
    loss: str = "pruned"  # transducer loss: "pruned" (simple + pruned, train/pruned.py) or "full"
    prune_range: int = 5
    # pruned-loss warm-up steps (simple loss first); None: PrunedLossConfig's 2000 for a fresh
    # head, 0 when --init-from brings a trained one (its bands are good; a ramp would waste the run)
    prune_warmup: int | None = None
    reg_start: int = 0  # step at which SpecAugment, dropout and waveform augmentation start ramping in
    reg_ramp: int = 0  # steps from nothing to full strength
    init_from: str | None = None  # model directory, run directory or ckpt-*.pt: weights only
    # what --init-from brings: "model" (every weight, the training heads and the tokenizer) or
    # "encoder" (CMVN and encoder only: predictor, joiner and heads start fresh, and a new
    # tokenizer of the config's vocab_size is trained, so another vocabulary can reuse an encoder)
    init_scope: str = "model"
    augment: bool = False  # waveform channel augmentation (memasr.data.augment) of training clips
    augment_scale: float = 1.0  # multiplies every augmentation probability (then the ramp does)
    speed_perturb: tuple[float, float] | None = None  # factor range (memasr.data.speed), from step 0
    dropout: float | None = None  # overrides the encoder's and predictor's dropout (None: the config's)
    spec_augment: bool = True
    freq_masks: int = 2
    freq_width: int = 27
    time_masks: int = 5
    time_width: int = 40
    seed: int = 0
    synth_seed: int | None = None  # default: seed
    synth_engines: list[str] | None = None
    synth_batch: int | None = None  # utterances per batch for synth: (default from batch_frames)
    cmvn_utts: int = 200
    num_workers: int | None = None  # default: 1 (CPU) / 4 (GPU)
    eval_every: int = 500
    save_every: int = 500
    keep: int = 3
    best_metric: str = "loss"  # "loss" or "wer"
    dev_max_utts: int = 0  # 0 = whole dev set
    log_every: int = 10
    resume: str | None = None  # None, "auto" (latest in OUT/checkpoints) or a checkpoint file
    device: str = "auto"
    threads: int | None = None  # CPU threads per process (default: cores / local processes)
    amp: bool = True
    # bfloat16 autocast on CPU too (matmuls and the joiner in bf16, weights, recurrences and
    # losses in fp32); pays on CPUs with AVX512-BF16 or AMX (docs/results/cpu_bf16.md)
    cpu_bf16: bool = False
    progress: bool = True
    max_warnings: int = 5  # per skip reason
    stop_after_step: int | None = None  # testing hook: simulate a kill after this step's checkpoint

    @property
    def is_synth(self) -> bool:
        return self.train.startswith(D.SYNTH_PREFIX)


@dataclass
class TrainResult:
    out: Path
    steps: int
    epochs: float
    audio_hours: float
    seconds: float
    steps_per_s: float
    audio_s_per_s: float
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, loss) every step
    dev: list[dict] = field(default_factory=list)
    skips: dict[str, int] = field(default_factory=dict)
    best: dict | None = None
    params: int = 0
    world_size: int = 1
    stopped_early: bool = False


class _TrainModule(nn.Module):
    """The transducer plus training-only parts (CTC head, the pruned loss's simple lattice):
    what DDP wraps. None of them is exported, so they cost nothing at inference.

    ``forward`` returns ``(objective, rnnt, ctc)`` sums over the batch: the objective to
    minimise and the two losses to log (``rnnt`` is the pruned loss with ``loss="pruned"``).
    """

    def __init__(self, model: Transducer, ctc_weight: float, rnnt_weight: float = 1.0, loss: str = "full",
                 pruned: PrunedLossConfig | None = None) -> None:
        super().__init__()
        self.model = model
        self.ctc_weight, self.rnnt_weight = ctc_weight, rnnt_weight
        self.pruned = pruned or PrunedLossConfig()
        self.ctc_head = nn.Linear(model.encoder.output_dim, model.config.num_classes) if ctc_weight > 0 else None
        self.pruned_head = None
        if rnnt_weight > 0 and loss == "pruned":
            self.pruned_head = PrunedLossHead(model.encoder.output_dim, model.predictor.output_size,
                                              model.config.num_classes)

    def ctc_log_probs(self, enc):
        """``enc [B, T', D] -> log-probs [T', B, V+1]`` for ``F.ctc_loss``."""
        return self.ctc_head(enc).float().log_softmax(-1).transpose(0, 1)

    def forward(self, features, feature_lengths, targets, target_lengths, step: int = 0):
        enc, enc_lengths = self.model.transcribe(features, feature_lengths)
        enc_lengths = enc_lengths.clamp(max=enc.shape[1])
        zero = enc.new_zeros((), dtype=torch.float32)
        rnnt, objective = zero, zero
        if self.rnnt_weight > 0:
            start = targets.new_zeros(targets.shape[0], 1)
            pred, _, _ = self.model.predict(torch.cat([start, targets], dim=1), target_lengths + 1)
            if self.pruned_head is None:
                logits = self.model.joiner(enc, pred)
                rnnt = rnnt_loss(logits.float(), targets, enc_lengths, target_lengths, reduction="sum")
                objective = self.rnnt_weight * rnnt
            else:
                cfg = self.pruned
                simple, rnnt = self.pruned_head(self.model.joiner, enc, enc_lengths, pred, targets, target_lengths,
                                                cfg.prune_range, cfg.lm_scale, cfg.am_scale)
                w_simple, w_pruned = cfg.loss_weights(step)
                objective = self.rnnt_weight * (w_simple * simple + w_pruned * rnnt)
        if self.ctc_head is None:
            return objective, rnnt, zero
        ctc = F.ctc_loss(self.ctc_log_probs(enc), targets, enc_lengths, target_lengths, blank=0,
                         reduction="sum", zero_infinity=True)
        return objective + self.ctc_weight * ctc, rnnt, ctc

    def training_heads(self) -> dict[str, Any]:
        """State dicts of the training-only modules (saved beside exported models)."""
        heads = {"ctc_head": self.ctc_head, "pruned_head": self.pruned_head}
        return {k: {n: t.detach().cpu() for n, t in m.state_dict().items()} for k, m in heads.items() if m is not None}


# --------------------------------------------------------------------------- helpers


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def _step_seed(seed: int, step: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(1, np.uint64)[0] % (2**63 - 1))


def _atomic_torch_save(obj: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(state["cuda"])
        except RuntimeError:
            pass  # different GPU count: the per-step reseed makes this irrelevant


def list_checkpoints(out: str | Path) -> list[Path]:
    folder = Path(out) / CKPT_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if CKPT_RE.match(p.name))


def read_training_checkpoint(path: str | Path) -> tuple[dict, ModelConfig]:
    """``(trainer state, model config)`` of a ``ckpt-*.pt``; unreadable or foreign files are
    one-line bad input."""
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)  # optimizer, RNG, ...: not only tensors
        if not isinstance(state, dict) or "model" not in state or "config" not in state:
            raise InputError(f"{path} is not a memasr training checkpoint")
        return state, config_from_dict(tomllib.loads(state["config"]), str(path))
    except InputError:
        raise
    except Exception as exc:  # corrupt file: torch.load and tomllib raise many kinds
        raise InputError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from None


def eden_factor(step: int, warmup: int, decay_steps: int) -> float:
    """Linear warmup to 1, then ``((step^2 + S^2) / S^2) ** -0.25`` (icefall's Eden, step term):
    a function of the step alone, so extending or resuming a run never restarts the schedule."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    return ((step ** 2 + decay_steps ** 2) / decay_steps ** 2) ** -0.25


@dataclass
class InitWeights:
    """Weights to warm-start a new run from (``--init-from``)."""

    config: ModelConfig
    model: dict[str, torch.Tensor]
    heads: dict[str, dict]  # training-only modules: "ctc_head", "pruned_head"
    tokenizer: Path | None
    where: Path


def read_init_weights(path: str | Path) -> InitWeights:
    """Weights of a model directory (``best/``, ``final/``, a shipped model), of a run directory
    (its latest checkpoint) or of one ``ckpt-*.pt``; anything else is one-line bad input."""
    from memasr.train.average import read_weights

    path = Path(path)
    if path.is_dir() and not (path / "config.toml").is_file():
        ckpts = list_checkpoints(path)
        if not ckpts:
            raise InputError(f"--init-from {path}: neither a model directory (config.toml, model.pt) "
                             f"nor a run directory with {CKPT_DIR}/ckpt-*.pt")
        path = ckpts[-1]
    if not path.exists():
        raise InputError(f"--init-from {path}: no such file or directory")
    weights = read_weights(path)
    # a model directory holds its tokenizer; a checkpoint's run folder does
    tokenizer = (path if path.is_dir() else path.parent.parent) / MODEL_FILENAME
    return InitWeights(weights.config, weights.model, weights.heads, tokenizer if tokenizer.is_file() else None, path)


def lr_factor(step: int, warmup: int, total: int | None, min_ratio: float) -> float:
    """Linear warmup to 1, then cosine decay to ``min_ratio`` at ``total`` (inverse-sqrt if unknown)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if total is None:
        return max(min_ratio, math.sqrt(max(warmup, 1) / (step + 1)))
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def ctc_greedy(log_probs: torch.Tensor, lengths: torch.Tensor, blank: int = 0) -> list[list[int]]:
    """Best-path CTC decoding: ``log_probs [B, T, C], lengths [B]`` -> token ids per utterance
    (argmax per frame, repeats merged, blanks dropped)."""
    best = log_probs.argmax(-1).cpu()
    out = []
    for b in range(best.shape[0]):
        path = best[b, :int(lengths[b])].tolist()
        out.append([t for i, t in enumerate(path) if t != blank and (i == 0 or t != path[i - 1])])
    return out


class _CsvLog:
    """Append-only CSV; on resume rows past the checkpoint's step are dropped first."""

    def __init__(self, path: Path, fields: list[str], keep_until_step: int | None) -> None:
        self.path, self.fields = path, fields
        rows: list[dict] = []
        if keep_until_step is not None and path.is_file():
            with path.open(newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if int(r.get("step") or 0) <= keep_until_step]
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fields)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, row: dict) -> None:
        with self.path.open("a", newline="") as fh:
            csv.DictWriter(fh, self.fields).writerow({k: row.get(k, "") for k in self.fields})


def _fmt(x: float) -> str:
    return f"{x:.4g}"


# --------------------------------------------------------------------------- trainer


class Trainer:
    def __init__(self, opts: TrainOptions) -> None:
        self.opts = opts
        self.world = _env_int("WORLD_SIZE", 1)
        self.rank = _env_int("RANK", 0)
        self.local_rank = _env_int("LOCAL_RANK", 0)
        self.is_main = self.rank == 0
        self.out = Path(opts.out)
        self.skips: Counter = Counter()
        self.warned: Counter = Counter()
        self._owns_pg = False
        self.dev_skipped: set[str] = set()
        self._seen_skips: set[tuple[str, str, str]] = set()

    # ---- messages ---------------------------------------------------------------------
    def log(self, msg: str) -> None:
        if self.is_main:
            from tqdm import tqdm

            tqdm.write(msg, file=sys.stderr)

    def count_skips(self, skips: list[tuple[str, str]], where_from: str = "train") -> None:
        for reason, where in skips:
            if (where_from, reason, where) in self._seen_skips:
                continue  # the same bad file drawn again in a later epoch: counted once
            self._seen_skips.add((where_from, reason, where))
            self.skips[reason] += 1
            self.warned[reason] += 1
            if self.warned[reason] <= self.opts.max_warnings:
                suffix = " (further ones counted silently)" if self.warned[reason] == self.opts.max_warnings else ""
                self.log(f"warning: skipped {where_from} example {where}: {reason}{suffix}")

    # ---- setup ------------------------------------------------------------------------
    def _validate(self) -> None:
        o = self.opts
        if (o.preset is None) == (o.config is None):
            raise InputError("give exactly one of --preset NAME or --config FILE")
        for name in ("steps", "batch_frames", "warmup", "eval_every", "save_every", "keep", "log_every",
                     "cmvn_utts"):
            value = getattr(o, name)
            if value is not None and value < (0 if name in ("warmup",) else 1):
                raise InputError(f"--{name.replace('_', '-')} must be positive, got {value}")
        for name in ("epochs", "max_hours", "max_wall_minutes", "lr"):
            value = getattr(o, name)
            if value is not None and not value > 0:
                raise InputError(f"--{name.replace('_', '-')} must be positive, got {value}")
        if o.ctc_weight < 0 or o.rnnt_weight < 0:
            raise InputError(f"--ctc-weight and --rnnt-weight must be >= 0, got {o.ctc_weight}, {o.rnnt_weight}")
        if o.ctc_weight == 0 and o.rnnt_weight == 0:
            raise InputError("--ctc-weight and --rnnt-weight are both 0: nothing to train")
        if o.loss not in ("pruned", "full"):
            raise InputError(f"--loss must be 'pruned' or 'full', got {o.loss!r}")
        if o.lr_schedule not in ("eden", "cosine"):
            raise InputError(f"--lr-schedule must be 'eden' or 'cosine', got {o.lr_schedule!r}")
        if o.prune_warmup is not None and o.prune_warmup < 0:
            raise InputError(f"--prune-warmup must be >= 0, got {o.prune_warmup}")
        if o.prune_range < 2 or o.lr_decay_steps < 1 or o.reg_start < 0 or o.reg_ramp < 0:
            raise InputError("--prune-range must be >= 2, --lr-decay-steps >= 1, --reg-start/--reg-ramp >= 0")
        if o.dropout is not None and not 0.0 <= o.dropout < 1.0:
            raise InputError(f"--dropout must be in [0, 1), got {o.dropout}")
        if not 0 <= o.augment_scale:
            raise InputError(f"--augment-scale must be >= 0, got {o.augment_scale}")
        if o.speed_perturb is not None:
            from memasr.data.speed import SpeedPerturbConfig

            SpeedPerturbConfig(factors=tuple(o.speed_perturb)).validate()
        if o.init_from is not None and o.resume is not None:
            raise InputError("--init-from starts a new run; --resume continues one: give only one")
        if o.init_scope not in INIT_SCOPES:
            raise InputError(f"--init-scope must be one of {', '.join(INIT_SCOPES)}, got {o.init_scope!r}")
        if o.init_scope != "model" and o.init_from is None:
            raise InputError(f"--init-scope {o.init_scope} needs --init-from")
        if o.best_metric not in ("loss", "wer"):
            raise InputError("--best-metric must be 'loss' or 'wer'")
        if o.is_synth and o.train != D.SYNTH_PREFIX:
            raise InputError(f"unknown training source {o.train!r}; use a manifest path or 'synth:'")
        if o.is_synth and o.epochs is not None:
            raise InputError("--epochs has no meaning for --train synth: (use --steps or --max-hours)")
        if o.is_synth and o.steps is None and o.max_hours is None and o.max_wall_minutes is None:
            raise InputError("--train synth: is endless; give --steps, --max-hours or --max-wall-minutes")
        if o.dev is not None and not Path(o.dev).is_file():
            raise InputError(f"dev manifest not found: {o.dev}")

    def _setup_device(self) -> None:
        o = self.opts
        if o.device == "auto":
            use_cuda = torch.cuda.is_available()
        elif o.device in ("cpu", "cuda"):
            use_cuda = o.device == "cuda"
            if use_cuda and not torch.cuda.is_available():
                raise InputError("--device cuda but no CUDA device is available")
        else:
            raise InputError(f"--device must be auto, cpu or cuda, got {o.device!r}")
        if use_cuda:
            torch.cuda.set_device(self.local_rank % torch.cuda.device_count())
            self.device = torch.device("cuda", torch.cuda.current_device())
        else:
            self.device = torch.device("cpu")
            local_world = _env_int("LOCAL_WORLD_SIZE", self.world)
            torch.set_num_threads(o.threads or max(1, _cpu_cores() // max(1, local_world)))
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo")
            self._owns_pg = True
        self.amp_dtype = None
        if use_cuda and o.amp:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        elif not use_cuda and o.cpu_bf16:
            self.amp_dtype = torch.bfloat16  # same exponent range as fp32: no loss scaling
            if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
                self.log("warning: --cpu-bf16 on a CPU without native bfloat16 (AVX512-BF16 or AMX): "
                         "expect slower steps, not faster")
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

    def _barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def _all_reduce(self, values: list[float], op=None) -> list[float]:
        if self.world <= 1:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(t, op=op or dist.ReduceOp.SUM)
        return t.tolist()

    def _resolve_config(self) -> ModelConfig:
        o = self.opts
        return load_preset(o.preset) if o.preset is not None else load_config(o.config)

    def _find_resume(self) -> Path | None:
        o = self.opts
        if o.resume is None:
            return None
        if o.resume == "auto":
            ckpts = list_checkpoints(self.out)
            if not ckpts:
                self.log(f"--resume: no checkpoint in {self.out / CKPT_DIR}; starting fresh")
                return None
            return ckpts[-1]
        path = Path(o.resume)
        if not path.is_file():
            raise InputError(f"checkpoint not found: {path}")
        return path

    def _tokenizer_to_keep(self) -> tuple[Path, str] | None:
        """The tokenizer the starting weights were trained with, and where it came from: that of
        --init-from, or of the run a --resume checkpoint belongs to (its parent's parent), so a
        run resumed into a new --out never trains a tokenizer its weights do not know."""
        init = self.init_weights
        if init is not None and init.tokenizer is not None and self.opts.init_scope != "encoder":
            return init.tokenizer, f"--init-from {init.where}"
        if self.resume_path is not None:
            path = self.resume_path.resolve().parent.parent / MODEL_FILENAME
            if path.is_file():
                return path, f"the run of --resume {self.resume_path}"
        return None

    def _setup_tokenizer(self, texts_fn) -> Tokenizer:
        path = self.out / MODEL_FILENAME
        keep = self._tokenizer_to_keep()
        if keep is not None:
            # the starting weights only mean something with their own token ids
            source, where = keep
            if not path.is_file() and self.is_main:
                import shutil

                shutil.copyfile(source, path)
            self._barrier()
            if path.read_bytes() != source.read_bytes():
                raise InputError(f"{path} differs from the tokenizer of {where}; use a new --out directory")
            return Tokenizer.load(path)
        if not path.is_file():
            if self.is_main:
                self.log(f"training a {self.config.vocab_size}-piece tokenizer -> {path}")
                texts = [t for t in (normalize_text(x) for x in texts_fn()) if t]
                if not texts:
                    raise InputError("no usable transcript to train the tokenizer on")
                Tokenizer.train(texts, self.out, vocab_size=self.config.vocab_size)
            self._barrier()
        return Tokenizer.load(path)

    def setup(self) -> None:
        o = self.opts
        self._validate()
        self._setup_device()
        self.out.mkdir(parents=True, exist_ok=True)
        self.config = self._resolve_config()
        self.init_weights = read_init_weights(o.init_from) if o.init_from is not None else None
        if self.init_weights is not None and self.init_weights.config.features != self.config.features:
            raise InputError(f"--init-from {self.init_weights.where} was trained with other features "
                             f"({self.init_weights.config.features}) than this model's [features]")
        if self.init_weights is not None and o.init_scope == "encoder":
            self._check_init_encoder()  # before a tokenizer is trained for nothing
        if self.init_weights is not None and o.init_scope == "widen":
            from memasr.model.grow import widening_problems

            problems = widening_problems(self.init_weights.config, self.config)
            if problems:
                raise InputError(f"--init-scope widen: --init-from {self.init_weights.where} is not this config "
                                 f"with a narrower encoder: {'; '.join(problems)}")
        self.resume_path = self._find_resume()
        self.resume_state = None
        if self.resume_path is not None:
            self.resume_state, self.config = read_training_checkpoint(self.resume_path)
        if o.dropout is not None:  # a training choice, not the architecture: the weights do not change
            self.config = dataclasses.replace(
                self.config, encoder=dataclasses.replace(self.config.encoder, dropout=o.dropout),
                predictor=dataclasses.replace(self.config.predictor, dropout=o.dropout))

        # training source, tokenizer
        synth_seed = o.synth_seed if o.synth_seed is not None else o.seed
        if o.is_synth:
            self.synth_source = D.make_synth_source(synth_seed, o.synth_engines)
            self._setup_tokenizer_and_vocab(lambda: self.synth_source.sentences)
            self.train_set = D.SynthDataset(self.synth_source, self.tokenizer, self.config)
            self.synth_batch = o.synth_batch or D.estimate_synth_batch(o.batch_frames)
        else:
            from memasr.data.manifest import read_manifest

            entries = read_manifest(o.train)
            if not entries:
                raise InputError(f"training manifest {o.train} is empty")
            self._setup_tokenizer_and_vocab(lambda: [e["text"] for e in entries])
            good, skips = D.filter_entries(entries, self.tokenizer, self.config)
            if self.is_main:  # every rank filters the same rows: count them once
                self.count_skips(skips)
            if not good:
                raise InputError(f"training manifest {o.train} has no usable entry: {D.summarize_skips(self.skips)}")
            self.train_set = D.ManifestDataset(good, self.config)
            self.train_frames = [self.train_set.frames(i) for i in range(len(good))]
            self.train_tokens = [len(e["tokens"]) for e in good]
            self.train_seconds = sum(float(e["duration"]) for e in good)
        self._frames_of_epoch: tuple[int, list[int]] | None = None  # (epoch, frames) under speed perturbation

        self.dev_set = None
        if o.dev is not None:
            from memasr.data.manifest import read_manifest

            dev_entries = read_manifest(o.dev)
            if o.dev_max_utts:
                dev_entries = dev_entries[:o.dev_max_utts]
            good, skips = D.filter_entries(dev_entries, self.tokenizer, self.config)
            if self.is_main:
                self.count_skips(skips, "dev")
            if good:
                self.dev_set = D.ManifestDataset(good, self.config)
                self.dev_texts = [normalize_text(e["text"]) for e in good]
            else:
                self.log(f"warning: dev manifest {o.dev} has no usable entry; no dev evaluation")

        # model
        torch.manual_seed(o.seed)
        self.model = build_model(self.config)
        self.module = _TrainModule(self.model, o.ctc_weight, o.rnnt_weight, o.loss,
                                   PrunedLossConfig(prune_range=o.prune_range))
        self.dropouts = [(m, m.p) for m in self.module.modules() if isinstance(m, nn.Dropout)]
        loaded_heads: set[str] = set()
        if self.resume_state is not None:
            self.module.model.load_state_dict(self.resume_state["model"])
            self._load_heads(self.resume_state, strict=True)
        elif self.init_weights is not None:
            loaded_heads = self._load_init_weights()
        elif self.is_main:
            self._fit_cmvn()
        self.module.pruned.warm_steps = self._prune_warmup(loaded_heads)
        if o.rnnt_weight == 0:  # CTC alone: the predictor and joiner get no gradient, and DDP
            for part in (self.model.predictor, self.model.joiner):  # refuses unused parameters
                part.requires_grad_(False)
        self.module.to(self.device)
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp = DDP(self.module, device_ids=ids)  # broadcasts rank 0's weights and CMVN
        else:
            self.ddp = self.module

        decay, no_decay = [], []
        for name, p in self.module.named_parameters():
            if not p.requires_grad:
                continue
            (decay if p.dim() >= 2 and "embedding" not in name else no_decay).append(p)
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": o.weight_decay},
                                            {"params": no_decay, "weight_decay": 0.0}],
                                           lr=o.lr, betas=(0.9, 0.98), eps=1e-8)
        self.total_steps = self._plan_total_steps()
        if o.lr_schedule == "eden":
            schedule = lambda s: eden_factor(s, o.warmup, o.lr_decay_steps)  # noqa: E731
        else:
            schedule = lambda s: lr_factor(s, o.warmup, self.total_steps, o.min_lr_ratio)  # noqa: E731
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)

        # position
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.audio_seconds = 0.0
        self.best: dict | None = None
        self.spec_cfg = D.SpecAugmentConfig(o.freq_masks, o.freq_width, o.time_masks, o.time_width) \
            if o.spec_augment else D.SpecAugmentConfig(0, 0, 0, 0)
        if self.resume_state is not None:
            st = self.resume_state
            try:
                self.optimizer.load_state_dict(st["optimizer"])
            except ValueError as exc:  # other trained parameters: e.g. --rnnt-weight 0 on one side only
                raise InputError(f"--resume {self.resume_path}: the checkpoint trained other parameters than this "
                                 f"run would ({exc}); resume with the run's own options (--rnnt-weight, "
                                 f"--config), or start a new run from it with --init-from") from None
            self.scheduler.load_state_dict(st["scheduler"])
            if st.get("scaler"):
                self.scaler.load_state_dict(st["scaler"])
            _set_rng_state(st["rng"])
            self.step, self.epoch, self.batch_in_epoch = st["step"], st["epoch"], st["batch_in_epoch"]
            self.audio_seconds = st["audio_seconds"]
            self.best = st.get("best")
            if self.best and self.best.get("metric") == "dev_wer" and "tiebreak" not in self.best:
                self.best["tiebreak"] = self._saved_best_dev_loss()  # checkpoints from before tiebreaks
            if self.is_main:  # the checkpoint holds the counts of all ranks
                self.skips.update(st.get("skips", {}))
            if st.get("world_size", 1) != self.world:
                self.log(f"warning: checkpoint was written with {st.get('world_size')} processes, "
                         f"now {self.world}; the data order changes")
            self.log(f"resumed from {self.resume_path} at step {self.step}")
        self.resume_state = None

    def _prune_warmup(self, loaded_heads: set[str]) -> int:
        """Pruned-loss warm-up steps: --prune-warmup, else what a resumed run used, else 0 for a
        pruned head warm-started by --init-from (the ramp would restart every session), else 2000."""
        o = self.opts
        if o.prune_warmup is not None:
            return o.prune_warmup
        if self.resume_state is not None:
            saved = self.resume_state.get("prune_warmup")
            return PrunedLossConfig.warm_steps if saved is None else int(saved)
        if "pruned_head" in loaded_heads:
            self.log("note: --init-from brings a trained pruned-loss head; no pruned-loss warm-up "
                     "(--prune-warmup N to force one)")
            return 0
        return PrunedLossConfig.warm_steps

    def _load_heads(self, states: dict, strict: bool) -> set[str]:
        """Training-only heads from ``states`` (a checkpoint or saved heads); ``strict``: a head
        this run has must be there (resume), else a missing or reshaped head starts fresh.
        Returns the names of the heads loaded."""
        loaded = set()
        for name in ("ctc_head", "pruned_head"):
            module, state = getattr(self.module, name), states.get(name)
            if module is None:
                continue
            if state is None:
                if strict and name == "ctc_head":  # checkpoints from before the pruned loss lack its head
                    raise InputError(f"checkpoint has no {name}; it was trained with other loss settings")
                continue
            shapes = {k: tuple(v.shape) for k, v in module.state_dict().items()}
            if shapes != {k: tuple(v.shape) for k, v in state.items()}:
                if strict:
                    raise InputError(f"checkpoint's {name} does not match this model")
                self.log(f"note: --init-from {name} has other shapes; it starts fresh")
                continue
            module.load_state_dict(state)
            loaded.add(name)
        return loaded

    def _load_init_weights(self) -> set[str]:
        """Warm start (``--init-from``): model weights (CMVN included) and training heads; the
        optimizer, schedule and data position start fresh."""
        init = self.init_weights
        from memasr.model.checkpoint import load_weights

        if self.opts.init_scope == "encoder":
            self._load_init_encoder()
            self.log(f"initialised the encoder (and CMVN) from {init.where}; predictor, joiner, heads "
                     f"and the {self.config.vocab_size}-piece tokenizer are new")
            return set()
        how = "weights only"
        if self.opts.init_scope == "widen":
            from memasr.model.grow import widen_model

            source = build_model(init.config)
            load_weights(source, init.model, init.where)
            widen_model(self.model, source)
            how += f", encoder widened from {init.config.encoder.hidden_size} to {self.config.encoder.hidden_size} units"
        else:
            load_weights(self.model, init.model, init.where)
        loaded = self._load_heads(init.heads, strict=False)
        self.log(f"initialised from {init.where} ({how})")
        return loaded

    def _check_init_encoder(self) -> None:
        """``--init-scope encoder`` needs --init-from's encoder to be this config's (dropout aside:
        a training choice, not a weight); the differing fields are one line of bad input."""
        init = self.init_weights
        differ = [d for d in config_differences(init.config, self.config, ignore=("encoder.dropout",))
                  if d.startswith("encoder.")]
        if differ:
            raise InputError(f"--init-from {init.where} has another encoder than this model's: {'; '.join(differ)}")

    def _load_init_encoder(self) -> None:
        """``--init-scope encoder``: the front end (CMVN) and encoder of --init-from."""
        from memasr.model.checkpoint import load_weights

        init = self.init_weights
        for name in ("normalizer", "encoder"):
            part = {k[len(name) + 1:]: v for k, v in init.model.items() if k.startswith(name + ".")}
            load_weights(getattr(self.model, name), part, f"{init.where} ({name})")

    def _setup_tokenizer_and_vocab(self, texts_fn) -> None:
        self.tokenizer = self._setup_tokenizer(texts_fn)
        if self.tokenizer.vocab_size > self.config.vocab_size:
            raise InputError(f"tokenizer {self.out / MODEL_FILENAME} has {self.tokenizer.vocab_size} pieces but the "
                             f"model's vocab_size is {self.config.vocab_size}")
        if self.tokenizer.vocab_size < self.config.vocab_size:
            self.log(f"note: the tokenizer has {self.tokenizer.vocab_size} pieces (small text); "
                     f"vocab_size {self.config.vocab_size} -> {self.tokenizer.vocab_size}")
            self.config = dataclasses.replace(self.config, vocab_size=self.tokenizer.vocab_size)

    def _fit_cmvn(self) -> None:
        """Global CMVN from up to ``cmvn_utts`` training examples (a fixed, seeded sample)."""
        o = self.opts
        n = o.cmvn_utts
        if o.is_synth:
            last = len(self.train_set) - 1
            indices = [last - i for i in range(n)]  # far from the indices training will draw
        else:
            indices = random.Random(o.seed).sample(range(len(self.train_set)), min(n, len(self.train_set)))
        feats = []
        for i in indices:
            item = self.train_set[i]
            if "skip" not in item:
                feats.append(item["features"])
        if not feats:
            raise InputError("no readable training example to fit the feature normalization on")
        self.model.normalizer.fit(feats)

    def _plan_total_steps(self) -> int | None:
        """Total optimizer steps for the LR schedule and progress bar (None if unbounded)."""
        o = self.opts
        bounds = []
        if o.steps is not None:
            bounds.append(o.steps)
        if o.is_synth:
            if o.max_hours is not None:
                per_step = self.synth_batch * self.world * 3.0  # estimated seconds per step
                bounds.append(math.ceil(o.max_hours * 3600 / per_step))
        else:
            per_epoch = self._epoch_batches(0)
            self.batches_per_epoch = per_epoch
            if o.epochs is not None:
                whole = int(o.epochs)
                steps = sum(self._epoch_batches(e) for e in range(whole))
                if o.epochs > whole:
                    steps += math.ceil((o.epochs - whole) * self._epoch_batches(whole))
                bounds.append(steps)
            if o.max_hours is not None:
                bounds.append(math.ceil(o.max_hours * 3600 / self.train_seconds * per_epoch))
            if not bounds and o.max_wall_minutes is None:
                bounds.append(per_epoch)  # default: one epoch
        return min(bounds) if bounds else None

    def _epoch_plan(self, epoch: int) -> list[list[int]]:
        """This rank's batches of ``epoch`` (manifest training)."""
        o = self.opts
        batches = D.bucket_batches(self._epoch_frames(epoch), o.batch_frames, o.seed, epoch, self.train_tokens,
                                   o.batch_tokens)
        return D.shard_batches(batches, self.rank, self.world)

    def _epoch_frames(self, epoch: int) -> list[int]:
        """Feature frames of every training clip in ``epoch``: with speed perturbation, as the
        factor drawn for that epoch makes them (a pure function of seed, epoch and index), so
        the frame budget of a batch holds for the perturbed clips too."""
        speed = self._speed_perturbation(epoch)
        if speed is None:
            return self.train_frames
        cached = self._frames_of_epoch
        if cached is None or cached[0] != epoch:
            frames = [max(1, round(f / speed.factor(i))) for i, f in enumerate(self.train_frames)]
            self._frames_of_epoch = cached = (epoch, frames)
        return cached[1]

    def _speed_perturbation(self, epoch: int):
        """The speed perturbation of ``epoch`` (None when off). On-the-fly synthesis numbers its
        examples by step, so there every index is new and the epoch stays 0: a resumed run then
        draws what an uninterrupted one would."""
        o = self.opts
        if o.speed_perturb is None:
            return None
        from memasr.data.speed import SpeedPerturbation, SpeedPerturbConfig

        return SpeedPerturbation(SpeedPerturbConfig(factors=tuple(o.speed_perturb)), seed=o.seed,
                                 epoch=0 if o.is_synth else epoch)

    def _epoch_batches(self, epoch: int) -> int:
        return len(self._epoch_plan(epoch))

    # ---- data iteration ---------------------------------------------------------------
    def _loader(self, dataset, batch_sampler) -> torch.utils.data.DataLoader:
        o = self.opts
        workers = o.num_workers if o.num_workers is not None else (4 if self.device.type == "cuda" else 1)
        kwargs: dict[str, Any] = {}
        if workers > 0:
            kwargs = {"worker_init_fn": D.worker_init, "prefetch_factor": 4, "persistent_workers": False}
        return torch.utils.data.DataLoader(dataset, batch_sampler=batch_sampler, num_workers=workers,
                                           collate_fn=D.collate, pin_memory=self.device.type == "cuda", **kwargs)

    # loaders are remade this often (in steps) so the augmentation follows the regularisation ramp
    AUGMENT_SEGMENT = 250
    RAMP_PIECES = 8  # within the ramp the loader is remade this often, so the strength rises in eighths

    def _augment_segment(self) -> int:
        """Steps the next loader runs before it is remade with the augmentation strength of that
        step: up to the ramp's start, then an eighth of the ramp (a ramp shorter than
        AUGMENT_SEGMENT would otherwise act as a switch at its first remake), then AUGMENT_SEGMENT."""
        o, step = self.opts, self.step
        if step < o.reg_start:
            return min(self.AUGMENT_SEGMENT, o.reg_start - step)
        ramp_end = o.reg_start + o.reg_ramp
        if step < ramp_end:
            return max(1, min(self.AUGMENT_SEGMENT, -(-o.reg_ramp // self.RAMP_PIECES), ramp_end - step))
        return self.AUGMENT_SEGMENT

    def _set_augmenter(self, epoch: int) -> None:
        """Give the training set its waveform augmenter: speed perturbation (full strength from
        the start, as in icefall), then the channel augmenter of the current ramp strength."""
        o = self.opts
        from memasr.data.speed import chain

        channel = None
        if o.augment:
            from memasr.data.augment import AUGMENTATIONS, ChannelAugmentConfig, ChannelAugmenter

            scale = o.augment_scale * self.regularization_strength(self.step)
            base = ChannelAugmentConfig()
            config = dataclasses.replace(base, **{f"{n}_prob": min(1.0, base.probability(n) * scale)
                                                 for n in AUGMENTATIONS})
            channel = ChannelAugmenter(config, seed=o.seed, epoch=epoch) if config.enabled else None
        self.train_set.augmenter = chain(self._speed_perturbation(epoch), channel)

    def _batches(self):
        """Yield ``(epoch, batch_in_epoch_after, batch)`` from the current position on, forever."""
        o = self.opts
        if o.is_synth:
            while True:
                self._set_augmenter(self.step)
                source = self.synth_source
                sampler = D.SynthBatchSampler(self.synth_batch, self.step, self.rank, self.world, len(self.train_set),
                                              size_of=lambda i: D.synth_length_estimate(source.spec(i)))
                segment = self._augment_segment() if o.augment else None
                for k, batch in enumerate(self._loader(self.train_set, sampler)):
                    yield 0, 0, 0, batch
                    if segment is not None and k + 1 == segment:
                        break
                else:
                    return
        epoch, start = self.epoch, self.batch_in_epoch
        while True:
            batches = self._epoch_plan(epoch)
            if start == 0:
                self.log(f"epoch {epoch}: {len(batches)} batches, padding {100 * D.padding_waste(batches, self._epoch_frames(epoch)):.1f}% "
                         f"of frames, {100 * D.padding_waste(batches, self.train_tokens):.1f}% of tokens")
            if start >= len(batches):
                epoch, start = epoch + 1, 0
                continue
            stop = min(len(batches), start + self._augment_segment()) if o.augment else len(batches)
            self._set_augmenter(epoch)
            for k, batch in enumerate(self._loader(self.train_set, batches[start:stop]), start=start + 1):
                yield epoch, k, len(batches), batch
            epoch, start = (epoch, stop) if stop < len(batches) else (epoch + 1, 0)

    # ---- one step ---------------------------------------------------------------------
    def _autocast(self):
        if self.amp_dtype is None:
            return torch.autocast("cpu", enabled=False)
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _eval_autocast(self):
        # --cpu-bf16 only speeds up training: dev rows are scored in fp32 on CPU, so dev.csv
        # compares across precisions. On GPU evaluation keeps AMP (as before), so there dev rows
        # follow --amp/--no-amp
        if self.device.type == "cpu":
            return torch.autocast("cpu", enabled=False)
        return self._autocast()

    def _train_step(self, batch: D.Batch) -> tuple[float, float, float, int, float]:
        """Returns (loss sum, rnnt sum, ctc sum, tokens, grad norm) for this rank's batch."""
        o = self.opts
        seed = _step_seed(o.seed, self.step, self.rank)
        torch.manual_seed(seed)  # dropout: reproducible per (seed, step, rank)
        gen = torch.Generator().manual_seed(seed)
        strength = self.regularization_strength(self.step)
        for module, p in self.dropouts:
            module.p = p * strength
        self.ddp.train()
        self.optimizer.zero_grad(set_to_none=True)
        tokens = int(batch.target_lengths.sum())
        if batch.size == 0 and self.world == 1:
            self.scheduler.step()
            return 0.0, 0.0, 0.0, 0, 0.0
        if batch.size == 0:
            # every example of this batch was bad: keep DDP's collectives in step with a zero loss
            loss = sum(p.sum() * 0.0 for p in self.module.parameters())
            loss.backward()
            rnnt_v = ctc_v = 0.0
        else:
            batch = batch.to(self.device)
            feats = D.spec_augment(batch.features, batch.feature_lengths, self.spec_cfg.scaled(strength), gen,
                                   self.model.normalizer.mean.detach())
            with self._autocast():
                objective, rnnt, ctc = self.ddp(feats, batch.feature_lengths, batch.targets, batch.target_lengths,
                                                step=self.step)
            loss = objective / max(1, tokens)
            self.scaler.scale(loss).backward()
            rnnt_v, ctc_v = float(rnnt.detach()), float(ctc.detach())
        self.scaler.unscale_(self.optimizer)
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.module.parameters(), o.clip))
        if math.isfinite(grad_norm):
            self.scaler.step(self.optimizer)
        else:
            self.skips["non-finite gradient (step skipped)"] += 1
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler.is_enabled():
                self.scaler.step(self.optimizer)  # lets the scaler lower its scale
        self.scaler.update()
        self.scheduler.step()
        return o.rnnt_weight * rnnt_v + o.ctc_weight * ctc_v, rnnt_v, ctc_v, tokens, grad_norm

    def regularization_strength(self, step: int) -> float:
        """0 before ``reg_start``, then linear to 1 over ``reg_ramp`` steps: SpecAugment, dropout
        and waveform augmentation hold back while the model first learns to align."""
        o = self.opts
        if step < o.reg_start:
            return 0.0
        return 1.0 if o.reg_ramp == 0 else min(1.0, (step - o.reg_start + 1) / o.reg_ramp)

    # ---- evaluation -------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict | None:
        if self.dev_set is None:
            return None
        import jiwer

        from memasr.decode.greedy import greedy_search, init_greedy_state

        o = self.opts
        model = self.model
        model.eval()
        ctc_only = o.rnnt_weight == 0
        # greedy search is a Python loop over frames: run it on a CPU copy when training on GPU
        decoder = model if self.device.type == "cpu" or ctc_only else copy.deepcopy(model).cpu().eval()
        batches = D.bucket_batches([self.dev_set.frames(i) for i in range(len(self.dev_set))],
                                   o.batch_frames, 0, 0)
        batches = batches[self.rank::self.world] if self.world > 1 else batches
        loss_sum = tokens = errors = words = utts = 0.0
        for idx in batches:
            items = [self.dev_set[i] for i in idx]
            texts = [self.dev_texts[i] for i, it in zip(idx, items) if "skip" not in it]
            batch = D.collate(items)
            new = [s for s in batch.skips if s[1] not in self.dev_skipped]
            self.dev_skipped.update(w for _, w in new)
            self.count_skips(new, "dev")
            if batch.size == 0:
                continue
            batch = batch.to(self.device)
            tokens += float(batch.target_lengths.sum())
            if ctc_only:  # the predictor and joiner are untrained: score the CTC head instead
                with self._eval_autocast():
                    enc, enc_lengths = model.transcribe(batch.features, batch.feature_lengths)
                enc_lengths = enc_lengths.clamp(max=enc.shape[1])
                log_probs = self.module.ctc_log_probs(enc)  # [T', B, V+1]
                loss_sum += float(F.ctc_loss(log_probs, batch.targets, enc_lengths, batch.target_lengths,
                                             blank=0, reduction="sum", zero_infinity=True))
                hyps = ctc_greedy(log_probs.transpose(0, 1), enc_lengths)
            else:
                with self._eval_autocast():
                    logits, enc_lengths, enc = model(batch.features, batch.feature_lengths, batch.targets,
                                                     batch.target_lengths)
                enc_lengths = enc_lengths.clamp(max=logits.shape[1])
                loss_sum += float(rnnt_loss(logits.float(), batch.targets, enc_lengths, batch.target_lengths,
                                            reduction="sum"))
                # batched greedy over the whole padded batch; tokens emitted on padding frames are
                # dropped (they come after every valid frame, so they cannot change earlier output)
                enc_proj = decoder.joiner.project_encoder(enc.float().cpu())
                state = greedy_search(decoder, enc_proj, init_greedy_state(decoder, batch.size))
                hyps = [[tok for tok, fr in zip(h.tokens, h.frames) if fr < int(enc_lengths[b])]
                        for b, h in enumerate(state.hyps)]
            for b, keep in enumerate(hyps):
                hyp_text = normalize_text(self.tokenizer.decode([t for t in keep if t <= self.tokenizer.vocab_size]))
                out = jiwer.process_words(texts[b], hyp_text)
                errors += out.substitutions + out.deletions + out.insertions
                words += out.substitutions + out.deletions + out.hits
                utts += 1
        model.train()
        loss_sum, tokens, errors, words, utts = self._all_reduce([loss_sum, tokens, errors, words, utts])
        if utts == 0:
            return None
        return {"step": self.step, "dev_loss": loss_sum / max(tokens, 1.0), "dev_wer": errors / max(words, 1.0),
                "dev_utts": int(utts), "dev_words": int(words)}

    # ---- checkpoints --------------------------------------------------------------------
    def _meta(self, extra: dict | None = None) -> dict:
        o = self.opts
        meta = {"step": self.step, "epoch": self.epoch, "audio_hours": self.audio_seconds / 3600,
                "train": o.train, "preset": o.preset, "config_file": o.config, "ctc_weight": o.ctc_weight,
                "rnnt_weight": o.rnnt_weight, "loss": o.loss, "prune_warmup": self.module.pruned.warm_steps,
                "init_from": o.init_from, "init_scope": o.init_scope if o.init_from else None,
                "augment": o.augment, "speed_perturb": list(o.speed_perturb) if o.speed_perturb else None,
                "world_size": self.world, "params": count_parameters(self.model)}
        meta.update(extra or {})
        return meta

    def save_checkpoint(self) -> Path | None:
        skips = self._reduce_skips()  # collective: every rank calls save_checkpoint
        if not self.is_main:
            return None
        folder = self.out / CKPT_DIR
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"ckpt-{self.step:08d}.pt"
        state = {
            "version": 1, "step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
            "audio_seconds": self.audio_seconds, "world_size": self.world,
            "model": self.model.state_dict(),
            "ctc_head": self.module.ctc_head.state_dict() if self.module.ctc_head is not None else None,
            "pruned_head": self.module.pruned_head.state_dict() if self.module.pruned_head is not None else None,
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "rng": _rng_state(), "best": self.best, "skips": skips,
            "prune_warmup": self.module.pruned.warm_steps,
            "config": dump_config(self.config), "options": dataclasses.asdict(self.opts),
        }
        _atomic_torch_save(state, path)
        for old in list_checkpoints(self.out)[:-self.opts.keep]:
            old.unlink(missing_ok=True)
        return path

    def save_model(self, name: str, extra: dict | None = None) -> Path | None:
        if not self.is_main:
            return None
        from memasr.model.checkpoint import save_pretrained

        return save_pretrained(self.model, self.out / name, self.out / MODEL_FILENAME, self._meta(extra),
                               training_heads=self.module.training_heads())

    def _saved_best_dev_loss(self) -> float:
        """The dev loss recorded beside the exported best model (inf when unknown)."""
        try:
            return float(json.loads((self.out / "best" / "meta.json").read_text())["dev_loss"])
        except (OSError, ValueError, KeyError, TypeError):
            return float("inf")

    def _maybe_best(self, dev: dict | None, train_loss: float | None) -> None:
        tiebreak = None
        if dev is not None:
            metric = "dev_wer" if self.opts.best_metric == "wer" else "dev_loss"
            value = dev[metric]
            if metric == "dev_wer":  # early on many evaluations tie (often at 100%): loss decides
                tiebreak = dev["dev_loss"]
        elif train_loss is not None:
            metric, value = "train_loss", train_loss
        else:
            return
        old = self.best
        better = (old is None or old.get("metric") != metric or value < old["value"]
                  or (value == old["value"] and tiebreak is not None
                      and tiebreak < old.get("tiebreak", float("inf"))))
        if better:
            self.best = {"metric": metric, "value": value, "step": self.step}
            if tiebreak is not None:
                self.best["tiebreak"] = tiebreak
            self.save_model("best", {"best": self.best, **(dev or {})})

    # ---- main loop ----------------------------------------------------------------------
    def fit(self) -> TrainResult:
        from tqdm import tqdm

        o = self.opts
        writer = None
        resumed_at = self.step if self.resume_path is not None else None
        if self.is_main:
            train_log = _CsvLog(self.out / "train.csv", TRAIN_CSV_FIELDS, resumed_at)
            dev_log = _CsvLog(self.out / "dev.csv", DEV_CSV_FIELDS, resumed_at)
            try:
                from torch.utils.tensorboard import SummaryWriter

                writer = SummaryWriter(str(self.out / "tensorboard"), purge_step=resumed_at)
            except Exception:  # tensorboard not installed
                writer = None
            n_params = count_parameters(self.model)
            src = o.train if not o.is_synth else f"synth: (batch {self.synth_batch} utts)"
            self.log(f"training {self.config.name} ({n_params / 1e6:.2f}M params) on {self.device}"
                     f"{f' x {self.world} processes' if self.world > 1 else ''}, {torch.get_num_threads()} "
                     f"threads, source {src}, {self.total_steps or 'unbounded'} steps")
        bar = tqdm(total=self.total_steps, initial=self.step, unit="step", dynamic_ncols=True, file=sys.stderr,
                   disable=not (self.is_main and o.progress))
        losses: list[tuple[int, float]] = []
        dev_results: list[dict] = []
        start_time = time.perf_counter()
        start_step, start_audio = self.step, self.audio_seconds
        window = {"loss": 0.0, "rnnt": 0.0, "ctc": 0.0, "tokens": 0.0, "utts": 0.0, "audio": 0.0, "t": start_time,
                  "steps": 0, "real_frames": 0.0, "padded_frames": 0.0, "wait": 0.0}
        ema = None
        stopped_early = False
        last_dev = None
        last_saved = self.step

        def done() -> bool:
            return self.total_steps is not None and self.step >= self.total_steps

        batches = self._batches() if not done() else iter(())
        body_done = time.perf_counter()
        for epoch, batch_in_epoch, n_batches, batch in batches:
            window["wait"] += time.perf_counter() - body_done
            self.count_skips(batch.skips)
            loss_sum, rnnt_sum, ctc_sum, tokens, grad_norm = self._train_step(batch)
            self.step += 1
            if not o.is_synth:
                self.epoch, self.batch_in_epoch = epoch, batch_in_epoch
                self.batches_per_epoch = n_batches
                if self.batch_in_epoch >= n_batches:
                    self.epoch, self.batch_in_epoch = epoch + 1, 0
            elapsed_wall = (time.perf_counter() - start_time) / 60
            wall_stop = 1.0 if (o.max_wall_minutes is not None and elapsed_wall >= o.max_wall_minutes) else 0.0
            loss_sum, rnnt_sum, ctc_sum, tokens, utts, seconds, wall_stop = self._all_reduce(
                [loss_sum, rnnt_sum, ctc_sum, float(tokens), float(batch.size), batch.seconds, wall_stop])
            self.audio_seconds += seconds
            if tokens > 0:  # a batch whose examples were all skipped has no loss
                loss = loss_sum / tokens
                losses.append((self.step, loss))
                ema = loss if ema is None else 0.9 * ema + 0.1 * loss
            for k, v in (("loss", loss_sum), ("rnnt", rnnt_sum), ("ctc", ctc_sum), ("tokens", tokens),
                         ("utts", utts), ("audio", seconds)):
                window[k] += v
            window["steps"] += 1
            window["real_frames"] += float(batch.feature_lengths.sum())
            window["padded_frames"] += float(batch.features.shape[0] * batch.features.shape[1])
            now = time.perf_counter()
            total_elapsed = now - start_time
            aud_rate = (self.audio_seconds - start_audio) / max(total_elapsed, 1e-9)
            bar.update(1)
            bar.set_postfix_str(f"loss {ema or 0.0:.3f} | {aud_rate:.1f} audio-s/s | "
                                f"{self.audio_seconds / 3600:.2f} h", refresh=False)
            if o.max_hours is not None and self.audio_seconds >= o.max_hours * 3600:
                stop = True
            else:
                stop = done() or wall_stop > 0
            if self.is_main and (self.step % o.log_every == 0 or stop):
                dt = max(now - window["t"], 1e-9)
                tok = max(window["tokens"], 1.0)
                row = {"step": self.step, "epoch": _fmt(self.epoch + (self.batch_in_epoch / self.batches_per_epoch
                                                                      if not o.is_synth else 0.0)),
                       "loss": _fmt(window["loss"] / tok), "rnnt": _fmt(window["rnnt"] / tok),
                       "ctc": _fmt(window["ctc"] / tok), "lr": _fmt(self.scheduler.get_last_lr()[0]),
                       "grad_norm": _fmt(grad_norm), "utts": int(window["utts"]), "tokens": int(window["tokens"]),
                       "audio_seconds": _fmt(window["audio"]), "audio_hours_total": _fmt(self.audio_seconds / 3600),
                       "elapsed_s": _fmt(total_elapsed), "steps_per_s": _fmt(window["steps"] / dt),
                       "audio_s_per_s": _fmt(window["audio"] / dt),
                       "padding": _fmt(1.0 - window["real_frames"] / max(window["padded_frames"], 1.0)),
                       "data_wait": _fmt(min(window["wait"] / dt, 1.0))}
                train_log.write(row)
                if writer is not None:
                    for key in ("loss", "rnnt", "ctc", "lr", "grad_norm", "audio_s_per_s", "data_wait"):
                        writer.add_scalar(f"train/{key}", float(row[key]), self.step)
                window = {k: 0.0 for k in window}
                window["t"] = now
            if self.step % o.eval_every == 0 or stop:
                last_dev = self.evaluate()
                if last_dev is not None:
                    dev_results.append(last_dev)
                    if self.is_main:
                        dev_log.write({**{k: _fmt(v) if isinstance(v, float) else v for k, v in last_dev.items()},
                                       "audio_hours_total": _fmt(self.audio_seconds / 3600),
                                       "elapsed_s": _fmt(total_elapsed)})
                        if writer is not None:
                            writer.add_scalar("dev/loss", last_dev["dev_loss"], self.step)
                            writer.add_scalar("dev/wer", last_dev["dev_wer"], self.step)
                        self.log(f"step {self.step}: dev loss {last_dev['dev_loss']:.4f}, "
                                 f"greedy WER {100 * last_dev['dev_wer']:.2f}% ({last_dev['dev_utts']} utts)")
                self._maybe_best(last_dev, ema)
            if self.step % o.save_every == 0 or stop:
                self.save_checkpoint()
                last_saved = self.step
            body_done = time.perf_counter()
            if o.stop_after_step is not None and self.step >= o.stop_after_step and not stop:
                stopped_early = True
                break
            if stop:
                break
        bar.close()
        del batches  # shuts loader workers down
        if not stopped_early:
            if last_saved != self.step:
                self.save_checkpoint()
            self.save_model("final", last_dev or {})
            if self.best is None:
                self._maybe_best(last_dev, ema)
        self._check_replicas()
        skip_counts = self._reduce_skips()
        elapsed = time.perf_counter() - start_time
        steps_done = self.step - start_step
        result = TrainResult(
            out=self.out, steps=self.step,
            epochs=(self.epoch + self.batch_in_epoch / self.batches_per_epoch) if not o.is_synth else 0.0,
            audio_hours=self.audio_seconds / 3600, seconds=elapsed,
            steps_per_s=steps_done / max(elapsed, 1e-9),
            audio_s_per_s=(self.audio_seconds - start_audio) / max(elapsed, 1e-9),
            losses=losses, dev=dev_results, skips=skip_counts, best=self.best,
            params=count_parameters(self.model), world_size=self.world, stopped_early=stopped_early)
        if self.is_main:
            self.log(D.summarize_skips(Counter(skip_counts)))
            if writer is not None:
                writer.close()
        return result

    def _reduce_skips(self) -> dict[str, int]:
        """Skip counts summed over all ranks (collective)."""
        if self.world <= 1:
            return dict(self.skips)
        keys = sorted(set(D.REASONS) | set(self.skips) | {"non-finite gradient (step skipped)"})
        local = [float(self.skips.get(k, 0)) for k in keys]
        total = self._all_reduce(local)
        return {k: int(v) for k, v in zip(keys, total) if v}

    def _check_replicas(self) -> None:
        """DDP sanity check: every rank must hold the same weights at the end."""
        if self.world <= 1:
            return
        with torch.no_grad():
            flat = torch.cat([p.detach().float().reshape(-1).cpu() for p in self.module.parameters()])
            checksum = float(flat.double().sum()) + float((flat.double() ** 2).sum())
        hi = self._all_reduce([checksum], dist.ReduceOp.MAX)[0]
        lo = self._all_reduce([checksum], dist.ReduceOp.MIN)[0]
        if hi != lo:
            raise RuntimeError(f"DDP replicas diverged (checksums {lo} .. {hi})")

    def close(self) -> None:
        if self._owns_pg and dist.is_initialized():
            # all ranks reach teardown together: a rank that tears gloo down while its peer is
            # still finishing rank-0 work (the final save) can abort the peer at exit
            try:
                dist.barrier()
            except RuntimeError:
                pass  # a peer already failed; its error is the one to report
            dist.destroy_process_group()


def train(opts: TrainOptions) -> TrainResult:
    """Run training with ``opts``; returns a summary (see :class:`TrainResult`)."""
    trainer = Trainer(opts)
    threads = torch.get_num_threads()
    try:
        trainer.setup()
        return trainer.fit()
    finally:
        trainer.close()
        torch.set_num_threads(threads)  # leave the caller's setting as it was
