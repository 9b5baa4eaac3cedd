"""LABEL=VALUE options of the benchmark scripts: one parser, one-line usage errors."""

import argparse

import pytest

from memasr.commands.options import labelled
from tests.scripts import load_script


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


@pytest.mark.parametrize("script, argv, message", [
    ("benchmarks/side_by_side.py", ["--run", "runs/a"], "argument --run: expected LABEL=RUN_DIR, got 'runs/a'"),
    ("benchmarks/side_by_side.py", ["--run", "a=runs/a", "--run-command", "a"],
     "argument --run-command: expected LABEL=TEXT, got 'a'"),
    ("benchmarks/train_throughput.py", ["--parts", "d", "--run", "=runs/a"],
     "argument --run: expected LABEL=DIR, got '=runs/a'"),
    ("benchmarks/fit_gap.py", ["--model", "reference/x"], "argument --model: expected LABEL=DIR, got 'reference/x'"),
])
def test_scripts_refuse_a_bad_label_spec_before_any_work(script, argv, message, capsys):
    main = load_script(script).main
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message)
