"""Checkpoint averaging: ``memasr average`` over trainer checkpoints and model directories."""
from pathlib import Path

import pytest
import torch

from memasr.cli import main
from memasr.errors import InputError
from memasr.model.checkpoint import load_pretrained, save_pretrained
from memasr.model.config import dump_config
from memasr.model.transducer import build_model
from memasr.train.average import average_state_dicts
from tests.test_model import tiny_config


def _trainer_checkpoint(model, step: int, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"step": step, "model": model.state_dict(), "config": dump_config(model.config),
                "optimizer": {}}, path)


SHIPPED_TOKENIZER = Path(__file__).parents[1] / "src" / "memasr" / "pretrained" / "default" / "tokenizer.model"


def _tokenizer(path: Path, content: bytes | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(SHIPPED_TOKENIZER.read_bytes() if content is None else content)
    return path


def test_run_last_n_averages_the_latest_checkpoints(tmp_path):
    _tokenizer(tmp_path / "run" / "tokenizer.model")
    models = []
    for step in (10, 20, 30):
        torch.manual_seed(step)
        models.append(build_model(tiny_config()))
        _trainer_checkpoint(models[-1], step, tmp_path / "run" / "checkpoints" / f"ckpt-{step:08d}.pt")
    assert main(["average", "--run", str(tmp_path / "run"), "--last", "2", "--out", str(tmp_path / "avg")]) == 0
    averaged, _ = load_pretrained(tmp_path / "avg")
    assert (tmp_path / "avg" / "tokenizer.model").read_bytes() == SHIPPED_TOKENIZER.read_bytes()
    for name, value in averaged.state_dict().items():
        a, b = models[1].state_dict()[name], models[2].state_dict()[name]
        expected = (a.double() + b.double()) / 2 if a.is_floating_point() else b
        assert torch.allclose(value.double(), expected.double(), atol=1e-6), name
    # the first checkpoint took no part
    name = next(k for k, v in models[0].state_dict().items() if v.is_floating_point() and v.std() > 0)
    assert not torch.allclose(averaged.state_dict()[name], models[0].state_dict()[name])


def test_model_directories_average_and_identical_inputs_are_a_fixed_point(tmp_path):
    torch.manual_seed(0)
    model = build_model(tiny_config())
    tok = _tokenizer(tmp_path / "tokenizer.model")
    save_pretrained(model, tmp_path / "a", tok)
    save_pretrained(model, tmp_path / "b", tok)
    assert main(["average", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "avg")]) == 0
    averaged, _ = load_pretrained(tmp_path / "avg")
    for name, value in model.state_dict().items():
        assert torch.equal(averaged.state_dict()[name], value), name


