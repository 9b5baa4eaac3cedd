import json

import pytest

from memasr.cli import main

TOTAL_KEYS = {"params", "weight_bytes", "offchip_bytes_per_s", "onchip_bytes_per_s", "macs_per_s",
              "energy_mj_per_s", "offchip_energy_share", "latency_ms"}


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_json_totals_have_the_contract_keys(capsys):
    status, out, _ = run(capsys, "analyze", "--preset", "small-optimized", "--json")
    assert status == 0
    lines = out.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert TOTAL_KEYS <= set(record["totals"])
    assert record["schedule"] == "chunk:8" and record["totals"]["latency_ms"] == 210.0


def test_table_and_overrides(capsys):
    status, out, _ = run(capsys, "analyze", "--preset", "small-baseline", "--buffer", "512KiB", "--bits", "4",
                         "--schedule", "chunk:4", "--beam", "4", "--token-rate", "6")
    assert status == 0
    assert "buffer 512 KiB" in out and "4-bit" in out and "chunk:4" in out and "total" in out


def test_compare_prints_ratios(capsys):
    status, out, _ = run(capsys, "analyze", "--compare", "paper-baseline", "paper-optimized", "--json")
    assert status == 0
    ratios = json.loads(out)["ratios"]
    assert ratios["offchip_bytes_per_s"] >= 4.5 and ratios["params"] >= 2.0


def test_sweep_writes_plot(capsys, tmp_path):
    plot = tmp_path / "sweep.png"
    status, out, _ = run(capsys, "analyze", "--preset", "small-baseline", "--preset", "small-optimized",
                         "--sweep", "buffer=256KiB..1MiB", "--plot", str(plot))
    assert status == 0 and plot.stat().st_size > 1000
    assert out.count("small-baseline") == 3


@pytest.mark.parametrize("argv,message", [
    (["--preset", "nope"], "unknown preset"),
    (["--preset", "small-baseline", "--buffer", "2XB"], "malformed size"),
    (["--preset", "small-baseline", "--bits", "0"], "--bits"),
    (["--preset", "small-baseline", "--bits", "-4"], "--bits"),
    (["--preset", "small-baseline", "--schedule", "chunk:0"], "chunk size"),
    (["--preset", "small-baseline", "--profile", "/nonexistent/profile.toml"], "not found"),
    (["--preset", "small-baseline", "--sweep", "buffer=8MiB..1MiB"], "LOW is above HIGH"),
])
def test_bad_input_is_one_line_and_status_2(capsys, argv, message):
    status, out, err = run(capsys, "analyze", *argv)
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_corrupt_profile(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("onchip_bytes = [[[")
    status, _, err = run(capsys, "analyze", "--preset", "small-baseline", "--profile", str(bad))
    assert status == 2 and "not valid TOML" in err
    bad.write_text("onchip_bytes = 1024\nweight_bits = 0\n")
    status, _, err = run(capsys, "analyze", "--preset", "small-baseline", "--profile", str(bad))
    assert status == 2 and "weight_bits" in err


def test_argparse_errors_are_status_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["analyze", "--bits", "eight"])
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err
