"""Search options shared by ``memasr eval`` and ``memasr transcribe``: the arguments and the
:class:`memasr.decode.recognizer.RecognizerConfig` they make."""
from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

from memasr.decode.fusion import DEFAULT_LENGTH_BONUS, DEFAULT_LM_SCALE  # torch-free
from memasr.errors import InputError

if TYPE_CHECKING:  # building the parser imports no torch
    from memasr.decode.recognizer import RecognizerConfig

# memasr.decode.runtime.METHODS, spelled out so that building the parser imports no torch
METHODS = ("greedy", "modified_beam_search", "beam_search")


def add_decoding_arguments(p: argparse.ArgumentParser) -> None:
    """``--schedule --method --beam --max-symbols --lm --lm-scale --length-bonus``."""
    p.add_argument("--schedule", help="runtime schedule: chunk:N (layer-major) or frame "
                   "(default: the model's own)")
    p.add_argument("--method", choices=METHODS,
                   help="search (default greedy, or modified_beam_search when --beam > 1 or with --lm)")
    p.add_argument("--beam", type=int, help="beam width / max active paths (default 4); "
                   "K > 1 without --method selects modified_beam_search")
    p.add_argument("--max-symbols", type=int, default=3, help="max symbols per frame (default 3)")
    p.add_argument("--lm", metavar="FILE.arpa[.gz]|model",
                   help="n-gram LM over the model's pieces (memasr lm) for shallow fusion, or 'model' for the "
                        "LM shipped in the model directory (lm.arpa.gz; the bundled default has one); implies "
                        "modified_beam_search (beam 4) unless --method beam_search")
    p.add_argument("--lm-scale", type=float, default=DEFAULT_LM_SCALE, metavar="S",
                   help=f"weight of the LM log-probability with --lm (default {DEFAULT_LM_SCALE})")
    p.add_argument("--length-bonus", type=float, default=DEFAULT_LENGTH_BONUS, metavar="B",
                   help="with --lm: bonus per emitted token in the fused score, against the deletions the LM's "
                   f"per-token cost causes (default {DEFAULT_LENGTH_BONUS}; both defaults chosen on corpus dev, "
                   "docs/results/lm_fusion.md)")


def choose_method(method: str | None, beam: int | None, lm: str | None) -> str:
    """The search for ``--method``/``--beam``/``--lm``: an LM implies modified_beam_search
    (greedy has no beam to fuse into); else greedy unless ``--beam`` > 1."""
    if lm is not None:
        if method == "greedy":
            raise InputError("--lm needs a beam search (--method modified_beam_search or beam_search), not greedy")
        return method or "modified_beam_search"
    return method or ("modified_beam_search" if (beam or 1) > 1 else "greedy")


def decoding_config(args: argparse.Namespace) -> RecognizerConfig:
    """The validated :class:`RecognizerConfig` of :func:`add_decoding_arguments`' options
    (endpointing off: both commands decode whole files)."""
    from memasr.decode.recognizer import RecognizerConfig

    if args.beam is not None and args.beam < 1:
        raise InputError("--beam must be >= 1")
    if args.max_symbols < 1:
        raise InputError("--max-symbols must be >= 1")
    if args.lm is not None and not (args.lm_scale >= 0 and math.isfinite(args.lm_scale)):
        raise InputError("--lm-scale must be a finite number >= 0")
    if args.lm is not None and not math.isfinite(args.length_bonus):
        raise InputError("--length-bonus must be a finite number")
    return RecognizerConfig(schedule=args.schedule, decoding_method=choose_method(args.method, args.beam, args.lm),
                            max_active_paths=args.beam or 4, max_symbols_per_frame=args.max_symbols,
                            enable_endpoint=False, lm=args.lm,
                            lm_scale=args.lm_scale if args.lm else 0.0,
                            length_bonus=args.length_bonus if args.lm else 0.0)
