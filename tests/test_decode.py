"""Streaming runtime and searches: streaming == full utterance, frame == chunk, beam >= greedy."""
from __future__ import annotations

import pytest
import torch

from memasr.data.features import LogMel
from memasr.decode.beam import beam_search, init_beam_state, modified_beam_search
from memasr.decode.greedy import greedy_search, init_greedy_state
from memasr.decode.recognizer import Recognizer, RecognizerConfig
from memasr.decode.runtime import StreamingRuntime
from memasr.errors import InputError
from memasr.model.config import load_preset
from memasr.model.transducer import build_model
from test_decode_models import decode_all, speechlike, tiny_model

SCHEDULES = ["frame", "chunk:2", "chunk:4", "chunk:8", "chunk:16"]


def _full(model, audio):
    """Whole-utterance reference: encoder outputs and greedy tokens."""
    feats = LogMel()(torch.from_numpy(audio))
    enc, _ = model.transcribe(feats[None], torch.tensor([feats.shape[0]]))
    state = greedy_search(model, model.joiner.project_encoder(enc), init_greedy_state(model), 3)
    return enc[0], state.hyps[0]


def _streamed_encoder(model, audio, schedule):
    """Encoder outputs of the runtime, piece by piece, under ``schedule``."""
    runtime = StreamingRuntime(model, schedule)
    feats = LogMel()(torch.from_numpy(audio))
    stacked, _ = model.stack(feats[None], torch.tensor([feats.shape[0]]))
    stacked = torch.nn.functional.pad(stacked, (0, 0, 0, (-stacked.shape[1]) % model.encoder.total_reduction))
    outs, state = [], None
    with torch.no_grad():
        for start in range(0, stacked.shape[1], runtime.step_frames):
            enc, state = model.transcribe_streaming(stacked[:, start:start + runtime.step_frames], state,
                                                    runtime.schedule.layer_major)
            outs.append(enc)
    return torch.cat(outs, dim=1)[0]


@pytest.mark.parametrize("kind", ["lstm", "grc"])
def test_streaming_equals_full_tiny(kind):
    model = tiny_model(kind)
    audio = speechlike(2.13)  # not a whole number of chunks
    with torch.no_grad():
        enc_full, hyp_full = _full(model, audio)
    assert hyp_full.tokens, "the test model should emit some tokens"
    for schedule in SCHEDULES:
        enc = _streamed_encoder(model, audio, schedule)
        torch.testing.assert_close(enc, enc_full, atol=1e-5, rtol=1e-5)
        rec = Recognizer(model, None, RecognizerConfig(schedule=schedule))
        s = decode_all(rec, audio, pieces=[1234, 4000, 77, 9000])
        assert rec.get_result(s).token_ids == hyp_full.tokens, schedule
        assert s.frames_done == enc_full.shape[0]


@pytest.mark.parametrize("preset", ["small-optimized", "small-baseline"])
def test_streaming_equals_full_presets(preset):
    torch.manual_seed(0)
    model = build_model(load_preset(preset)).eval()
    audio = speechlike(0.6)
    with torch.no_grad():
        enc_full, hyp_full = _full(model, audio)
    for schedule in ["frame", "chunk:8"]:
        torch.testing.assert_close(_streamed_encoder(model, audio, schedule), enc_full, atol=1e-5, rtol=1e-5)
        rec = Recognizer(model, None, RecognizerConfig(schedule=schedule))
        assert rec.get_result(decode_all(rec, audio)).token_ids == hyp_full.tokens


@pytest.mark.parametrize("method", ["greedy", "modified_beam_search", "beam_search"])
def test_frame_and_chunk_schedules_give_identical_results(method):
    model = tiny_model("grc", seed=1)
    audio = speechlike(0.6 if method == "beam_search" else 1.0, seed=1)
    results = []
    for schedule in (["frame", "chunk:2", "chunk:8"] if method == "beam_search" else SCHEDULES):
        rec = Recognizer(model, None, RecognizerConfig(schedule=schedule, decoding_method=method))
        s = decode_all(rec, audio)
        r = rec.get_result(s)
        results.append((r.token_ids, r.timestamps, round(rec.score(s), 3)))
    assert all(r == results[0] for r in results[1:])


def test_chunk_must_be_multiple_of_reduction():
    with pytest.raises(InputError, match="multiple"):
        Recognizer(tiny_model(), None, RecognizerConfig(schedule="chunk:3"))
    with pytest.raises(InputError, match="method"):
        Recognizer(tiny_model(), None, RecognizerConfig(decoding_method="viterbi"))


def _enc_proj(model, audio):
    feats = LogMel()(torch.from_numpy(audio))
    with torch.no_grad():
        enc, _ = model.transcribe(feats[None], torch.tensor([feats.shape[0]]))
        return model.joiner.project_encoder(enc)


@pytest.mark.parametrize("kind", ["lstm", "grc"])
@pytest.mark.parametrize("seed", [0, 1])
def test_beam_never_scores_below_greedy(kind, seed):
    """Same topology, same input: the best beam hypothesis scores >= greedy's path."""
    model = tiny_model(kind, seed=seed)
    enc_proj = _enc_proj(model, speechlike(0.8, seed=seed))
    with torch.no_grad():
        for width in (1, 4):
            # modified beam search: one symbol per frame, like greedy with max_symbols_per_frame=1
            greedy1 = greedy_search(model, enc_proj, init_greedy_state(model), 1).hyps[0]
            mbs = modified_beam_search(model, enc_proj, [init_beam_state(model)], width)[0].best()
            assert mbs.score >= greedy1.score - 1e-6
            if width == 1:
                assert list(mbs.tokens) == greedy1.tokens
            # standard beam search against greedy with the same max symbols per frame
            greedy3 = greedy_search(model, enc_proj, init_greedy_state(model), 3).hyps[0]
            bs = beam_search(model, enc_proj, init_beam_state(model), width, 3).best()
            assert bs.score >= greedy3.score - 1e-6


def test_beam_search_carries_hypotheses_across_chunks():
    model = tiny_model("grc", seed=3)
    enc_proj = _enc_proj(model, speechlike(0.7, seed=4))
    with torch.no_grad():
        whole_m = modified_beam_search(model, enc_proj, [init_beam_state(model)], 4)[0].best()
        whole_b = beam_search(model, enc_proj, init_beam_state(model), 4, 3).best()
        sm, sb = [init_beam_state(model)], init_beam_state(model)
        for start in range(0, enc_proj.shape[1], 3):
            sm = modified_beam_search(model, enc_proj[:, start:start + 3], sm, 4)
            sb = beam_search(model, enc_proj[:, start:start + 3], sb, 4, 3)
    assert sm[0].best().tokens == whole_m.tokens and sm[0].best().frames == whole_m.frames
    assert sb.best().tokens == whole_b.tokens
    assert sm[0].best().score == pytest.approx(whole_m.score, abs=1e-6)
    assert sb.best().score == pytest.approx(whole_b.score, abs=1e-6)