def test_float16_storage_halves_the_weights_and_reads_back_as_float32(tmp_path):
    torch.manual_seed(0)
    model = build_model(tiny_config()).eval()
    tok = _tokenizer(tmp_path / "tokenizer.model")
    save_pretrained(model, tmp_path / "a", tok)
    assert main(["average", str(tmp_path / "a"), "--out", str(tmp_path / "half"), "--storage-dtype", "float16"]) == 0
    stored = torch.load(tmp_path / "half" / "model.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in stored.values() if v.is_floating_point())
    full_size = (tmp_path / "a" / "model.pt").stat().st_size
    assert (tmp_path / "half" / "model.pt").stat().st_size < 0.6 * full_size
    half, _ = load_pretrained(tmp_path / "half")
    for name, value in half.state_dict().items():
        assert value.dtype == model.state_dict()[name].dtype, name
        assert torch.allclose(value, model.state_dict()[name], rtol=1e-3, atol=1e-4), name
    # the float16 model computes what the float32 one does, to float16 rounding
    feats = torch.randn(1, 40, tiny_config().encoder.input_dim)
    lengths = torch.tensor([40])
    with torch.no_grad():
        a, _ = model.transcribe(feats, lengths)
        b, _ = half.transcribe(feats, lengths)
    assert torch.allclose(a, b, atol=5e-3)
    # averaging a float16-stored model with itself keeps its (widened) weights
    assert main(["average", str(tmp_path / "half"), str(tmp_path / "half"), "--out", str(tmp_path / "again")]) == 0
    again, _ = load_pretrained(tmp_path / "again")
    assert all(torch.equal(again.state_dict()[k], v) for k, v in half.state_dict().items())


def test_cli_storage_dtypes_are_the_checkpoint_tables():
    """The CLI names its --storage-dtype choices without importing torch; they must stay the
    checkpoint module's table."""
    import argparse

    from memasr.commands import average
    from memasr.model.checkpoint import STORAGE_DTYPES

    parser = average.register(argparse.ArgumentParser().add_subparsers())
    action = next(a for a in parser._actions if a.dest == "storage_dtype")
    assert tuple(action.choices) == tuple(STORAGE_DTYPES)


def test_integer_entries_come_from_the_last_state():
    out = average_state_dicts([{"w": torch.tensor([1.0, 3.0]), "n": torch.tensor(1)},
                               {"w": torch.tensor([3.0, 5.0]), "n": torch.tensor(7)}])
    assert torch.equal(out["w"], torch.tensor([2.0, 4.0])) and int(out["n"]) == 7
    with pytest.raises(InputError):
        average_state_dicts([{"w": torch.zeros(2)}, {"w": torch.zeros(3)}])


def test_bad_inputs_give_one_line_and_exit_2(tmp_path, capsys):
    torch.manual_seed(0)
    tok = _tokenizer(tmp_path / "tokenizer.model")
    save_pretrained(build_model(tiny_config()), tmp_path / "a", tok)
    save_pretrained(build_model(tiny_config(cell="lstm")), tmp_path / "b", tok)
    save_pretrained(build_model(tiny_config()), tmp_path / "c", _tokenizer(tmp_path / "other.model", b"other"))
    save_pretrained(build_model(tiny_config()), tmp_path / "no-tokenizer")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    torch.save({"model": 3, "config": dump_config(tiny_config())}, tmp_path / "run" / "checkpoints" / "ckpt-00000001.pt")
    _tokenizer(tmp_path / "run" / "tokenizer.model")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("keep me")
    out = str(tmp_path / "out")
    cases = [[str(tmp_path / "a"), str(tmp_path / "b"), "--out", out],  # different models
             [str(tmp_path / "a"), str(tmp_path / "c"), "--out", out],  # different tokenizers
             [str(tmp_path / "no-tokenizer"), "--out", out],
             [str(tmp_path / "missing.pt"), "--out", out], [str(tmp_path / "junk.pt"), "--out", out],
             ["--run", str(tmp_path / "run"), "--last", "1", "--out", out],  # weights not tensors
             ["--out", out], ["--run", str(tmp_path), "--last", "2", "--out", out], ["--last", "2", "--out", out],
             # --out that would destroy a run folder, an input, or a directory that is not a model
             ["--run", str(tmp_path / "run"), "--last", "1", "--out", str(tmp_path / "run")],
             [str(tmp_path / "a"), "--out", str(tmp_path / "a")],
             [str(tmp_path / "a"), "--out", str(tmp_path / "plain")]]
    for args in cases:
        assert main(["average", *args]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("memasr average: error:"), err
    assert not (tmp_path / "out").exists()
    assert (tmp_path / "run" / "checkpoints" / "ckpt-00000001.pt").is_file()
    assert (tmp_path / "plain" / "notes.txt").read_text() == "keep me"


def test_training_heads_are_averaged_and_warm_start_a_run(tmp_path):
    """The averaged folder keeps the mean CTC head and pruned-loss projections, so
    ``--init-from`` on it restores them (a shipped default is such a folder)."""
    from memasr.model.checkpoint import TRAINING_HEADS_FILE
    from memasr.train.trainer import read_init_weights

    _tokenizer(tmp_path / "run" / "tokenizer.model")
    torch.manual_seed(0)
    model = build_model(tiny_config())
    heads = []
    for step in (10, 20):
        head = {"weight": torch.full((3, 2), float(step)), "bias": torch.full((3,), float(step))}
        heads.append(head)
        path = tmp_path / "run" / "checkpoints" / f"ckpt-{step:08d}.pt"
        _trainer_checkpoint(model, step, path)
        state = torch.load(path, weights_only=False)
        torch.save({**state, "ctc_head": head}, path)
    assert main(["average", "--run", str(tmp_path / "run"), "--last", "2", "--out", str(tmp_path / "avg")]) == 0
    saved = torch.load(tmp_path / "avg" / TRAINING_HEADS_FILE, weights_only=True)
    assert set(saved) == {"ctc_head"}
    assert torch.equal(saved["ctc_head"]["weight"], torch.full((3, 2), 15.0))
    init = read_init_weights(tmp_path / "avg")
    assert torch.equal(init.heads["ctc_head"]["bias"], torch.full((3,), 15.0))
    assert init.tokenizer == tmp_path / "avg" / "tokenizer.model"


def test_heads_missing_from_one_input_are_left_out(tmp_path, capsys):
    from memasr.model.checkpoint import TRAINING_HEADS_FILE

    torch.manual_seed(0)
    model = build_model(tiny_config())
    tok = _tokenizer(tmp_path / "tokenizer.model")
    save_pretrained(model, tmp_path / "a", tok, training_heads={"ctc_head": {"w": torch.ones(2)}})
    save_pretrained(model, tmp_path / "b", tok)
    assert main(["average", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "avg")]) == 0
    assert not (tmp_path / "avg" / TRAINING_HEADS_FILE).exists()
    assert "ctc_head are missing from some inputs" in capsys.readouterr().out


def test_malformed_heads_are_one_line_errors(tmp_path, capsys):
    from memasr.model.checkpoint import TRAINING_HEADS_FILE

    torch.manual_seed(0)
    model = build_model(tiny_config())
    tok = _tokenizer(tmp_path / "tokenizer.model")
    save_pretrained(model, tmp_path / "a", tok, training_heads={"ctc_head": {"w": torch.ones(2)}})
    save_pretrained(model, tmp_path / "b", tok, training_heads={"ctc_head": {"w": torch.ones(3)}})
    assert main(["average", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "avg")]) == 2
    err = capsys.readouterr().err
    assert "training head ctc_head w has shape" in err and len(err.strip().splitlines()) == 1
    torch.save({"ctc_head": torch.ones(2)}, tmp_path / "b" / TRAINING_HEADS_FILE)  # a tensor, not a state dict
    assert main(["average", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "avg")]) == 2
    err = capsys.readouterr().err
    assert "usable training head 'ctc_head'" in err and len(err.strip().splitlines()) == 1
