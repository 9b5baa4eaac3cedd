"""`memasr train` under torchrun: 2-process DDP on CPU with the gloo backend."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch.distributed as dist

from memasr.model.checkpoint import load_pretrained

from test_train import SENTENCES, SR, TINY, _speech

needs_gloo = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="no gloo backend")


def _two_process_train(tmp_path: Path, *extra: str) -> tuple[dict, Path]:
    """Train the tiny model 4 steps on 2 gloo processes; returns rank 0's JSON summary and the
    output folder."""
    rows = []
    for i, text in enumerate(SENTENCES * 2):  # 6 clips, one per batch: 3 batches per rank per epoch
        path = tmp_path / f"u{i}.wav"
        audio = _speech(text, i)
        sf.write(path, audio, SR)
        rows.append({"audio_filepath": str(path), "duration": len(audio) / SR, "text": text})
    dev = tmp_path / "dev.jsonl"
    dev.write_text("".join(json.dumps(r) + "\n" for r in rows[:3]))
    rows.append({"audio_filepath": str(tmp_path / "missing.wav"), "duration": 1.0, "text": "gone"})
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "memasr.cli", "train", "--config", str(config), "--train", str(manifest),
           "--dev", str(dev), "--out", str(out), "--steps", "4", "--batch-frames", "220",
           "--num-workers", "0", "--quiet", "--json", "--cmvn-utts", "6", "--warmup", "2", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), out  # only rank 0 prints


@needs_gloo
def test_torchrun_two_process_gloo(tmp_path):
    summary, out = _two_process_train(tmp_path)
    assert summary["world_size"] == 2 and summary["steps"] == 4
    assert summary["skipped"] == {"missing audio file": 1}  # counted once, not once per rank
    assert summary["dev_wer"] is not None
    model, tok = load_pretrained(out / "final")
    assert json.loads((out / "final" / "meta.json").read_text())["world_size"] == 2
    assert tok is not None and model.normalizer.fitted


@needs_gloo
def test_torchrun_ctc_only_phase(tmp_path):
    """CTC alone leaves the predictor and joiner without gradients; DDP must not wait for them."""
    summary, out = _two_process_train(tmp_path, "--rnnt-weight", "0", "--ctc-weight", "1")
    assert summary["world_size"] == 2 and summary["steps"] == 4
    assert (out / "final" / "training_heads.pt").is_file()
