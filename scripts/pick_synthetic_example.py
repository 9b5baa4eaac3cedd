"""Pick the bundled synthetic example: keep the bundled one if the given model still
transcribes it exactly, else the first utterance (shortest first, --min-words to --max-words
words) of a manifest that the model transcribes exactly, copied to src/memasr/examples/.

    .venv/bin/python scripts/pick_synthetic_example.py MODEL_DIR data/corpus/test.jsonl [more manifests...] \
        [--min-words 3] [--max-words 8]

Manifests are tried in order (held-out test voices first); the choice and its source are
printed so the README can say where the example came from.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import torch

from memasr.decode.recognizer import Recognizer
from memasr.evaluate import manifest_items, streaming_transcriber
from memasr.data.audio import load_audio
from memasr.data.tokenizer import normalize_text

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "memasr" / "examples"


def main() -> int:
    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir")
    ap.add_argument("manifests", nargs="+")
    ap.add_argument("--min-words", type=int, default=3)
    ap.add_argument("--max-words", type=int, default=8)
    args = ap.parse_args()
    model_dir, manifests = args.model_dir, args.manifests
    transcribe = streaming_transcriber(Recognizer.from_pretrained(model_dir))
    for current in EXAMPLES.glob("synthetic-*.wav"):  # a stable example across model updates
        text = current.stem[len("synthetic-"):].replace("-", " ")
        if normalize_text(transcribe(load_audio(current)[0])) == text:
            print(f"kept {current.name}: the model transcribes it exactly")
            return 0
    for manifest in manifests:
        items = sorted((i for i in manifest_items(manifest) if args.min_words <= len(i.text.split()) <= args.max_words),
                       key=lambda i: len(i.text))
        for tried, item in enumerate(items):
            audio, _ = load_audio(item.path)
            hyp = normalize_text(transcribe(audio))
            if hyp == item.text:
                for old in EXAMPLES.glob("synthetic-*.wav"):
                    old.unlink()
                target = EXAMPLES / f"synthetic-{item.text.replace(' ', '-')}.wav"
                shutil.copyfile(item.path, target)
                print(f"picked {item.path} ({manifest}, after {tried + 1} tries): {item.text!r} -> {target.name}")
                return 0
        print(f"no exact transcription among {len(items)} utterances of {manifest}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
