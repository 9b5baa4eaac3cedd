"""docs/results/reference_pair/finalize.py: a run's last step replaces a model folder, lineage kept."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from memasr.model.checkpoint import load_pretrained, save_pretrained
from memasr.model.config import dump_config
from memasr.model.transducer import build_model
from tests.scripts import load_script
from tests.test_average import SHIPPED_TOKENIZER, _tokenizer
from tests.test_model import tiny_config

def _load():
    return load_script("docs/results/reference_pair/finalize.py")


def _run(tmp_path: Path, steps: tuple[int, ...]) -> tuple[Path, list]:
    run = tmp_path / "run"
    _tokenizer(run / "tokenizer.model")
    models = []
    for step in steps:
        torch.manual_seed(step)
        models.append(build_model(tiny_config()))
        path = run / "checkpoints" / f"ckpt-{step:08d}.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"step": step, "model": models[-1].state_dict(), "config": dump_config(models[-1].config),
                    "optimizer": {}, "audio_seconds": 3600.0 * step / 10}, path)
    return run, models


def _folder(path: Path, dtype: str) -> Path:
    torch.manual_seed(99)
    save_pretrained(build_model(tiny_config()), path, SHIPPED_TOKENIZER,
                    {"audio_hours_total": 100.0, "history": "first run", "lm": "how the LM was built"},
                    training_heads={"ctc_head": {"w": torch.zeros(2)}}, storage_dtype=dtype)
    (path / "lm.arpa.gz").write_bytes(b"not really an LM")
    return path


def test_last_step_replaces_folder_keeping_lineage_dtype_and_extra_files(tmp_path):
    finalize = _load()
    run, models = _run(tmp_path, (10, 20))
    for dtype, torch_dtype in (("float16", torch.float16), ("float32", torch.float32)):
        out = _folder(tmp_path / dtype, dtype)
        line = finalize.finalize(run, out, "second run")
        assert "step 20" in line and "102.0 h in all" in line
        meta = json.loads((out / "meta.json").read_text())
        assert meta["audio_hours_total"] == 102.0
        assert meta["history"] == "first run; second run (2.00 h)"
        assert (out / "lm.arpa.gz").read_bytes() == b"not really an LM"  # same tokenizer: the LM stays
        assert meta["lm"] == "how the LM was built"
        assert not (out / "training_heads.pt").exists()  # the run's checkpoints have none: old heads must go
        stored = torch.load(out / "model.pt", weights_only=True)
        assert {t.dtype for t in stored.values() if t.is_floating_point()} == {torch_dtype}
        loaded, _ = load_pretrained(out)
        for name, value in models[-1].state_dict().items():  # the last checkpoint, not the first
            assert torch.allclose(loaded.state_dict()[name].float(), value.to(torch_dtype).float()), name
        assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary folder left


def test_new_tokenizer_drops_the_lm(tmp_path):
    finalize = _load()
    run, _ = _run(tmp_path, (10,))
    (run / "tokenizer.model").write_bytes(SHIPPED_TOKENIZER.read_bytes() + b"\0")  # other pieces
    out = _folder(tmp_path / "m", "float32")
    finalize.finalize(run, out, "retokenized")
    assert not (out / "lm.arpa.gz").exists() and "lm" not in json.loads((out / "meta.json").read_text())


def test_failures_are_one_error_line_and_leave_the_folder_untouched(tmp_path, capsys):
    finalize = _load()
    out = _folder(tmp_path / "m", "float16")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    run, _ = _run(tmp_path, (10,))
    (run / "tokenizer.model").unlink()  # memasr average fails inside the atomic swap
    for argv, start in (([str(tmp_path / "nope"), str(out), "x"], "error: no checkpoints"),
                        ([str(run), str(out), "x"], "error: memasr average")):
        assert finalize.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(start), err
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "run"]  # no temporary folder left
