"""Speed perturbation (memasr.data.speed): length, pitch, determinism, chaining, training."""
import math
import pickle

import numpy as np
import pytest

from memasr.cli import main
from memasr.data.augment import ChannelAugmentConfig, ChannelAugmenter
from memasr.data.speed import AugmentChain, SpeedPerturbConfig, SpeedPerturbation, chain, change_speed
from memasr.errors import InputError

SR = 16000


def _tone(hz: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _peak_hz(x: np.ndarray) -> float:
    return float(np.argmax(np.abs(np.fft.rfft(x))) * SR / x.size)


@pytest.mark.parametrize("factor", [0.9, 1.1, 1.25])
def test_change_speed_scales_length_and_pitch(factor):
    tone = _tone(1000.0)
    out = change_speed(tone, factor)
    assert out.dtype == np.float32
    assert abs(out.size - tone.size / factor) <= 2
    assert abs(_peak_hz(out) - 1000.0 * factor) <= 3.0
    assert np.abs(out).max() == pytest.approx(0.5, abs=0.02)  # level kept


def test_identity_and_bad_factor():
    tone = _tone(440.0, 0.1)
    same = change_speed(tone, 1.0)
    assert np.array_equal(same, tone) and same is not tone
    assert change_speed(np.zeros(0, np.float32), 1.1).size == 0
    for bad in (0.0, -1.0, float("nan"), float("inf"), 1e-6):
        with pytest.raises(InputError, match="speed factor"):
            change_speed(tone, bad)


def test_draws_are_seeded_in_range_and_about_two_thirds_perturbed():
    a, b = SpeedPerturbation(seed=3), SpeedPerturbation(seed=3)
    factors = [a.factor(i) for i in range(600)]
    assert factors == [b.factor(i) for i in range(600)]
    moved = [f for f in factors if f != 1.0]
    assert all(0.9 <= f <= 1.1 for f in moved)
    assert 0.6 < len(moved) / len(factors) < 0.73
    assert [SpeedPerturbation(seed=3, epoch=1).factor(i) for i in range(20)] != factors[:20]
    assert SpeedPerturbation(SpeedPerturbConfig(prob=0.0)).factor(5) == 1.0


@pytest.mark.parametrize("config", [SpeedPerturbConfig(prob=1.5), SpeedPerturbConfig(factors=(1.1, 0.9)),
                                    SpeedPerturbConfig(factors=(0.2, 1.0)), SpeedPerturbConfig(factors=(0.9, math.nan))])
def test_bad_configs_are_input_errors(config):
    with pytest.raises(InputError, match="speed perturbation"):
        SpeedPerturbation(config)


def test_chain_runs_speed_before_the_channel_and_pickles():
    speed = SpeedPerturbation(SpeedPerturbConfig(prob=1.0, factors=(1.2, 1.2)))
    channel = ChannelAugmenter(ChannelAugmentConfig.only("gain", gain_db=(-6.0, -6.0)))
    both = chain(None, speed, channel)
    assert isinstance(both, AugmentChain) and chain(None, speed) is speed and chain(None) is None
    out = pickle.loads(pickle.dumps(both))(_tone(1000.0), 0)
    assert abs(out.size - SR / 1.2) <= 2 and abs(_peak_hz(out) - 1200.0) <= 3.0
    assert np.abs(out).max() == pytest.approx(0.5 * 10 ** (-6 / 20), abs=0.02)


def test_cli_speed_perturb_values(tmp_path, capsys):
    for bad, message in (("fast", "LOW,HIGH"), ("1.2,0.8", "factors")):
        assert main(["train", "--preset", "small-optimized", "--train", str(tmp_path / "x.jsonl"),
                     "--out", str(tmp_path / "o"), f"--speed-perturb={bad}"]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
