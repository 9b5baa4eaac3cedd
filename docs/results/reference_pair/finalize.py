"""Store the last step of a continue.sh phase as reference/PRESET, keeping the folder's lineage.

`memasr average` writes a fresh meta.json; this keeps the previous `audio_hours_total` and
`history` of reference/PRESET and adds the new phase to both. Usage (after both presets ran the
same phase):

    .venv/bin/python docs/results/reference_pair/finalize.py small-baseline b rnnt6 "session t (2026-12-05): phase 6 --init-from reference/small-baseline, ..."

The phase's audio-hours are the audio seconds that its last checkpoint records (all processes).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from memasr.atomic import atomic_write
from memasr.errors import InputError
from memasr.train.trainer import list_checkpoints, read_training_checkpoint

ROOT = Path(__file__).resolve().parents[3]


def main(preset: str, name: str, phase: str, history: str) -> int:
    run = ROOT / "runs/sr/pair" / name / phase
    checkpoints = list_checkpoints(run)
    if not checkpoints:
        print(f"error: no checkpoints in {run}/checkpoints", file=sys.stderr)
        return 2
    last = checkpoints[-1]
    try:
        state, _ = read_training_checkpoint(last)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    step, hours = state["step"], state["audio_seconds"] / 3600
    out = ROOT / "reference" / preset
    old = json.loads((out / "meta.json").read_text())
    averaged = subprocess.run([str(ROOT / ".venv/bin/memasr"), "average", str(last), "--out", str(out),
                               "--storage-dtype", "float16"])
    if averaged.returncode:  # memasr average has printed its own one-line error
        return averaged.returncode
    meta = json.loads((out / "meta.json").read_text())
    meta["audio_hours_total"] = round(old["audio_hours_total"] + hours, 2)
    meta["history"] = f"{old['history']}; {history} ({hours:.2f} h)"
    with atomic_write(out / "meta.json") as f:
        f.write(json.dumps(meta, indent=2) + "\n")
    print(f"{out}: step {step}, +{hours:.2f} h, {meta['audio_hours_total']} h in all")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
