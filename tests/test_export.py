import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")

from memasr.data.features import LogMel  # noqa: E402
from memasr.decode.runtime import StreamingRuntime  # noqa: E402
from memasr.deploy.onnx_export import export_onnx  # noqa: E402
from memasr.deploy.ort_runtime import OnnxTransducer  # noqa: E402
from memasr.model.config import EncoderConfig, JoinerConfig, ModelConfig, PredictorConfig  # noqa: E402
from memasr.model.transducer import build_model  # noqa: E402


def _model(cell: str, predictor: str, predictor_cell: str = "lstm"):
    torch.manual_seed(0)
    config = ModelConfig(name="tiny", vocab_size=9, schedule="chunk:4",
                         encoder=EncoderConfig(cell=cell, num_layers=2, hidden_size=16, proj_size=8,
                                               time_reduction=[[1, 2]], layer_norm=True),
                         predictor=PredictorConfig(kind=predictor, cell=predictor_cell, hidden_size=16, embed_dim=8,
                                                   proj_size=8 if predictor_cell == "grc" else 0),
                         joiner=JoinerConfig(dim=12))
    model = build_model(config).eval()
    with torch.no_grad():
        model.joiner.output.bias[0] += 0.3  # some blanks, so the search is not all symbols
        model.normalizer.mean.fill_(-5.0)
        model.normalizer.std.fill_(2.0)
    return model


def _audio(seconds: float = 1.3) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    rng = np.random.default_rng(0)
    return (0.3 * np.sin(2 * np.pi * (150 + 400 * t) * t) * (1 + np.sin(7 * t))
            + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("cell,predictor,predictor_cell", [("grc", "stateless", "lstm"), ("lstm", "rnn", "lstm"),
                                                          ("grc", "rnn", "grc")])
def test_onnx_runtime_matches_torch(tmp_path, cell, predictor, predictor_cell):
    model = _model(cell, predictor, predictor_cell)
    out = export_onnx(model, tmp_path / "exp", int8=True)
    assert sorted(p.name for p in out.glob("*.onnx")) == sorted(
        [f"{n}.onnx" for n in ("features", "encoder", "decoder", "joiner")]
        + [f"{n}.int8.onnx" for n in ("encoder", "decoder", "joiner")])
    asr = OnnxTransducer(out)
    audio = _audio()
    # the feature graph (DFT as matmul + CMVN) equals the torch front end
    reference = model.normalizer(LogMel()(torch.from_numpy(audio))).numpy()
    assert np.allclose(asr.compute_features(audio), reference, atol=2e-3)
    torch_tokens = StreamingRuntime(model, "chunk:4").run_features(LogMel()(torch.from_numpy(audio))).decoder.hyps[0].tokens
    assert torch_tokens and asr.transcribe_ids(audio) == torch_tokens
    assert isinstance(OnnxTransducer(out, int8=True).transcribe(audio), str)


def test_runtime_does_not_import_torch(tmp_path):
    export_onnx(_model("grc", "stateless"), tmp_path / "exp")
    code = (f"import sys, numpy as np; from memasr.deploy.ort_runtime import OnnxTransducer; "
            f"a = OnnxTransducer({str(tmp_path / 'exp')!r}); a.transcribe(np.zeros(16000, np.float32)); "
            f"assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_export_cli(tmp_path, capsys):
    from memasr.cli import main
    from memasr.model.checkpoint import save_pretrained

    save_pretrained(_model("grc", "stateless"), tmp_path / "ckpt")
    assert main(["export", "--model", str(tmp_path / "ckpt"), "--out", str(tmp_path / "exp")]) == 0
    assert (tmp_path / "exp" / "encoder.onnx").is_file()
    assert main(["export", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "x")]) == 2
    assert main(["export", "--model", str(tmp_path / "ckpt"), "--out", str(tmp_path / "x"), "--chunk", "3"]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "multiple" in err and "Traceback" not in err


def test_export_refuses_to_replace_an_unrelated_folder(tmp_path):
    from memasr.errors import InputError

    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("precious")
    with pytest.raises(InputError, match="not an empty folder"):
        export_onnx(_model("grc", "stateless"), keep)
    assert (keep / "notes.txt").read_text() == "precious"


def test_runtime_handles_very_short_audio(tmp_path):
    out = export_onnx(_model("grc", "stateless"), tmp_path / "exp")
    assert OnnxTransducer(out).transcribe_ids(np.zeros(500, np.float32)) == []
