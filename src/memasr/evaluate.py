"""Word error rate scoring and timing of any transcriber on an evaluation set.

    from memasr.data.evalsets import load_eval_set
    from memasr.evaluate import evaluate_transcriber, score

    s = score(["the cat sat"], ["the cat sat down"])   # {'wer': 0.333.., 'insertions': 1, ...}
    result, rtf, rows = evaluate_transcriber(lambda x: my_asr(x), load_eval_set("librivox"))

References and hypotheses are normalized with :func:`memasr.data.tokenizer.normalize_text`
before alignment (jiwer 4 ``process_words``), so case and punctuation never count.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Iterable, Sequence

import jiwer
import numpy as np

from memasr.data.audio import DEFAULT_SR, load_audio
from memasr.data.tokenizer import normalize_text
from memasr.errors import InputError


def _error_counts(refs: list[str], hyps: list[str], process: Callable, units: Callable[[str], int]
                  ) -> tuple[int, int, int, int]:
    """``(S, D, I, hits)`` of jiwer's ``process`` (words or characters) over the pairs; an
    empty reference (which jiwer refuses) counts every hypothesis unit as an insertion."""
    s = d = i = h = 0
    pairs_r, pairs_h = [], []
    for r, y in zip(refs, hyps):
        if not r:
            i += units(y)
            continue
        pairs_r.append(r)
        pairs_h.append(y)
    if pairs_r:
        out = process(pairs_r, pairs_h)
        s, d, i, h = out.substitutions, out.deletions, i + out.insertions, out.hits
    return s, d, i, h


def _rate(s: int, d: int, i: int, n: int) -> float:
    errors = s + d + i
    return errors / n if n else (0.0 if errors == 0 else float("inf"))


def score(refs: Sequence[str], hyps: Sequence[str]) -> dict:
    """Corpus-level WER of ``hyps`` against ``refs`` (pairwise, same length).

    Returns ``{wer, substitutions, deletions, insertions, hits, ref_words}``; ``wer`` is
    (S + D + I) / ref_words. An empty normalized hypothesis counts every reference word as a
    deletion; an empty reference with words in the hypothesis counts them as insertions.
    """
    refs, hyps = list(refs), list(hyps)
    if len(refs) != len(hyps):
        raise InputError(f"score: {len(refs)} references but {len(hyps)} hypotheses")
    s, d, i, h = _error_counts([normalize_text(r) for r in refs], [normalize_text(y or "") for y in hyps],
                               jiwer.process_words, lambda text: len(text.split()))
    return {"wer": _rate(s, d, i, s + d + h), "substitutions": s, "deletions": d, "insertions": i, "hits": h,
            "ref_words": s + d + h}


def char_score(refs: Sequence[str], hyps: Sequence[str]) -> dict:
    """Corpus-level CER of already normalized texts (spaces count as characters, as in jiwer)."""
    s, d, i, h = _error_counts(list(refs), list(hyps), jiwer.process_characters, len)
    return {"cer": _rate(s, d, i, s + d + h), "substitutions": s, "deletions": d, "insertions": i, "hits": h,
            "ref_chars": s + d + h}


def evaluate_transcriber(
    transcribe_fn: Callable[[np.ndarray], str],
    items: Iterable,
    sample_rate: int = DEFAULT_SR,
    audio: dict | None = None,
) -> tuple[dict, float, list[dict]]:
    """Transcribe every item and score it.

    Args:
        transcribe_fn: maps float32 mono samples [N] at ``sample_rate`` to text.
        items: :class:`memasr.data.evalsets.EvalItem` (anything with ``path``, ``text``, ``id``).
        sample_rate: rate the audio is loaded at (via :func:`memasr.data.audio.load_audio`).
        audio: optional cache {path: samples} so repeated runs skip decoding the files.
    Returns:
        ``(score dict, rtf, rows)``: ``rtf`` = seconds spent in ``transcribe_fn`` / audio
        seconds (loading and resampling the file are not timed); one row per item with
        ``id, ref, hyp, seconds, audio_seconds`` and the item's own S/D/I counts.
    """
    rows, refs, hyps = [], [], []
    spent = dur = 0.0
    for item in items:
        if audio is not None and item.path in audio:
            x = audio[item.path]
        else:
            x, _ = load_audio(item.path, sample_rate)
            if audio is not None:
                audio[item.path] = x
        t0 = time.perf_counter()
        hyp = transcribe_fn(x)
        dt = time.perf_counter() - t0
        secs = len(x) / sample_rate
        spent += dt
        dur += secs
        one = score([item.text], [hyp])
        rows.append({"id": item.id, "ref": item.text, "hyp": normalize_text(hyp or ""), "seconds": dt,
                     "audio_seconds": secs, "substitutions": one["substitutions"],
                     "deletions": one["deletions"], "insertions": one["insertions"]})
        refs.append(item.text)
        hyps.append(hyp or "")
    if not rows:
        raise InputError("evaluate_transcriber: no items")
    return score(refs, hyps), (spent / dur if dur else float("nan")), rows


def streaming_transcriber(recognizer, block: int = 1600, sample_rate: int = DEFAULT_SR
                          ) -> Callable[[np.ndarray], str]:
    """A ``transcribe_fn`` that feeds a :class:`memasr.decode.recognizer.Recognizer` in
    ``block``-sample pieces (100 ms at 16 kHz), as a live stream would."""

    def transcribe(x: np.ndarray) -> str:
        stream = recognizer.create_stream()
        for i in range(0, len(x), block):
            stream.accept_waveform(sample_rate, x[i:i + block])
            while recognizer.is_ready(stream):
                recognizer.decode_stream(stream)
        stream.input_finished()
        while recognizer.is_ready(stream):
            recognizer.decode_stream(stream)
        return recognizer.get_result(stream).text

    return transcribe


@dataclass(frozen=True)
class ManifestItem:
    path: str
    text: str
    id: str


def manifest_items(path: str, limit: int = 0) -> list[ManifestItem]:
    """Evaluation items from a JSONL manifest (``audio_filepath``, ``text``), text normalized."""
    from memasr.data.manifest import read_manifest

    entries = read_manifest(path)
    if limit:
        entries = entries[:limit]
    return [ManifestItem(e["audio_filepath"], normalize_text(e["text"]), Path(e["audio_filepath"]).stem)
            for e in entries]
