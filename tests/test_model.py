import pytest
import torch

from memasr.errors import InputError
from memasr.model import (ModelConfig, dump_config, list_presets, load_config, load_preset, stack_states,
                          unstack_states)
from memasr.model.checkpoint import load_pretrained, save_pretrained
from memasr.model.config import EncoderConfig, JoinerConfig, PredictorConfig, config_from_dict
from memasr.model.transducer import build_model, count_parameters


def tiny_config(cell: str = "grc", reduction=((1, 2),), predictor: str = "stateless", **enc) -> ModelConfig:
    return ModelConfig(
        name="tiny", vocab_size=11, schedule="chunk:4",
        encoder=EncoderConfig(cell=cell, num_layers=3, hidden_size=16, proj_size=8 if cell != "sru" else 0,
                              time_reduction=[list(r) for r in reduction], **enc),
        predictor=PredictorConfig(kind=predictor, hidden_size=16, embed_dim=8, num_layers=1),
        joiner=JoinerConfig(dim=12))


def test_presets_load_and_have_expected_sizes():
    assert set(list_presets()) >= {"paper-baseline", "paper-optimized", "small-baseline", "small-optimized"}
    sizes = {}
    for name in list_presets():
        with torch.device("meta"):
            sizes[name] = count_parameters(build_model(load_preset(name)))
    assert 110e6 < sizes["paper-baseline"] < 135e6  # He et al. 2019 on-device size
    assert sizes["paper-optimized"] <= sizes["paper-baseline"] / 2
    assert 2e6 <= sizes["small-optimized"] < sizes["small-baseline"] <= 8.5e6
    assert sizes["small-optimized"] <= sizes["small-baseline"] / 2


def test_config_round_trip_and_errors(tmp_path):
    config = load_preset("paper-optimized")
    path = tmp_path / "c.toml"
    path.write_text(dump_config(config))
    assert load_config(path) == config
    with pytest.raises(InputError, match="unknown preset"):
        load_preset("nope")
    with pytest.raises(InputError, match="unknown key"):
        config_from_dict({"encoder": {"width": 3}})
    with pytest.raises(InputError, match="time_reduction"):
        config_from_dict({"encoder": {"num_layers": 2, "time_reduction": [[5, 2]]}})


@pytest.mark.parametrize("cell,reduction,predictor", [
    ("grc", ((1, 2),), "stateless"), ("lstm", ((0, 2), (2, 2)), "rnn"), ("cifg", (), "rnn"), ("sru", ((3, 3),), "stateless")])
