"""Token-level n-gram language model over the model's own SentencePiece pieces.

Interpolated modified Kneser-Ney (Chen & Goodman 1998, as kenlm's ``lmplz`` builds it):

- the highest order and every n-gram that starts with ``<s>`` use raw counts; lower
  orders use continuation counts (how many distinct words precede the n-gram);
- three discounts per order (for counts 1, 2 and 3+) from the counts of counts,
  ``Y = n1 / (n1 + 2 n2)``, ``D_k = k - (k + 1) Y n_{k+1} / n_k``;
- ``p(w | h) = (a(hw) - D(a(hw))) / a(h.) + gamma(h) p(w | h')`` with ``gamma(h)`` the
  discounted mass, down to a unigram distribution interpolated with the uniform one
  over all pieces and ``</s>`` (so every piece has a probability, seen or not).

The stored model is exactly an ARPA backoff model: the interpolated probability of every
seen n-gram plus ``log gamma(h)`` as the backoff weight of its context. It is read and
written in the standard ARPA format with the tokenizer's piece strings as words, so kenlm
or SRILM can build or use the same file. Internally scores are natural logs, keys are
model token ids (1..vocab_size, see :mod:`memasr.data.tokenizer`), ``<s>`` is 0 (the
blank id, never a token of a hypothesis) and ``</s>`` is ``vocab_size + 1``.
"""
from __future__ import annotations

import gzip
import json
import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch
from torch import Tensor

from memasr.atomic import atomic_write
from memasr.data.tokenizer import Tokenizer, normalize_text
from memasr.errors import InputError

LN10 = math.log(10.0)
BOS_WORD, EOS_WORD = "<s>", "</s>"
_NO_PROB_LOG10 = -99.0  # ARPA's convention for <s>: never predicted
_FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # tiny corpora whose counts of counts have gaps
_CACHE_LIMIT = 200_000  # vectors kept per LM; cleared when full (decoding revisits few contexts)


def _discounts(counts: Iterable[int]) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts ``(D1, D2, D3+)`` from one order's adjusted counts."""
    n = Counter(min(c, 4) for c in counts)
    n1, n2, n3, n4 = (n.get(k, 0) for k in (1, 2, 3, 4))
    if min(n1, n2, n3, n4) == 0:
        return _FALLBACK_DISCOUNTS
    y = n1 / (n1 + 2 * n2)
    d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    if not all(0 < dk < k for k, dk in enumerate(d, start=1)):
        return _FALLBACK_DISCOUNTS
    return d


def _backoff_log_prob(probs: dict, backoffs: dict, ctx: tuple[int, ...], word: int) -> float:
    """Natural-log ``p(word | ctx)`` of a backoff model (every unigram present)."""
    weight = 0.0
    for start in range(len(ctx) + 1):
        lp = probs.get(ctx[start:] + (word,))
        if lp is not None:
            return weight + lp
        weight += backoffs.get(ctx[start:], 0.0)
    raise KeyError(word)  # unreachable: train() gives every word a unigram


def _prune(probs: dict, backoffs: dict, raw: list[Counter], order: int, min_count: int) -> tuple[dict, dict]:
    """Drop n-grams (order >= 2) with fewer than ``min_count`` raw counts and renormalise.

    Raw counts never grow when an n-gram is extended, so every kept n-gram keeps its prefix and
    suffix. Orders are done bottom-up, so the lower-order distribution a context backs off to is
    already final: ``bo(h) = (1 - sum_kept p(w | h)) / (1 - sum_kept p(w | h'))``."""
    kept = {g: lp for g, lp in probs.items() if len(g) == 1 or raw[len(g)][g] >= min_count}
    children: dict[tuple[int, ...], list[tuple[int, ...]]] = defaultdict(list)
    for g in kept:
        if len(g) > 1:
            children[g[:-1]].append(g)
    new_backoffs: dict[tuple[int, ...], float] = {}
    for n in range(1, order):
        for h in [h for h in backoffs if len(h) == n and h in kept]:
            grams = children.get(h)
            if not grams:
                continue  # no word kept after h: it backs off with weight 1
            seen = sum(math.exp(kept[g]) for g in grams)
            lower = sum(math.exp(_backoff_log_prob(kept, new_backoffs, h[1:], g[-1])) for g in grams)
            new_backoffs[h] = math.log(max(1.0 - seen, 1e-12) / max(1.0 - lower, 1e-12))
    return kept, new_backoffs


