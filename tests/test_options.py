"""LABEL=VALUE options of the benchmark scripts: one parser, one-line usage errors."""

import argparse

import pytest

from memasr.commands.options import labelled


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench")
    p.add_argument("--run", action="append", default=[], type=labelled("RUN_DIR"))
    return p


def test_labelled_splits_on_the_first_equals_sign():
    args = _parser().parse_args(["--run", "base=runs/a", "--run", "cmd=x --lr=3"])
    assert args.run == [("base", "runs/a"), ("cmd", "x --lr=3")]


@pytest.mark.parametrize("bad", ["runs/a", "=runs/a", "base="])
def test_labelled_refuses_a_missing_label_or_value_with_one_line(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(["--run", bad])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"bench: error: argument --run: expected LABEL=RUN_DIR, got {bad!r}"
