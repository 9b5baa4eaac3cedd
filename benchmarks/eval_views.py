"""What the accuracy benchmarks (peers.py, reference_models.py) score: named views of one audio pool.

A *view* is a named list of items with its own WER and RTF row:

* each evaluation set or split named in ``--sets`` (default ``real-test,klettres``); a split
  (``real-test``) gives a view of the whole split and one per source (``librivox``, ``cards``,
  ``klettres en_GB``, ``ktuberling``, ``alsa``), so results that earlier runs reported on
  librivox and cards stay comparable;
* ``librivox + cards`` whenever both are there (the pocketsphinx goal of issue 12 is set on it);
* each held-out synthetic-voice manifest given with ``--test-manifest`` (repeatable), and
  ``synthetic (all manifests)`` when there are several.

Views overlap (librivox lies in real-test), so a system transcribes the pool of distinct files
once per pass (:func:`transcribe_pool`) and every view is scored from those rows.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from memasr.data.evalsets import EVAL_SETS, SPLITS, load_eval_set
from memasr.data.manifest import read_manifest
from memasr.errors import InputError
from memasr.evaluate import evaluate_transcriber, manifest_items, score

SR = 16000
DEFAULT_SETS = "real-test,klettres"
LIBRIVOX_CARDS = "librivox + cards"
SYNTHETIC_ALL = "synthetic (all manifests)"


@dataclass(frozen=True)
class View:
    """A named list of items (``EvalItem`` or ``ManifestItem``: ``path``, ``text``, ``id``);
    ``kind`` is "real" or "synthetic"; ``source`` says where the audio comes from."""

    name: str
    items: tuple
    source: str
    kind: str


def add_view_arguments(parser: argparse.ArgumentParser, default_manifest: str | None = None) -> None:
    """``--sets``, ``--test-manifest`` (repeatable) and ``--limit`` on ``parser``."""
    parser.add_argument("--sets", default=DEFAULT_SETS,
                        help="comma-separated evaluation sets or splits of memasr.data.evalsets; a split is also "
                             f"scored per source (default {DEFAULT_SETS})")
    parser.add_argument("--test-manifest", action="append", default=[], metavar="JSONL",
                        help="held-out synthetic-voice manifest to score (repeatable)"
                             + (f"; default {default_manifest}" if default_manifest else ""))
    parser.add_argument("--limit", type=int, default=0, help="first N utterances of each --test-manifest (0 = all)")


def _part_name(set_name: str, prefix: str) -> str:
    """``("klettres", "klettres/en_GB/")`` -> ``"klettres en_GB"``; a whole set keeps its name."""
    return f"{set_name} {prefix.rstrip('/').rsplit('/', 1)[-1]}" if prefix else set_name


def real_views(names: list[str]) -> tuple[list[View], list[str]]:
    """Views of the named sets/splits, and one line per part skipped for a missing package.

    A split's whole-split view exists only when every part loads. Raises InputError for a
    name that is not a set or split.
    """
    unknown = [n for n in names if n not in EVAL_SETS]
    if unknown:
        raise InputError(f"unknown evaluation set {', '.join(map(repr, unknown))}; choose from {', '.join(EVAL_SETS)}")
    views: dict[str, View] = {}
    skipped: list[str] = []
    for name in names:
        parts = SPLITS.get(name, ((name, ""),))
        loaded = []
        for set_name, prefix in parts:
            try:
                items = tuple(it for it in load_eval_set(set_name) if it.id.startswith(prefix))
            except InputError as exc:
                skipped.append(f"`{_part_name(set_name, prefix)}`: {exc}")
                continue
            loaded.append(View(_part_name(set_name, prefix), items, EVAL_SETS[set_name].package, "real"))
        if name in SPLITS and len(loaded) == len(parts):
            views[name] = View(name, tuple(it for v in loaded for it in v.items), EVAL_SETS[name].package, "real")
        for view in loaded:
            views.setdefault(view.name, view)
    if "librivox" in views and "cards" in views:
        views[LIBRIVOX_CARDS] = View(LIBRIVOX_CARDS, views["librivox"].items + views["cards"].items,
                                     views["librivox"].source, "real")
    return [v for v in views.values() if v.items], skipped


def manifest_views(paths: list[str], limit: int = 0) -> list[View]:
    """One view per manifest (first ``limit`` rows if set), plus their union when there are several;
    the source names the manifest and its voices."""
    views = []
    for path in paths:
        entries = read_manifest(path)[:limit or None]
        voices = sorted({e.get("voice", "?") for e in entries})
        views.append(View(f"synthetic {path}", tuple(manifest_items(path, limit)),
                          f"`{path}`, {len(voices)} voice(s): {', '.join(voices[:8])}"
                          + (", ..." if len(voices) > 8 else ""), "synthetic"))
    if len(views) > 1:
        views.append(View(SYNTHETIC_ALL, tuple(it for v in views for it in v.items),
                          " + ".join(f"`{p}`" for p in paths), "synthetic"))
    return views


def build_views(args: argparse.Namespace) -> tuple[list[View], list[str]]:
    """Real and synthetic views from the parsed ``add_view_arguments`` options."""
    views, skipped = real_views([s for s in args.sets.split(",") if s])
    views += manifest_views(args.test_manifest, args.limit)
    if not views:
        raise InputError("nothing to score: no evaluation set is installed and no --test-manifest was given")
    return views, skipped


def pool(views: list[View]) -> list:
    """The distinct items of all views (by audio path), in first-seen order."""
    return list({str(it.path): it for v in views for it in v.items}.values())


def transcribe_pool(fn: Callable[[np.ndarray], str], items: list, audio: dict) -> dict[str, dict]:
    """{audio path: row} of :func:`memasr.evaluate.evaluate_transcriber` over ``items`` (one timed call each)."""
    _, _, rows = evaluate_transcriber(fn, items, SR, audio)
    return {str(it.path): row for it, row in zip(items, rows)}


def view_rows(view: View, rows_by_path: dict[str, dict]) -> list[dict]:
    return [rows_by_path[str(it.path)] for it in view.items]


def rows_score(rows: list[dict]) -> dict:
    """WER and S/D/I over rows (``ref``/``hyp``), as :func:`memasr.evaluate.score`."""
    return score([r["ref"] for r in rows], [r["hyp"] for r in rows])


def rows_rtf(rows: list[dict]) -> float:
    """Processing seconds / audio seconds over rows."""
    audio_s = sum(r["audio_seconds"] for r in rows)
    return sum(r["seconds"] for r in rows) / audio_s if audio_s else float("nan")


def describe(view: View, audio: dict) -> str:
    """``name`` (items, audio seconds, source) for a report header; ``audio`` is the filled cache."""
    seconds = sum(len(audio[it.path]) for it in view.items) / SR
    return f"`{view.name}` ({len(view.items)} items, {seconds:.1f} s; {view.source})"
