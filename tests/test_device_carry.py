"""scripts/device/prepare_carry.sh places every runtime dependency, and the device's training
path (`memasr train --train synth:` without --augment) imports none of those it leaves out."""
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "device" / "prepare_carry.sh"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _shell_list(name: str) -> set[str]:
    """The names in prepare_carry.sh's NAME="..." (may span lines)."""
    m = re.search(rf'^{name}="([^"]*)"', SCRIPT.read_text(), re.M)
    assert m, f"{name} not found in {SCRIPT}"
    return {_norm(n) for n in m.group(1).split()}


def test_every_runtime_dependency_is_placed_once():
    carried, device, left = (_shell_list(n) for n in ("FROM_PYPROJECT", "DEVICE_HAS", "LEFT_OUT"))
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:
        name = _norm(re.split(r"[ ;<>=!~(\[]", dep.strip())[0])
        places = [p for p, names in (("carried", carried), ("device", device), ("left out", left)) if name in names]
        assert len(places) == 1, f"{name}: {places or 'not placed'} (edit FROM_PYPROJECT/DEVICE_HAS/LEFT_OUT)"
    # the engines the device trains on need these (parselmouth: flite's rms voice has no pitch control)
    assert {"praat-parselmouth", "espeakng-loader", "soundfile", "soxr"} <= carried


# Modules of the packages left out (or, scipy, only used by --augment), none of which the device has.
LEFT_OUT_MODULES = ("pyroomacoustics", "home_assistant_intents", "kaldi_native_fbank", "piper", "scipy")


def test_synth_training_path_imports_no_left_out_package(tmp_path):
    pool = tmp_path / "pool.txt"
    pool.write_text("turn on the light\nwhat time is it\n")
    code = f"""
import json, sys
import memasr.cli, memasr.commands.train
from memasr.train import trainer, data
from memasr.data import synth, text, features
from memasr.data.text import load_text_pool
assert load_text_pool() == ["turn on the light", "what time is it"]
synth.unmet_requirement("espeak-ng"), synth.unmet_requirement("flite")
print(json.dumps(sorted(m for m in {LEFT_OUT_MODULES!r} if m in sys.modules)))
"""
    env = {**os.environ, "MEMASR_TEXT_POOL": str(pool), "PYTHONPATH": str(REPO / "src")}
    env.pop("MEMASR_TEXT_POOL_SHA256", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
