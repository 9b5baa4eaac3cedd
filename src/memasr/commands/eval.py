"""``memasr eval``: word and character error rates of a model on a manifest.

    memasr eval --model runs/a/best --manifest data/corpus/test.jsonl
    memasr eval --model runs/a/best --manifest test.jsonl --method modified_beam_search --beam 4 --json
    memasr eval --model runs/a/best --manifest test.jsonl --limit 100 --details rows.jsonl
    memasr eval --model runs/a/best --manifest test.jsonl --lm lm.arpa --lm-scale 0.2 --length-bonus 1   # see `memasr lm`

Every clip is streamed through the recognizer in 100 ms blocks, as a live
stream would be. References and hypotheses are normalized the same way as the
training targets (lower case, punctuation dropped, digits spelled out) before
WER and CER are computed with jiwer. The real-time factor is decoding time /
audio time (reading and resampling the files are not timed).

A missing model directory or a missing or malformed manifest is an error (exit
2). An unreadable audio entry gets one error line on stderr (the first
``LISTED_UNREADABLE``; later ones are only counted) and the rest are scored; the
exit status is 2 at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from memasr.commands.decoding import add_decoding_arguments, decoding_config
from memasr.errors import InputError

if TYPE_CHECKING:  # parsing the command line imports no torch
    from memasr.decode.recognizer import RecognizerConfig



def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "eval",
        help="WER, CER and real-time factor of a model on a manifest",
        description="Stream every clip of a JSONL manifest (audio_filepath, text) through a model and "
        "report WER and CER (substitutions, deletions, insertions) and the real-time factor.",
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, metavar="DIR",
                   help="model directory (config.toml + model.pt + tokenizer.model), e.g. OUT/best of memasr train")
    p.add_argument("--manifest", required=True, metavar="M.jsonl", help="JSONL manifest with audio_filepath and text")
    add_decoding_arguments(p)
    p.add_argument("--limit", type=int, default=0, metavar="N", help="score only the first N entries (0 = all)")
    p.add_argument("--threads", type=int, help="CPU threads for decoding (default: torch's default)")
    p.add_argument("--details", metavar="FILE.jsonl", help="also write one JSON row per utterance "
                   "(id, ref, hyp, seconds, audio_seconds, S/D/I)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=run)
    return p


LISTED_UNREADABLE = 5  # a manifest of wrong paths should not print one line per entry


def _readable(items, cache: dict, bad: list[tuple[str, str]]):
    """Yield the items whose audio loads, keeping only the current clip in ``cache``
    (:func:`memasr.evaluate.evaluate_transcriber` reads it from there); unreadable ones are
    reported on stderr and recorded in ``bad``."""
    from memasr.data.audio import DEFAULT_SR, load_audio

    for item in items:
        try:
            cache[item.path], _ = load_audio(item.path, DEFAULT_SR)
        except Exception as exc:  # noqa: BLE001 - InputError, soundfile/soxr errors, ...
            msg = str(exc) if isinstance(exc, InputError) else f"cannot read audio file {item.path}: {exc}"
            if len(bad) < LISTED_UNREADABLE:
                sys.stderr.write(f"memasr eval: error: {msg}\n")
            elif len(bad) == LISTED_UNREADABLE:
                sys.stderr.write("memasr eval: error: further unreadable audio files are counted, not listed\n")
            bad.append((item.path, msg))
            continue
        yield item
        cache.pop(item.path, None)


def evaluate_model(model_dir: str, manifest: str, config: RecognizerConfig | None = None, *, limit: int = 0) -> dict:
    """Score a model directory on a manifest with a :class:`RecognizerConfig` (default: greedy;
    endpointing is always off); returns the summary dict that ``--json`` prints, plus ``rows``
    (per utterance) and ``unreadable`` (a list of ``[path, reason]``)."""
    from dataclasses import replace

    from memasr.decode.recognizer import Recognizer, RecognizerConfig
    from memasr.evaluate import char_score, evaluate_transcriber, manifest_items, streaming_transcriber

    if config is not None and not isinstance(config, RecognizerConfig):
        raise TypeError(f"evaluate_model: config must be a RecognizerConfig, got {type(config).__name__}")
    config = replace(config or RecognizerConfig(), enable_endpoint=False)
    if limit < 0:
        raise InputError("--limit must be >= 0")
    if not os.path.isdir(model_dir):
        raise InputError(f"model directory not found: {model_dir}")
    items = manifest_items(manifest, limit)  # InputError: missing file, malformed JSON or entry
    if not items:
        raise InputError(f"manifest {manifest} has no entries")
    recognizer = Recognizer.from_pretrained(model_dir, config)
    if recognizer.tokenizer is None:
        raise InputError(f"{model_dir} has no tokenizer.model: its output cannot be scored as text")
    cache: dict = {}
    bad: list[tuple[str, str]] = []
    try:
        words, rtf, rows = evaluate_transcriber(streaming_transcriber(recognizer), _readable(items, cache, bad),
                                                audio=cache)
    except InputError:
        if bad and len(bad) == len(items):
            raise InputError(f"none of the {len(items)} audio files in {manifest} could be read (relative "
                             f"paths are read from the manifest's folder, {Path(manifest).parent})") from None
        raise
    chars = char_score([r["ref"] for r in rows], [r["hyp"] for r in rows])
    audio_seconds = sum(r["audio_seconds"] for r in rows)
    method, lm = config.decoding_method, config.lm
    return {
        "model": str(model_dir), "manifest": str(manifest), "method": method,
        "beam": config.max_active_paths if method != "greedy" else None, "schedule": str(recognizer.schedule),
        "lm": str(lm) if isinstance(lm, (str, os.PathLike)) else None if lm is None else "NgramLM",
        "lm_scale": config.lm_scale if lm is not None else None,
        "length_bonus": config.length_bonus if lm is not None else None,
        "utterances": len(rows), "audio_seconds": audio_seconds,
        "wer": words["wer"], "substitutions": words["substitutions"], "deletions": words["deletions"],
        "insertions": words["insertions"], "hits": words["hits"], "ref_words": words["ref_words"],
        "cer": chars["cer"], "char_substitutions": chars["substitutions"], "char_deletions": chars["deletions"],
        "char_insertions": chars["insertions"], "ref_chars": chars["ref_chars"],
        "rtf": rtf, "decode_seconds": sum(r["seconds"] for r in rows),
        "unreadable": [list(b) for b in bad], "rows": rows,
    }


def _finite(x: float):
    return x if x == x and x not in (float("inf"), float("-inf")) else None


def run(args: argparse.Namespace) -> int:
    config = decoding_config(args)
    if args.threads is not None:
        if args.threads < 1:
            raise InputError("--threads must be >= 1")
        import torch

        torch.set_num_threads(args.threads)
    if args.details and Path(args.details).is_dir():
        raise InputError(f"--details must be a file path, {args.details} is a folder")
    result = evaluate_model(args.model, args.manifest, config, limit=args.limit)
    rows = result.pop("rows")
    if args.details:
        path = Path(args.details)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write --details {path}: {exc.strerror or exc}") from None
    bad = result["unreadable"]
    if args.json:
        summary = dict(result, unreadable=len(bad))
        for key in ("wer", "cer", "rtf"):
            summary[key] = _finite(summary[key])
        print(json.dumps(summary))
    else:
        r = result
        print(f"WER {100 * r['wer']:.2f}% (S {r['substitutions']}, D {r['deletions']}, I {r['insertions']} "
              f"of {r['ref_words']} words)  CER {100 * r['cer']:.2f}% (S {r['char_substitutions']}, "
              f"D {r['char_deletions']}, I {r['char_insertions']} of {r['ref_chars']} chars)  "
              f"RTF {r['rtf']:.3f}  [{r['utterances']} utterances, {r['audio_seconds']:.1f} s of audio, "
              f"{r['method']}" + (f" beam {r['beam']}" if r["beam"] else "")
              + (f", LM scale {r['lm_scale']}, length bonus {r['length_bonus']}" if r["lm"] else "") + "]")
        if bad:
            print(f"{len(bad)} unreadable audio entr{'y' if len(bad) == 1 else 'ies'} skipped")
    if bad:
        sys.stderr.write(f"memasr eval: error: {len(bad)} of {len(bad) + result['utterances']} audio entries "
                         f"could not be read (scored the rest)\n")
        return 2
    return 0
