r"""``memasr lm``: a token-level n-gram LM over a model's pieces, for shallow fusion.

    memasr lm --model runs/a/best --text data/mix/train.jsonl --order 4 --out lm.arpa \
        --exclude data/corpus/test.jsonl --exclude data/real-test.jsonl
    memasr eval --model runs/a/best --manifest data/real-dev.jsonl --lm lm.arpa --lm-scale 0.2 --length-bonus 1.0

A --text source is a JSONL manifest (its "text" fields; .jsonl/.json) or a plain
text file (one sentence per line). Every sentence is normalised as the training
targets are and encoded with the model's own tokenizer; the LM is interpolated
modified Kneser-Ney, written as ARPA (log10, the pieces as words) atomically.
--exclude drops every sentence whose normalised text occurs in that manifest,
so evaluation text never leaks into the LM.
"""
from __future__ import annotations

import argparse
import os

from memasr.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "lm", help="build an n-gram LM over a model's pieces (ARPA) for shallow fusion",
        description="Train an interpolated modified Kneser-Ney n-gram LM over the model's SentencePiece "
        "pieces and write it in ARPA format, for --lm of memasr eval / transcribe.",
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, metavar="DIR", help="model directory (its tokenizer.model is used)")
    p.add_argument("--text", required=True, action="append", metavar="SRC",
                   help="training text: JSONL manifest or plain text file (repeatable)")
    p.add_argument("--exclude", action="append", default=[], metavar="M.jsonl",
                   help="drop sentences that occur in this manifest or text file (repeatable)")
    p.add_argument("--order", type=int, default=4, help="n-gram order (default 4)")
    p.add_argument("--prune", type=int, default=1, metavar="N",
                   help="drop n-grams of order 2 and up seen fewer than N times, renormalising the backoffs "
                        "(kenlm's --prune; default 1: keep all). Shrinks the file several-fold")
    p.add_argument("--out", required=True, metavar="FILE.arpa", help="output ARPA file")
    p.set_defaults(func=run)
    return p


def build_lm(model_dir: str, texts: list[str], order: int = 4, exclude: list[str] | None = None,
             min_count: int = 1):
    """``(lm, sentences used, sentences excluded)`` from the text sources, minus the excluded ones."""
    from memasr.data.tokenizer import Tokenizer
    from memasr.lm.ngram import NgramLM, read_sentences

    if not 1 <= order <= 10:
        raise InputError(f"--order must be between 1 and 10, got {order}")
    if min_count < 1:
        raise InputError(f"--prune must be >= 1, got {min_count}")
    if not os.path.isdir(model_dir):
        raise InputError(f"model directory not found: {model_dir}")
    tokenizer = Tokenizer.load(model_dir)
    banned: set[str] = set()
    for src in exclude or []:
        banned.update(read_sentences(src))
    sentences: list[str] = []
    dropped = 0
    for src in texts:
        for s in read_sentences(src):
            if s in banned:
                dropped += 1
            else:
                sentences.append(s)
    if not sentences:
        raise InputError("no training text left" + (f" after excluding {dropped} sentences" if dropped else
                                                     " (the --text sources are empty)"))
    return NgramLM.train(sentences, tokenizer, order, min_count), len(sentences), dropped


def run(args: argparse.Namespace) -> int:
    if os.path.isdir(args.out):
        raise InputError(f"--out must be a file path, {args.out} is a folder")
    lm, used, dropped = build_lm(args.model, args.text, args.order, args.exclude, args.prune)
    try:
        out = lm.write_arpa(args.out)
    except OSError as exc:
        raise InputError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    counts = ", ".join(f"{n}-grams {sum(1 for g in lm.probs if len(g) == n)}" for n in range(1, lm.order + 1))
    print(f"{out}: order {lm.order} over {lm.vocab_size} pieces from {used} sentences "
          f"({dropped} excluded); {counts}")
    return 0
