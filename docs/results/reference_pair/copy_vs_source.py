"""Decode real-test twice with one recognizer: from the packages' own files (as
benchmarks/reference_models.py reads them) and from the 16-bit copies that
`memasr.data.evalsets.write_manifest` wrote for data/real-test.jsonl (as `memasr eval` reads
them); print the clips whose text differs and both WERs. Usage:

    .venv/bin/python docs/results/reference_pair/copy_vs_source.py reference/small-baseline
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

from eval_views import real_views  # noqa: E402
from memasr.data.audio import DEFAULT_SR, load_audio  # noqa: E402
from memasr.data.manifest import read_manifest  # noqa: E402
from memasr.data.tokenizer import normalize_text  # noqa: E402
from memasr.decode.recognizer import Recognizer, RecognizerConfig  # noqa: E402
from memasr.evaluate import score, streaming_transcriber  # noqa: E402


def main(model: str, manifest: str = "data/real-test.jsonl") -> int:
    view = next(v for v in real_views(["real-test"])[0] if v.name == "real-test")
    # write_manifest keeps each clip's source id beside the copy's path
    copies = {e["id"]: e for e in read_manifest(manifest)}
    transcribe = streaming_transcriber(Recognizer.from_pretrained(model, RecognizerConfig(enable_endpoint=False)))
    refs, from_source, from_copy = [], [], []
    for it in view.items:
        copy = copies[it.id]
        x, _ = load_audio(it.path, DEFAULT_SR)
        y, _ = load_audio(copy["audio_filepath"], DEFAULT_SR)
        a, b = transcribe(x), transcribe(y)
        refs.append(normalize_text(copy["text"]))
        from_source.append(a)
        from_copy.append(b)
        if a != b:
            n = min(len(x), len(y))
            print(f"{it.id} | source: {a} | copy: {b} | max sample difference {float(np.abs(x[:n] - y[:n]).max()):.2g}")
    changed = sum(a != b for a, b in zip(from_source, from_copy))
    print(f"{changed} of {len(refs)} clips differ; WER from the source files {100 * score(refs, from_source)['wer']:.1f}%, "
          f"from the copies {100 * score(refs, from_copy)['wer']:.1f}%")
    return 0


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