class NgramLM:
    """An ARPA-style backoff n-gram LM over model token ids.

    ``probs`` maps an n-gram (tuple of ids, the predicted one last) to its natural-log
    probability; ``backoffs`` maps a context n-gram to its natural-log backoff weight.
    Build one with :meth:`train` or :meth:`read_arpa`.
    """

    def __init__(self, order: int, pieces: Sequence[str], probs: dict[tuple[int, ...], float],
                 backoffs: dict[tuple[int, ...], float]) -> None:
        if order < 1:
            raise InputError(f"n-gram order must be >= 1, got {order}")
        self.order = order
        self.pieces = tuple(pieces)  # model id i <-> pieces[i - 1]
        self.vocab_size = len(self.pieces)
        self.bos_id = 0
        self.eos_id = self.vocab_size + 1
        self.probs = probs
        self.backoffs = backoffs
        unk = probs.get((1,)) if self.pieces and self.pieces[0] == "<unk>" else None
        # a piece the ARPA file lacks (built elsewhere) scores as <unk>, or as ARPA's floor
        self._floor = unk if unk is not None else _NO_PROB_LOG10 * LN10
        # context -> (ids, log-probs) of the words seen after it, for whole-vocabulary vectors
        children: dict[tuple[int, ...], tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        for gram, lp in probs.items():
            if len(gram) > 1 and 1 <= gram[-1] <= self.vocab_size:
                ids, lps = children[gram[:-1]]
                ids.append(gram[-1])
                lps.append(lp)
        self._children = {h: (torch.tensor(i), torch.tensor(p, dtype=torch.float64)) for h, (i, p) in children.items()}
        self._known = set(self._children) | set(backoffs)  # contexts that change a distribution
        uni = torch.full((self.vocab_size + 1,), self._floor, dtype=torch.float64)
        uni[0] = 0.0  # the blank: no token, no LM score
        for i in range(1, self.vocab_size + 1):
            lp = probs.get((i,))
            if lp is not None:
                uni[i] = lp
        self._unigram = uni
        self._vectors: dict[tuple[int, ...], Tensor] = {}
        self._scores: dict[tuple[tuple[int, ...], int], float] = {}

    # ---- scoring ---------------------------------------------------------------------

    def context(self, history: Sequence[int]) -> tuple[int, ...]:
        """The state of ``history`` (token ids so far): its last ``order - 1`` ids, with
        ``<s>`` in front while the history is shorter, cut to the longest known suffix."""
        n = self.order - 1
        if n == 0:
            return ()
        ctx = tuple(history[-n:]) if len(history) >= n else (self.bos_id, *history)
        while ctx and ctx not in self._known:  # an unknown context backs off with weight 1
            ctx = ctx[1:]
        return ctx

    def score(self, history: Sequence[int], token_id: int) -> float:
        """Natural-log ``p(token_id | history)`` with backoff; ``token_id`` may be :attr:`eos_id`."""
        ctx = self.context(history)
        key = (ctx, int(token_id))
        cached = self._scores.get(key)
        if cached is not None:
            return cached
        bo = 0.0
        result = None
        for start in range(len(ctx) + 1):  # longest context first, adding backoffs on the way down
            h = ctx[start:]
            lp = self.probs.get(h + (int(token_id),))
            if lp is not None:
                result = bo + lp
                break
            bo += self.backoffs.get(h, 0.0)
        if result is None:
            result = bo + self._floor
        if len(self._scores) >= _CACHE_LIMIT:
            self._scores.clear()
        self._scores[key] = result
        return result

    def final_score(self, history: Sequence[int]) -> float:
        """Natural-log ``p(</s> | history)``: the end-of-sentence term of a finished hypothesis."""
        return self.score(history, self.eos_id)

    def sentence_score(self, token_ids: Sequence[int]) -> float:
        """Natural-log probability of a whole sentence, ``</s>`` included."""
        ids = list(token_ids)
        return sum(self.score(ids[:i], t) for i, t in enumerate(ids)) + self.final_score(ids)

    def log_probs(self, history: Sequence[int]) -> Tensor:
        """``[vocab_size + 1]`` float64 natural-log ``p(id | history)`` for every model id;
        entry 0 (the blank) is 0. Cached per context."""
        return self._vector(self.context(history))

    def _vector(self, ctx: tuple[int, ...]) -> Tensor:
        v = self._vectors.get(ctx)
        if v is not None:
            return v
        if not ctx:
            v = self._unigram
        else:
            v = self._vector(ctx[1:]) + self.backoffs.get(ctx, 0.0)
            v[0] = 0.0
            seen = self._children.get(ctx)
            if seen is not None:
                v[seen[0]] = seen[1]
        if len(self._vectors) >= _CACHE_LIMIT:
            self._vectors.clear()
        self._vectors[ctx] = v
        return v

    def check_tokenizer(self, tokenizer: Tokenizer, what: str = "the model") -> None:
        """Raise :class:`InputError` unless ``tokenizer`` has exactly this LM's pieces."""
        pieces = tuple(tokenizer.id_to_piece(i) for i in range(1, tokenizer.vocab_size + 1))
        if pieces != self.pieces:
            raise InputError(f"the language model's vocabulary ({self.vocab_size} pieces) does not match "
                             f"{what}'s tokenizer ({len(pieces)} pieces); build the LM with `memasr lm "
                             f"--model` of this model")

    # ---- training --------------------------------------------------------------------

    @classmethod
    def train(cls, sentences: Iterable[str], tokenizer: Tokenizer, order: int = 4, min_count: int = 1) -> "NgramLM":
        """Interpolated modified Kneser-Ney from ``sentences`` (normalised and encoded with
        ``tokenizer``); raises :class:`InputError` when no sentence has any token.

        ``min_count`` > 1 prunes (kenlm's ``--prune``): n-grams of order 2 and up seen fewer
        times are dropped after estimation and every backoff weight is recomputed so that each
        context's distribution still sums to one (SRILM's renormalisation)."""
        if not 1 <= order <= 10:
            raise InputError(f"n-gram order must be between 1 and 10, got {order}")
        if min_count < 1:
            raise InputError(f"the minimum n-gram count must be >= 1, got {min_count}")
        vocab = tokenizer.vocab_size
        bos, eos = 0, vocab + 1
        raw: list[Counter] = [Counter() for _ in range(order + 1)]  # raw[n]: n-grams ending at a predicted word
        sentences_used = 0
        for text in sentences:
            ids = tokenizer.encode(text)
            if not ids:
                continue
            sentences_used += 1
            seq = (bos, *ids, eos)
            for i in range(1, len(seq)):
                for n in range(1, min(order, i + 1) + 1):
                    raw[n][seq[i - n + 1:i + 1]] += 1
        if not sentences_used:
            raise InputError("no text to train the language model on (every sentence was empty)")
        # adjusted counts: raw for the top order and for n-grams starting with <s>, else continuation counts
        adj: list[dict[tuple[int, ...], int]] = [{} for _ in range(order + 1)]
        adj[order] = dict(raw[order])
        for n in range(order - 1, 0, -1):
            cont = Counter(g[1:] for g in raw[n + 1])
            adj[n] = {g: (c if g[0] == bos else cont[g]) for g, c in raw[n].items()}
        probs: dict[tuple[int, ...], float] = {}
        backoffs: dict[tuple[int, ...], float] = {}
        # unigrams, interpolated with the uniform distribution over the pieces and </s>
        d = _discounts(adj[1].values())
        total = sum(adj[1].values())
        gamma = sum(min(d[min(a, 3) - 1], a) for a in adj[1].values()) / total
        uniform = 1.0 / (vocab + 1)
        for w in (*range(1, vocab + 1), eos):
            a = adj[1].get((w,), 0)
            disc = min(d[min(a, 3) - 1], a) if a else 0.0
            probs[(w,)] = math.log((a - disc) / total + gamma * uniform)
        probs[(bos,)] = _NO_PROB_LOG10 * LN10
        for n in range(2, order + 1):
            d = _discounts(adj[n].values())
            tot: dict[tuple[int, ...], int] = defaultdict(int)
            mass: dict[tuple[int, ...], float] = defaultdict(float)
            for g, a in adj[n].items():
                tot[g[:-1]] += a
                mass[g[:-1]] += min(d[min(a, 3) - 1], a)
            for h, t in tot.items():
                backoffs[h] = math.log(mass[h] / t)
            for g, a in adj[n].items():
                h = g[:-1]
                lower = math.exp(probs[g[1:]])  # every suffix of a seen n-gram was seen
                probs[g] = math.log((a - min(d[min(a, 3) - 1], a)) / tot[h] + mass[h] / tot[h] * lower)
        if min_count > 1:
            probs, backoffs = _prune(probs, backoffs, raw, order, min_count)
        pieces = [tokenizer.id_to_piece(i) for i in range(1, vocab + 1)]
        return cls(order, pieces, probs, backoffs)

    # ---- ARPA ------------------------------------------------------------------------

    def _word(self, i: int) -> str:
        return BOS_WORD if i == self.bos_id else EOS_WORD if i == self.eos_id else self.pieces[i - 1]

    def write_arpa(self, path: str | os.PathLike) -> Path:
        """Write the standard ARPA text format (log10), atomically (temp file + rename);
        gzip-compressed when the name ends in ``.gz`` (about 3.5x smaller)."""
        by_order: list[list[tuple[int, ...]]] = [[] for _ in range(self.order + 1)]
        for g in self.probs:
            by_order[len(g)].append(g)
        lines = ["\\data\\"]
        lines += [f"ngram {n}={len(by_order[n])}" for n in range(1, self.order + 1)]
        for n in range(1, self.order + 1):
            lines += ["", f"\\{n}-grams:"]
            for g in sorted(by_order[n]):
                words = " ".join(self._word(i) for i in g)
                line = f"{self.probs[g] / LN10:.7f}\t{words}"
                bo = self.backoffs.get(g)
                if bo is not None and n < self.order:
                    line += f"\t{bo / LN10:.7f}"
                lines.append(line)
        lines += ["", "\\end\\", ""]
        out = Path(path)
        data = "\n".join(lines).encode("utf-8")
        if out.suffix == ".gz":
            data = gzip.compress(data, compresslevel=9, mtime=0)  # mtime 0: same model, same bytes
        with atomic_write(out, "wb") as fh:  # temp file + os.replace
            fh.write(data)
        return out

    @classmethod
    def read_arpa(cls, path: str | os.PathLike, tokenizer: Tokenizer) -> "NgramLM":
        """Read an ARPA file whose words are ``tokenizer``'s pieces (plus ``<s>``, ``</s>``).

        A word that is not a piece of ``tokenizer`` (an LM of another model, or over
        words) is an :class:`InputError`. A name ending in ``.gz`` is read through gzip."""
        p = Path(path)
        if not p.is_file():
            raise InputError(f"language model not found: {p}")
        vocab = tokenizer.vocab_size
        ids = {tokenizer.id_to_piece(i): i for i in range(1, vocab + 1)}
        ids[BOS_WORD], ids[EOS_WORD] = 0, vocab + 1
        probs: dict[tuple[int, ...], float] = {}
        backoffs: dict[tuple[int, ...], float] = {}
        declared: dict[int, int] = {}
        unknown: list[str] = []
        section = None  # None: before \data\; 0: in \data\; n: in \n-grams:
        try:
            with (gzip.open(p, "rt", encoding="utf-8") if p.suffix == ".gz" else p.open(encoding="utf-8")) as f:
                for lineno, line in enumerate(f, start=1):
                    line = line.strip()
                    if not line:
                        continue
                    if line == "\\data\\":
                        section = 0
                    elif line == "\\end\\":
                        break
                    elif section is None:
                        raise InputError(f"{p}:{lineno}: not an ARPA file (expected \\data\\ first)")
                    elif line.startswith("\\") and line.endswith("-grams:"):
                        section = int(line[1:-len("-grams:")])
                    elif section == 0:
                        key, _, value = line.partition("=")
                        declared[int(key.split()[1])] = int(value)
                    else:
                        fields = line.split()
                        if len(fields) not in (section + 1, section + 2):
                            raise InputError(f"{p}:{lineno}: expected {section} words in a {section}-gram line")
                        words = fields[1:section + 1]
                        try:
                            gram = tuple(ids[w] for w in words)
                        except KeyError:
                            unknown.extend(w for w in words if w not in ids)
                            continue
                        probs[gram] = float(fields[0]) * LN10
                        if len(fields) == section + 2:
                            backoffs[gram] = float(fields[-1]) * LN10
        except UnicodeDecodeError:
            raise InputError(f"{p}: not a text ARPA file (binary LMs are not supported)") from None
        except (OSError, EOFError) as exc:  # a damaged or truncated .gz
            raise InputError(f"{p}: cannot read the ARPA file ({exc or type(exc).__name__})") from None
        except ValueError as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"{p}: malformed ARPA file ({exc})") from None
        if section is None or not declared:
            raise InputError(f"{p}: not an ARPA file (no \\data\\ section)")
        if unknown:
            sample = ", ".join(sorted(set(unknown))[:5])
            raise InputError(f"{p}: {len(set(unknown))} words are not pieces of the model's tokenizer "
                             f"(e.g. {sample}); the LM was built for another model or tokenizer")
        pieces = [tokenizer.id_to_piece(i) for i in range(1, vocab + 1)]
        return cls(max(declared), pieces, probs, backoffs)


def read_sentences(source: str | os.PathLike) -> Iterator[str]:
    """Normalised non-empty sentences of a JSONL manifest (its ``text`` fields; ``.jsonl`` /
    ``.json`` files) or of a plain text file (one sentence per line)."""
    p = Path(source)
    if not p.is_file():
        raise InputError(f"text source not found: {p}")
    is_json = p.suffix.lower() in (".jsonl", ".json")
    with p.open(encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            if is_json:
                try:
                    text = json.loads(line).get("text")
                except (json.JSONDecodeError, AttributeError):
                    raise InputError(f"{p}:{lineno}: not a JSON object with a \"text\" field") from None
                if not isinstance(text, str):
                    raise InputError(f"{p}:{lineno}: no \"text\" string field")
            else:
                text = line
            text = normalize_text(text)
            if text:
                yield text