def test_transducer_forward_shapes(cell, reduction, predictor):
    torch.manual_seed(0)
    model = build_model(tiny_config(cell, reduction, predictor, layer_norm=True, output_dim=10))
    feats = torch.randn(2, 61, 80)
    lengths = torch.tensor([61, 40])
    targets = torch.randint(1, 12, (2, 5))
    logits, enc_lengths, enc = model(feats, lengths, targets, torch.tensor([5, 3]))
    stacked = (61 - 4) // 3 + 1
    r = model.encoder.total_reduction
    assert logits.shape == (2, -(-stacked // r), 6, 12)
    assert enc.shape[-1] == 10
    assert enc_lengths.tolist() == [-(-stacked // r), -(-((40 - 4) // 3 + 1) // r)]
    logits.logsumexp(-1).sum().backward()


@pytest.mark.parametrize("cell,reduction", [("grc", ((1, 2),)), ("lstm", ((0, 2), (2, 2))), ("sru", ())])
def test_streaming_encoder_equals_whole_both_schedules(cell, reduction):
    torch.manual_seed(0)
    model = build_model(tiny_config(cell, reduction)).eval()
    r = model.encoder.total_reduction
    x = torch.randn(2, 12 * r, model.encoder.input_dim)
    whole, _, _ = model.encoder(x, torch.tensor([x.shape[1]] * 2))
    for layer_major in (True, False):
        state, outs = None, []
        for piece in x.split([2 * r, r, 5 * r, 4 * r], dim=1):
            out, state = model.transcribe_streaming(piece, state, layer_major=layer_major)
            outs.append(out)
        assert torch.allclose(torch.cat(outs, 1), whole, atol=1e-5)


@pytest.mark.parametrize("cell,reduction", [("grc", ((1, 2),)), ("lstm", ((0, 2), (2, 2)))])
def test_batched_transcribe_equals_one_utterance_at_a_time(cell, reduction):
    """Batch padding must not leak into an utterance's last frames: the time reduction pairs an
    odd-length utterance's last frame with a padded one, which must be the zero frame that
    streaming (and a batch of one) appends."""
    torch.manual_seed(0)
    model = build_model(tiny_config(cell, reduction)).eval()
    model.normalizer.mean.fill_(1.5)  # raw zero padding then normalizes to a non-zero frame
    feats = torch.randn(2, 61, model.config.encoder.input_dim)
    lengths = torch.tensor([61, 36])  # 36 frames stack to an odd count, padded within the batch
    with torch.no_grad():
        batched, batched_lengths = model.transcribe(feats, lengths)
        for b in range(2):
            alone, alone_lengths = model.transcribe(feats[b:b + 1, :int(lengths[b])], lengths[b:b + 1])
            assert int(alone_lengths) == int(batched_lengths[b])
            n = int(alone_lengths)
            assert torch.allclose(batched[b, :n], alone[0, :n], atol=1e-5), b


def test_stack_and_unstack_states():
    torch.manual_seed(0)
    model = build_model(tiny_config("lstm", ((1, 2),), "rnn")).eval()
    x = torch.randn(3, 8, model.encoder.input_dim)
    _, batched = model.transcribe_streaming(x, None)
    singles = [model.transcribe_streaming(x[i:i + 1], None)[1] for i in range(3)]
    restacked = stack_states(singles)
    for layer_a, layer_b in zip(restacked, batched):
        for a, b in zip(layer_a, layer_b):
            assert torch.allclose(a, b, atol=1e-6)
    for single, split in zip(singles, unstack_states(batched)):
        for layer_a, layer_b in zip(single, split):
            for a, b in zip(layer_a, layer_b):
                assert torch.allclose(a, b, atol=1e-6)
    # predictor states too
    _, _, pstate = model.predict(torch.tensor([[1, 2], [3, 4], [5, 6]]), torch.tensor([2, 2, 2]))
    assert len(unstack_states(pstate)) == 3
    assert all(torch.equal(a, b) for a, b in zip(stack_states(unstack_states(pstate)), pstate))


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_model(tiny_config())
    model.normalizer.mean.fill_(0.5)
    out = save_pretrained(model, tmp_path / "ckpt", meta={"step": 3})
    save_pretrained(model, out)  # overwriting is atomic and leaves no temp dirs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    loaded, tokenizer = load_pretrained(out)
    assert tokenizer is None and loaded.config == model.config
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    with pytest.raises(InputError, match="not a memasr model"):
        load_pretrained(tmp_path)


@pytest.mark.parametrize("encoder,message", [
    ({"time_reduction": [[1, 2], [1, 2]]}, "time_reduction"),
    ({"time_reduction": [[1]]}, "time_reduction"),
    ({"num_layers": "x"}, "num_layers"),
    ({"stack_stride": 0}, "stack_stride"),
    ({"cell": "grc", "hidden_size": 100, "groups": 8}, "groups"),
    ({"cell": "sru", "proj_size": 4}, "projection"),
])
def test_bad_configs_are_input_errors(encoder, message):
    with pytest.raises(InputError, match=message):
        config_from_dict({"encoder": encoder})


def test_corrupt_weights_are_input_errors(tmp_path):
    out = save_pretrained(build_model(tiny_config()), tmp_path / "ckpt")
    (out / "model.pt").write_bytes(b"\x80\x04garbage" * 10)
    with pytest.raises(InputError, match="cannot read model"):
        load_pretrained(out)
