"""Log-mel front end: equal to kaldi-native-fbank (sherpa-onnx's settings), streaming equals
whole-utterance for both framings, shapes, filters, CMVN."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from memasr.data.features import FeatureConfig, GlobalCMVN, LogMel, StreamingLogMel, mel_filterbank
from memasr.errors import InputError


def _speechlike(n: int, seed: int = 0) -> torch.Tensor:
    """Tones + noise with a silent gap (exercises the log floor path)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n) / 16000
    x = 0.3 * torch.sin(2 * torch.pi * 440 * t) + 0.05 * torch.randn(n, generator=g)
    x[n // 3: n // 2] = 0.0
    return x


@pytest.mark.parametrize("n,expected", [(0, 0), (399, 0), (400, 1), (559, 1), (560, 2), (16000, 98)])
def test_frame_count_formula_snip_edges(n, expected):
    cfg = FeatureConfig.legacy()
    assert cfg.win_length == 400 and cfg.hop_length == 160
    assert cfg.num_frames(n) == expected
    assert LogMel(cfg)(torch.zeros(n) + 0.01).shape == (expected, 80)


@pytest.mark.parametrize("n,expected", [(0, 0), (79, 0), (80, 1), (239, 1), (240, 2), (16000, 100)])
def test_frame_count_formula_centred(n, expected):
    cfg = FeatureConfig()
    assert not cfg.snip_edges
    assert cfg.num_frames(n) == expected
    assert LogMel(cfg)(torch.zeros(n) + 0.01).shape == (expected, 80)


@pytest.mark.parametrize("n", [80, 300, 400, 4000, 16123])
def test_default_front_end_equals_kaldi_native_fbank(n):
    """The default config is sherpa-onnx's: compare with kaldi-native-fbank configured as it does."""
    knf = pytest.importorskip("kaldi_native_fbank")
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = False
    opts.mel_opts.num_bins = 80
    opts.mel_opts.low_freq = 20.0
    opts.mel_opts.high_freq = -400.0
    x = _speechlike(n, seed=n)
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(16000, x.tolist())
    fbank.input_finished()
    ref = torch.tensor(np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)]))
    ours = LogMel()(x)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, atol=2e-3, rtol=0)  # float32 FFT rounding only


def test_shapes_batch_and_numpy():
    x = _speechlike(8000)
    lm = LogMel()
    single = lm(x)
    assert single.shape == (50, 80) and single.dtype == torch.float32
    batch = lm(torch.stack([x, 0.5 * x]))
    assert batch.shape == (2, 50, 80)
    torch.testing.assert_close(batch[0], single)
    # halving amplitude lowers power by 4x: log-mel drops by log(4) where above the floor
    loud = single > -15
    torch.testing.assert_close(batch[1][loud], single[loud] - np.log(4.0), atol=1e-3, rtol=0)
    torch.testing.assert_close(lm(x.numpy()), single)


