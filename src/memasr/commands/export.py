"""``memasr export``: ONNX graphs (+ int8 copies) for onnxruntime deployment."""
from __future__ import annotations

import argparse
from pathlib import Path

from memasr.errors import InputError


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("export", help="export a checkpoint to ONNX for onnxruntime",
                       description="Write features/encoder/decoder/joiner.onnx with metadata and the tokenizer; "
                                   "run them with memasr.deploy.ort_runtime.OnnxTransducer (no torch needed).")
    p.add_argument("--model", required=True, help="checkpoint directory")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--chunk", type=int, help="stacked frames per encoder call (default: the model's chunk:N)")
    p.add_argument("--int8", action="store_true", help="also write dynamic int8 copies (*.int8.onnx)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from memasr.deploy.onnx_export import export_onnx
    from memasr.model.checkpoint import TOKENIZER_FILE, load_pretrained

    if not Path(args.model).is_dir():
        raise InputError(f"model directory not found: {args.model}")
    model, _ = load_pretrained(args.model)
    reduction = model.encoder.total_reduction
    if args.chunk is not None and (args.chunk < 1 or args.chunk % reduction):
        raise InputError(f"--chunk must be a positive multiple of the time reduction ({reduction})")
    tokenizer = Path(args.model) / TOKENIZER_FILE
    out = export_onnx(model, args.out, args.chunk, tokenizer if tokenizer.is_file() else None, args.int8)
    print(f"wrote {', '.join(sorted(p.name for p in out.iterdir()))} to {out}")
    return 0
