"""Store the last step of a training run in a model folder, keeping the folder's lineage.

`memasr average` writes a fresh meta.json and a fresh folder; this keeps the folder's previous
`audio_hours_total` and `history` and adds the run to both, stores the weights in the folder's
own precision (float16 for reference/*, float32 for the shipped default), and keeps the shipped
default's lm.arpa.gz (and its meta.json note) when the run's tokenizer is the folder's, since the
LM is over those pieces. The folder is replaced atomically. Usage:

    .venv/bin/python docs/results/reference_pair/finalize.py RUN_DIR MODEL_DIR "HISTORY TEXT"
    # a continue.sh phase of the pair:
    .venv/bin/python docs/results/reference_pair/finalize.py runs/sr/pair/b/rnnt9 reference/small-baseline \\
        "session w (2026-12-05): phase 9 --init-from reference/small-baseline, ..."
    # a run continued from the shipped default:
    .venv/bin/python docs/results/reference_pair/finalize.py runs/x/default10 src/memasr/pretrained/default "..."

The run's audio-hours are the audio seconds that its last checkpoint records (all processes).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from memasr.atomic import atomic_directory
from memasr.errors import InputError
from memasr.model.checkpoint import LM_FILE, META_FILE, TOKENIZER_FILE, WEIGHTS_FILE
from memasr.train.trainer import list_checkpoints, read_training_checkpoint

def stored_dtype(model_dir: Path) -> str:
    """'float16' or 'float32': the precision of the folder's stored floating-point weights."""
    try:
        weights = torch.load(model_dir / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        floats = [t.dtype for t in weights.values() if torch.is_tensor(t) and t.is_floating_point()]
    except Exception as exc:  # unpickling errors have no common base class
        raise InputError(f"cannot read {model_dir / WEIGHTS_FILE}: {type(exc).__name__}: {exc}") from None
    return "float16" if floats and all(d == torch.float16 for d in floats) else "float32"


def finalize(run: Path, out: Path, history: str) -> str:
    """Replace model folder ``out`` by the last checkpoint of ``run``; returns a summary line."""
    checkpoints = list_checkpoints(run)
    if not checkpoints:
        raise InputError(f"no checkpoints in {run}/checkpoints")
    if not (out / META_FILE).is_file():
        raise InputError(f"{out} is not a model folder with a {META_FILE}")
    last = checkpoints[-1]
    state, _ = read_training_checkpoint(last)
    if "audio_seconds" not in state:
        raise InputError(f"{last} records no audio_seconds (not a memasr train checkpoint)")
    step, hours = state["step"], state["audio_seconds"] / 3600
    old = json.loads((out / META_FILE).read_text())
    missing = [k for k in ("audio_hours_total", "history") if k not in old]
    if missing:
        raise InputError(f"{out / META_FILE} lacks {', '.join(missing)}: not a folder with a training lineage")
    dtype = stored_dtype(out)
    with atomic_directory(out) as tmp:
        fresh = tmp / "average"
        averaged = subprocess.run([sys.executable, "-m", "memasr.cli", "average", str(last), "--out", str(fresh),
                                   "--storage-dtype", dtype], capture_output=True, text=True)
        if averaged.returncode:
            lines = averaged.stderr.strip().splitlines() or [f"exit {averaged.returncode}"]
            raise InputError(f"memasr average {last}: {lines[-1]}")
        for path in fresh.iterdir():
            path.rename(tmp / path.name)
        fresh.rmdir()
        meta = json.loads((tmp / META_FILE).read_text())
        lm = out / LM_FILE
        if lm.is_file() and (tmp / TOKENIZER_FILE).read_bytes() == (out / TOKENIZER_FILE).read_bytes():
            shutil.copy2(lm, tmp / LM_FILE)  # over the same pieces: still valid
            if "lm" in old:
                meta["lm"] = old["lm"]
        meta["audio_hours_total"] = round(old["audio_hours_total"] + hours, 2)
        meta["history"] = f"{old['history']}; {history} ({hours:.2f} h)"
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return f"{out}: step {step}, +{hours:.2f} h, {meta['audio_hours_total']} h in all, stored {dtype}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="memasr train output folder (its checkpoints/)")
    parser.add_argument("out", type=Path, help="model folder to replace (reference/P or the shipped default)")
    parser.add_argument("history", help="what the run was, appended to the folder's history")
    args = parser.parse_args(argv)
    try:
        print(finalize(args.run, args.out, args.history))
    except (InputError, OSError, KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