def test_frames_depend_only_on_their_window():
    x = _speechlike(4000)
    lm = LogMel(FeatureConfig.legacy())
    full = lm(x)
    k = 7
    alone = lm(x[k * 160: k * 160 + 400])
    torch.testing.assert_close(alone[0], full[k], atol=1e-5, rtol=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cfg", [FeatureConfig(), FeatureConfig.legacy()], ids=["centred", "snip"])
def test_streaming_equals_whole(seed, cfg):
    x = _speechlike(16000 * 2 + 123, seed)
    whole = LogMel(cfg)(x)
    stream = StreamingLogMel(cfg)
    rng = np.random.default_rng(seed)
    outs, i = [], 0
    while i < len(x):
        n = int(rng.choice([1, 7, 159, 160, 161, 399, 400, 1000, 3333]))
        out = stream.accept(x[i:i + n])
        assert out.shape[1] == 80
        outs.append(out)
        i += n
    outs.append(stream.flush())
    got = torch.cat(outs)
    assert got.shape == whole.shape
    torch.testing.assert_close(got, whole, atol=1e-5, rtol=0)


def test_streaming_reset_between_utterances():
    x = _speechlike(3000)
    stream = StreamingLogMel()
    first = stream.accept(x)
    stream.accept(torch.ones(250))  # leftover from an abandoned utterance
    stream.flush()
    torch.testing.assert_close(stream.accept(x), first)


def test_mel_filterbank_covers_band():
    fb = mel_filterbank(FeatureConfig())
    assert fb.shape == (257, 80)
    assert (fb.sum(0) > 0).all()  # no empty filter
    assert fb.max() <= 1.0 and fb.min() >= 0.0
    # centres increase with the filter index
    centres = fb.argmax(0)
    assert (centres[1:] >= centres[:-1]).all()
    # a 1 kHz tone peaks in the filter centred near 1 kHz (HTK mel ~ 1000)
    t = torch.arange(16000) / 16000
    feats = LogMel()(torch.sin(2 * torch.pi * 1000 * t))
    peak = int(feats.mean(0).argmax())
    assert abs(int(centres[peak]) - 32) <= 1  # bin 32 = 1000 Hz at n_fft 512


def test_hann_window_and_options():
    x = _speechlike(4000)
    a = LogMel(FeatureConfig(window="hann", preemphasis=0.0, remove_dc_offset=False))(x)
    b = LogMel()(x)
    assert a.shape == b.shape and not torch.allclose(a, b)
    d1 = LogMel(FeatureConfig(dither=1e-3))(x)
    assert torch.isfinite(d1).all() and not torch.equal(d1, b)


@pytest.mark.parametrize("kwargs", [
    {"n_fft": 256}, {"window": "hamming"}, {"hop_ms": 0}, {"low_freq": 9000.0}, {"n_mels": 0},
    {"n_mels": 200},  # filters narrower than an FFT bin
])
def test_bad_config(kwargs):
    with pytest.raises(InputError):
        LogMel(FeatureConfig(**kwargs))


def test_bad_input():
    with pytest.raises(InputError):
        LogMel()(torch.zeros(2, 2, 800))
    with pytest.raises(InputError):
        LogMel()(torch.zeros(800, dtype=torch.int16))
    with pytest.raises(InputError):
        StreamingLogMel().accept(torch.zeros(2, 400))


def test_cmvn_fit_and_apply():
    g = torch.Generator().manual_seed(0)
    mean = torch.linspace(-5, 5, 80)
    std = torch.linspace(0.5, 3, 80)
    chunks = [mean + std * torch.randn(n, 80, generator=g) for n in (500, 1300, 1, 2200)]
    cmvn = GlobalCMVN(80)
    assert not cmvn.fitted
    cmvn.fit(iter(chunks))  # any iterable, consumed once
    assert cmvn.fitted and int(cmvn.count) == 4001
    allf = torch.cat(chunks).double()
    torch.testing.assert_close(cmvn.mean, allf.mean(0).float(), atol=1e-5, rtol=0)
    torch.testing.assert_close(cmvn.std, allf.std(0, unbiased=False).float(), atol=1e-5, rtol=1e-5)
    out = cmvn(torch.cat(chunks))
    assert out.mean(0).abs().max() < 1e-4 and (out.std(0) - 1).abs().max() < 1e-3
    assert cmvn(torch.stack(chunks[:1] * 2)).shape == (2, 500, 80)  # [B, F, 80] too

    # statistics travel in the state dict
    other = GlobalCMVN(80)
    other.load_state_dict(cmvn.state_dict())
    torch.testing.assert_close(other(chunks[0]), cmvn(chunks[0]))
    assert set(cmvn.state_dict()) == {"mean", "std", "count"}


def test_cmvn_constant_channel_and_errors():
    feats = torch.randn(100, 80)
    feats[:, 3] = -23.0  # e.g. a band always at the log floor
    cmvn = GlobalCMVN(80).fit([feats])
    assert torch.isfinite(cmvn(feats)).all()
    with pytest.raises(InputError):
        GlobalCMVN(80).fit([])
    with pytest.raises(InputError):
        GlobalCMVN(80).fit([torch.zeros(10, 40)])
