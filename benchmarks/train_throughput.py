"""Training speed and convergence of memasr on this machine; writes docs/results/training.md.

Four parts (``--parts a,b,c,d``; default a,b,c):

(a) throughput: audio-seconds trained per wall-second for small-baseline and small-optimized,
    side by side: the same manifest, seed, batch budget (``--batch-frames``), thread count and
    steps; one tokenizer trained once and given to both; medians over the logged steps after
    ``--skip-steps`` warm-up steps (one CSV row per step). Data loading runs in the training
    process (``--num-workers 0``) unless told otherwise, so the rate includes feature extraction.
    ``--precisions fp32,bf16`` also times each model under ``memasr train --cpu-bf16``.
(b) loss step time: forward + backward of memasr's pure-PyTorch RNN-T loss
    (``memasr.train.loss.rnnt_loss``, log-softmax included) at a few (B, T, U, V) sizes, median of
    ``--loss-reps`` after a warm-up, against ``torchaudio.functional.rnnt_loss`` when torchaudio
    is importable (it is not a memasr dependency).
(c) convergence: held-out-voice WER against training minutes for small-optimized trained on
    on-the-fly synthesis (``--train synth:``), with the auxiliary CTC loss (``--ctc-weight``,
    default 0.3) and without it (0). Each variant trains ``--minutes`` of wall time in
    ``--points`` equal segments (exact ``--resume`` between segments, so the run is the same as an
    uninterrupted one); after each segment the exported model is scored on ``--test-manifest``
    (first ``--limit`` utterances, voices never drawn for training) with streaming greedy decoding
    via ``memasr eval``'s code. Scoring and per-segment start-up are not counted as training time.
    Plot: ``--plot`` (default docs/results/training_convergence.png).
(d) long runs: dev WER against training minutes read from finished ``memasr train`` output
    folders (``--run LABEL=DIR``, repeatable, or ``LABEL=DIR1+DIR2`` for the phases of one recipe whose clocks add up; each DIR's dev.csv, train.csv and the command
    recorded in its log, ``--run-command LABEL=TEXT``). Nothing is trained here: part (d)
    reports runs that took hours. Plot: ``--runs-plot`` (default docs/results/training_runs.png).

Results of each part are kept in a JSON file beside the report (``training.json``), so parts can
be run separately and the report always shows the latest result of each, with its own command.

    .venv/bin/python benchmarks/train_throughput.py                      # all parts (c: 2 x 10 min)
    .venv/bin/python benchmarks/train_throughput.py --parts a,b --threads 1
    .venv/bin/python benchmarks/train_throughput.py --parts a --threads 1 --repeats 3 --precisions fp32,bf16
    .venv/bin/python benchmarks/train_throughput.py --parts c --minutes 10 --limit 100
    .venv/bin/python benchmarks/train_throughput.py --parts d --run small-baseline=runs/small-baseline \
        --run small-optimized=runs/small-optimized
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from memasr.commands.options import labelled

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "results" / "training.md"
DEFAULT_PLOT = ROOT / "docs" / "results" / "training_convergence.png"
DEFAULT_RUNS_PLOT = ROOT / "docs" / "results" / "training_runs.png"
DEFAULT_TRAIN = ROOT / "data" / "corpus" / "train.jsonl"
DEFAULT_TEST = ROOT / "data" / "corpus" / "test.jsonl"
PRESETS = ("small-baseline", "small-optimized")
LOSS_SIZES = ((4, 50, 10, 129), (8, 100, 20, 129), (8, 200, 40, 129), (4, 300, 60, 513))


def machine_note() -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "load_1min": round(load[0], 2), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M")}


def command_line() -> str:
    return ".venv/bin/python benchmarks/train_throughput.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _csv_rows(path: Path) -> list[dict]:
    import csv

    with path.open() as f:
        return list(csv.DictReader(f))


# ---- (a) throughput ------------------------------------------------------------------------------

def _tiny_corpus(work: Path) -> Path:
    """A few minutes of espeak-ng speech, when no training manifest is available."""
    from memasr.data.synth import synthesize_corpus

    out = work / "corpus"
    synthesize_corpus(out, hours=0.1, jobs=1, seed=0, engines=("espeak-ng",), progress=False)
    return out / "train.jsonl"


def part_a(args, work: Path) -> dict:
    from memasr.data.manifest import read_manifest
    from memasr.data.tokenizer import Tokenizer
    from memasr.model.config import load_preset
    from memasr.train.trainer import TrainOptions, train

    manifest = Path(args.train_manifest)
    if not manifest.is_file():
        print(f"(a) {manifest} not found: synthesizing a small espeak-ng corpus", file=sys.stderr)
        manifest = _tiny_corpus(work)
    texts = [e["text"] for e in read_manifest(manifest)]
    workers = 0 if args.num_workers is None else args.num_workers
    precisions = _precisions(args.precisions)
    tokenizers: dict[int, Path] = {}
    arms = [(preset, precision) for preset in PRESETS for precision in precisions]
    runs: dict[tuple[str, str], list[dict]] = {arm: [] for arm in arms}
    params: dict[str, int] = {}
    note = machine_note()
    for rep in range(args.repeats):
        for preset, precision in (arms if rep % 2 == 0 else arms[::-1]):
            vocab = load_preset(preset).vocab_size
            if vocab not in tokenizers:
                tokenizers[vocab] = Tokenizer.train(texts, work / f"tok{vocab}", vocab_size=vocab).save(
                    work / f"tok{vocab}")
            out = work / f"a-{preset}-{precision}-{rep}"
            out.mkdir(parents=True)
            shutil.copy(tokenizers[vocab], out / "tokenizer.model")
            print(f"(a) {preset} {precision} repeat {rep + 1}/{args.repeats}: {args.steps} steps", file=sys.stderr)
            result = train(TrainOptions(
                out=str(out), train=str(manifest), preset=preset, steps=args.steps, batch_frames=args.batch_frames,
                lr=1e-3, warmup=max(1, args.steps // 4), num_workers=workers, threads=args.threads,
                log_every=1, save_every=10 ** 9, eval_every=10 ** 9, keep=1, cmvn_utts=args.cmvn_utts,
                progress=False, seed=0, cpu_bf16=precision == "bf16"))
            params[preset] = result.params
            rows = _csv_rows(out / "train.csv")[args.skip_steps:]
            runs[preset, precision] += [{"audio_s_per_s": float(r["audio_s_per_s"]),
                                         "step_s": 1 / float(r["steps_per_s"]),
                                         "audio_seconds": float(r["audio_seconds"])} for r in rows]
            shutil.rmtree(out, ignore_errors=True)
    table = {}
    for (preset, precision), rows in runs.items():
        table[preset if precisions == ["fp32"] else f"{preset} {precision}"] = {
            "preset": preset, "precision": precision,
            "params": params[preset], "steps_measured": len(rows),
            "audio_s_per_s": statistics.median(r["audio_s_per_s"] for r in rows),
            "step_s": statistics.median(r["step_s"] for r in rows),
            "batch_audio_s": statistics.median(r["audio_seconds"] for r in rows),
        }
    return {"command": command_line(), "machine": note, "manifest": _rel(manifest), "steps": args.steps,
            "skip_steps": args.skip_steps, "repeats": args.repeats, "batch_frames": args.batch_frames,
            "threads": args.threads, "num_workers": workers, "results": table}


def _precisions(text: str) -> list[str]:
    kept = [p.strip() for p in text.split(",") if p.strip()]
    if not kept or set(kept) - {"fp32", "bf16"} or len(set(kept)) != len(kept):
        raise SystemExit(f"--precisions wants fp32 and/or bf16, comma-separated, got {text!r}")
    return kept


# ---- (b) loss step time --------------------------------------------------------------------------

def _time_loss(fn, logits, targets, t_len, u_len, reps: int) -> float:
    times = []
    for i in range(reps + 1):
        x = logits.detach().clone().requires_grad_(True)
        t0 = time.perf_counter()
        loss = fn(x, targets, t_len, u_len)
        loss.backward()
        dt = time.perf_counter() - t0
        if i:  # the first call is a warm-up
            times.append(dt)
    return statistics.median(times)


def part_b(args) -> dict:
    import torch

    from memasr.train.loss import rnnt_loss

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        from torchaudio.functional import rnnt_loss as ta_loss
        import torchaudio

        ta_version = torchaudio.__version__
    except Exception as exc:  # noqa: BLE001 - not installed, or a broken install
        ta_loss, ta_version = None, f"not importable ({type(exc).__name__}: {exc})"
    note = machine_note()
    rows = []
    for b, t, u, v in LOSS_SIZES:
        g = torch.Generator().manual_seed(0)
        logits = torch.randn(b, t, u + 1, v, generator=g)
        targets = torch.randint(1, v, (b, u), generator=g, dtype=torch.int32)
        t_len = torch.full((b,), t, dtype=torch.int32)
        u_len = torch.full((b,), u, dtype=torch.int32)
        t_len[-1], u_len[-1] = max(2, t * 3 // 4), max(1, u * 3 // 4)  # unequal lengths, as in a real batch
        print(f"(b) B={b} T={t} U={u} V={v}", file=sys.stderr)
        ours = _time_loss(lambda x, y, tl, ul: rnnt_loss(x, y.long(), tl.long(), ul.long()), logits, targets,
                          t_len, u_len, args.loss_reps)
        theirs = None
        if ta_loss is not None:
            theirs = _time_loss(lambda x, y, tl, ul: ta_loss(x, y, tl, ul, blank=0, reduction="mean"),
                                logits, targets, t_len, u_len, args.loss_reps)
        rows.append({"B": b, "T": t, "U": u, "V": v, "joint_mb": b * t * (u + 1) * v * 4 / 2 ** 20,
                     "ours_ms": 1000 * ours, "torchaudio_ms": None if theirs is None else 1000 * theirs})
    return {"command": command_line(), "machine": note, "threads": torch.get_num_threads(),
            "torch": torch.__version__, "torchaudio": ta_version, "reps": args.loss_reps, "results": rows}


# ---- (c) convergence -----------------------------------------------------------------------------

def part_c(args, work: Path) -> dict:
    from memasr.commands.eval import evaluate_model
    from memasr.data.text import load_text_pool
    from memasr.data.tokenizer import Tokenizer
    from memasr.model.config import load_preset
    from memasr.train.trainer import TrainOptions, train

    test = Path(args.test_manifest)
    if not test.is_file():
        raise SystemExit(f"train_throughput: error: test manifest not found: {test} (make one with memasr synth, "
                         f"or pass --test-manifest)")
    if args.points < 1 or not args.minutes > 0:
        raise SystemExit("train_throughput: error: --minutes must be > 0 and --points >= 1")
    note = machine_note()
    preset = "small-optimized"
    tok_dir = work / "c-tokenizer"
    print("(c) training the tokenizer on the text pool", file=sys.stderr)
    tok_file = Tokenizer.train(load_text_pool(allow_missing=True), tok_dir,
                               vocab_size=load_preset(preset).vocab_size).save(tok_dir)
    variants = {f"ctc {args.ctc_weight:g}": args.ctc_weight, "no ctc": 0.0}
    curves: dict[str, list[dict]] = {}
    segment = args.minutes / args.points
    for name, weight in variants.items():
        out = work / f"c-{'ctc' if weight else 'noctc'}"
        out.mkdir(parents=True)
        shutil.copy(tok_file, out / "tokenizer.model")
        trained_s = 0.0
        curves[name] = []
        for k in range(args.points):
            print(f"(c) {name}: segment {k + 1}/{args.points} ({segment:g} min)", file=sys.stderr)
            result = train(TrainOptions(
                out=str(out), train="synth:", preset=preset, max_wall_minutes=segment, ctc_weight=weight,
                synth_engines=args.synth_engines.split(",") if args.synth_engines else None,
                batch_frames=args.batch_frames, lr=args.lr, warmup=args.warmup, num_workers=args.num_workers,
                threads=args.threads, cmvn_utts=args.cmvn_utts, log_every=10, save_every=10 ** 9,
                eval_every=10 ** 9, keep=1, resume="auto" if k else None, progress=False, seed=0))
            trained_s += result.seconds
            t0 = time.perf_counter()
            scored = evaluate_model(str(out / "final"), str(test), limit=args.limit)
            curves[name].append({"minutes": trained_s / 60, "step": result.steps,
                                 "audio_hours": result.audio_hours, "wer": scored["wer"], "cer": scored["cer"],
                                 "utterances": scored["utterances"], "rtf": scored["rtf"],
                                 "eval_s": time.perf_counter() - t0})
            print(f"(c) {name}: {trained_s / 60:.2f} min, step {result.steps}, WER {100 * scored['wer']:.1f}%",
                  file=sys.stderr)
    plot = Path(args.plot)
    _plot(curves, plot, args)
    return {"command": command_line(), "machine": note, "minutes": args.minutes, "points": args.points,
            "test_manifest": _rel(test), "limit": args.limit, "threads": args.threads,
            "num_workers": args.num_workers,
            "batch_frames": args.batch_frames, "lr": args.lr, "warmup": args.warmup, "plot": str(plot),
            "curves": curves}


def _plot(curves: dict, path: Path, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, pts in curves.items():
        ax.plot([p["minutes"] for p in pts], [100 * p["wer"] for p in pts], marker="o", label=f"small-optimized, {name}")
    ax.set_xlabel("training wall-clock minutes (on-the-fly synthesis)")
    ax.set_ylabel(f"held-out-voice WER (%), {args.limit or 'all'} utts")
    ax.set_title("Convergence: auxiliary CTC loss on vs off")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- (d) long runs -------------------------------------------------------------------------------

def _cumulative_minutes(train: list[dict], dev: list[dict]) -> tuple[list[float], list[float]]:
    """Wall minutes since the run's first start for train and dev rows.

    ``elapsed_s`` restarts at 0 in every resumed invocation: each restart (a drop in train.csv)
    opens a segment that is offset by the time of the segments before it. Dev rows take the
    offset of the segment holding their step, or the next one when their own clock drops.
    """
    offsets, starts, train_minutes = [0.0], [int(train[0]["step"]) if train else 0], []
    previous = 0.0
    for row in train:
        elapsed = float(row["elapsed_s"])
        if elapsed < previous:  # a resumed invocation
            offsets.append(offsets[-1] + previous)
            starts.append(int(row["step"]))
        previous = elapsed
        train_minutes.append((offsets[-1] + elapsed) / 60)
    dev_minutes, segment, previous = [], 0, 0.0
    for row in dev:
        elapsed, step = float(row["elapsed_s"]), int(row["step"])
        while segment + 1 < len(starts) and (starts[segment + 1] <= step or elapsed < previous):
            segment += 1
            if elapsed < previous:
                previous = elapsed  # one clock drop moves one segment on
        previous = elapsed
        dev_minutes.append((offsets[segment] + elapsed) / 60)
    return train_minutes, dev_minutes


def part_d(args) -> dict:
    commands = dict(args.run_command)
    runs = {}
    for label, folders in args.run:
        # DIR1+DIR2: phases of one recipe (DIR2 warm-started from DIR1): clocks and audio add up
        points, steps, minutes, hours = [], 0, 0.0, 0.0
        for folder in map(Path, folders.split("+")):
            dev_csv, train_csv = folder / "dev.csv", folder / "train.csv"
            if not dev_csv.is_file() or not train_csv.is_file():
                raise SystemExit(f"train_throughput: error: {folder} has no dev.csv/train.csv (not a memasr train folder)")
            train = _csv_rows(train_csv)
            dev = _csv_rows(dev_csv)
            train_minutes, dev_minutes = _cumulative_minutes(train, dev)
            points += [{"step": steps + int(r["step"]), "minutes": minutes + m, "wer": float(r["dev_wer"]),
                        "dev_loss": float(r["dev_loss"]), "audio_hours": hours + float(r["audio_hours_total"])}
                       for r, m in zip(dev, dev_minutes)]
            last = train[-1] if train else {}
            steps += int(last.get("step", 0))
            minutes += train_minutes[-1] if train else 0.0
            hours += float(last.get("audio_hours_total", 0))
        runs[label] = {"folder": "+".join(_rel(Path(f)) for f in folders.split("+")), "points": points,
                       "command": commands.get(label), "steps": steps, "minutes": minutes, "audio_hours": hours,
                       "best_wer": min((p["wer"] for p in points), default=None)}
    if not runs:
        raise SystemExit("train_throughput: error: --parts d needs at least one --run LABEL=DIR")
    _plot_runs(runs, Path(args.runs_plot))
    return {"command": command_line(), "runs": runs, "plot": str(args.runs_plot)}


def _plot_runs(runs: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for label, run in runs.items():
        pts = run["points"]
        ax.plot([p["minutes"] for p in pts], [100 * p["wer"] for p in pts], marker="o", markersize=3, label=label)
    ax.set_xlabel("training wall-clock minutes")
    ax.set_ylabel("dev greedy WER (%)")
    ax.set_title("Long runs: dev WER against training time")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- report --------------------------------------------------------------------------------------

def _machine_line(m: dict) -> str:
    return (f"{m['date']}, {m['cores']} cores ({m['cpu']}), 1-minute load average {m['load_1min']} at the start"
            + (" (the machine was busy with other jobs: absolute rates are low, the ratios are what to read)"
               if m["load_1min"] >= 0.5 * (m["cores"] or 1) else ""))


def render(results: dict, md_path: Path) -> str:
    lines = ["# Training speed and convergence", "",
             "Written by `benchmarks/train_throughput.py`; each part shows the command that produced it.", ""]
    a = results.get("a")
    lines += ["## (a) Training throughput: small-baseline vs small-optimized", ""]
    if a:
        lines += [f"Command: `{a['command']}`", "", f"Machine: {_machine_line(a['machine'])}.", "",
                  f"Same manifest (`{a['manifest']}`), seed, batch budget of {a['batch_frames']} padded 10 ms frames, "
                  f"{a['threads'] or 'all'} thread(s), {a['num_workers']} data-loader workers (loading and features "
                  f"are inside the timed step), {a['steps']} steps x {a['repeats']} run(s) per model; medians over "
                  f"the steps after the first {a['skip_steps']}.", "",
                  "| model | params | audio s / batch | step time (s) | audio-s trained per wall-s |",
                  "|---|---:|---:|---:|---:|"]
        for preset, r in a["results"].items():
            lines.append(f"| {preset} | {r['params'] / 1e6:.2f} M | {r['batch_audio_s']:.1f} | {r['step_s']:.3f} | "
                         f"{r['audio_s_per_s']:.1f} |")
        rate = {(r.get("preset", k), r.get("precision", "fp32")): r["audio_s_per_s"] for k, r in a["results"].items()}
        if all((p, "fp32") in rate for p in PRESETS):
            ratio = rate["small-optimized", "fp32"] / rate["small-baseline", "fp32"]
            lines += ["", f"small-optimized trains {ratio:.2f}x as many audio-seconds per wall-second as small-baseline."]
        for preset in PRESETS:
            if (preset, "bf16") in rate and (preset, "fp32") in rate:
                lines.append(f"{preset} with `--cpu-bf16` trains {rate[preset, 'bf16'] / rate[preset, 'fp32']:.2f}x "
                             f"as many audio-seconds per wall-second as in fp32.")
    else:
        lines.append("Not run yet (`--parts a`).")
    b = results.get("b")
    lines += ["", "## (b) RNN-T loss step time (forward + backward)", ""]
    if b:
        lines += [f"Command: `{b['command']}`", "", f"Machine: {_machine_line(b['machine'])}; torch {b['torch']}, "
                  f"{b['threads']} thread(s); median of {b['reps']} after one warm-up. Random logits, the last "
                  f"sequence of each batch 3/4 as long in T and U. Times include the log-softmax over V.", "",
                  f"torchaudio: {b['torchaudio']}" + ("; memasr does not depend on it, so only memasr's loss is "
                                                      "timed here." if b["results"] and b["results"][0]["torchaudio_ms"]
                                                      is None else "."), "",
                  "| B | T | U | V | joint tensor (MB) | memasr `rnnt_loss` (ms) | torchaudio `rnnt_loss` (ms) |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        for r in b["results"]:
            ta = "n/a" if r["torchaudio_ms"] is None else f"{r['torchaudio_ms']:.1f}"
            lines.append(f"| {r['B']} | {r['T']} | {r['U']} | {r['V']} | {r['joint_mb']:.1f} | {r['ours_ms']:.1f} | {ta} |")
    else:
        lines.append("Not run yet (`--parts b`).")
    c = results.get("c")
    lines += ["", "## (c) Convergence: held-out-voice WER against training minutes", ""]
    if c:
        plot = Path(c["plot"])
        try:
            rel = os.path.relpath(plot, md_path.parent)
        except ValueError:
            rel = str(plot)
        workers_c = "1 (the trainer's CPU default)" if c.get("num_workers") is None else c["num_workers"]
        lines += [f"Command: `{c['command']}`", "", f"Machine: {_machine_line(c['machine'])}.", "",
                  f"small-optimized trained on on-the-fly synthesis (`--train synth:`) for {c['minutes']:g} wall "
                  f"minutes per variant in {c['points']} resumed segments; batch budget {c['batch_frames']} frames, "
                  f"peak LR {c['lr']:g}, warmup {c['warmup']}, {c['threads'] or 'all'} thread(s), "
                  f"{workers_c} synthesis "
                  f"worker(s). WER: streaming "
                  f"greedy decoding of the first {c['limit'] or 'all'} utterances of `{c['test_manifest']}` "
                  f"(voices never drawn for training). Scoring time is not training time.", "",
                  f"![convergence]({rel})", "",
                  "| variant | minutes | step | audio hours | WER (%) | CER (%) |", "|---|---:|---:|---:|---:|---:|"]
        for name, pts in c["curves"].items():
            for p in pts:
                lines.append(f"| {name} | {p['minutes']:.2f} | {p['step']} | {p['audio_hours']:.3f} | "
                             f"{100 * p['wer']:.1f} | {100 * p['cer']:.1f} |")
    else:
        lines.append("Not run yet (`--parts c`; about 2 x `--minutes` of training plus scoring).")
    d = results.get("d")
    lines += ["", "## (d) Long runs: dev WER against training minutes", ""]
    if d:
        try:
            rel = os.path.relpath(Path(d["plot"]), md_path.parent)
        except ValueError:
            rel = d["plot"]
        lines += [f"Command: `{d['command']}`", "",
                  "Read from finished `memasr train` folders (nothing is trained by this part): greedy WER on the "
                  "dev utterances the run evaluated (training voices, held-out sentences) at each evaluation.", "",
                  f"![runs]({rel})", "",
                  "| run | steps | minutes | audio hours seen | best dev WER % | minutes / step / dev WER % |",
                  "|---|---:|---:|---:|---:|---|"]
        for label, run in d["runs"].items():
            curve = ", ".join(f"{p['minutes']:.0f} / {p['step']} / {100 * p['wer']:.1f}" for p in run["points"])
            best = "n/a" if run["best_wer"] is None else f"{100 * run['best_wer']:.1f}"
            lines.append(f"| {label} (`{run['folder']}`) | {run['steps']} | {run['minutes']:.0f} | "
                         f"{run['audio_hours']:.1f} | {best} | {curve} |")
        commands = [(label, run["command"]) for label, run in d["runs"].items() if run.get("command")]
        if commands:
            lines += ["", "Training commands:", ""] + [f"- {label}: `{cmd}`" for label, cmd in commands]
    else:
        lines.append("Not run yet (`--parts d --run LABEL=DIR ...`).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default="a,b,c", help="comma-separated parts to run: a, b, c, d (default a,b,c)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="report path (default docs/results/training.md)")
    p.add_argument("--threads", type=int, help="torch threads (default: the trainer's default, all cores)")
    p.add_argument("--work", help="folder for the runs (default: a temporary folder, removed at the end)")
    a = p.add_argument_group("(a) throughput")
    a.add_argument("--train-manifest", default=str(DEFAULT_TRAIN),
                   help="training manifest (default data/corpus/train.jsonl; synthesized when missing)")
    a.add_argument("--steps", type=int, default=12, help="steps per run (default 12)")
    a.add_argument("--skip-steps", type=int, default=2, help="warm-up steps left out of the medians (default 2)")
    a.add_argument("--repeats", type=int, default=1, help="runs per model, alternating order (default 1)")
    a.add_argument("--precisions", default="fp32",
                   help="fp32 and/or bf16 (memasr train --cpu-bf16), comma-separated (default fp32)")
    a.add_argument("--cmvn-utts", type=int, default=50, help="clips to fit CMVN on (default 50)")
    b = p.add_argument_group("(b) loss")
    b.add_argument("--loss-reps", type=int, default=5, help="timed repetitions per size (default 5)")
    c = p.add_argument_group("(c) convergence")
    c.add_argument("--minutes", type=float, default=10.0, help="training wall minutes per variant (default 10)")
    c.add_argument("--points", type=int, default=5, help="WER points per curve (default 5)")
    c.add_argument("--test-manifest", default=str(DEFAULT_TEST),
                   help="held-out-voice test manifest (default data/corpus/test.jsonl)")
    c.add_argument("--limit", type=int, default=100, help="test utterances scored per point (default 100; 0 = all)")
    c.add_argument("--ctc-weight", type=float, default=0.3, help="CTC weight of the 'with CTC' run (default 0.3)")
    c.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    c.add_argument("--warmup", type=int, default=200, help="warmup steps (default 200)")
    c.add_argument("--synth-engines", help="comma-separated TTS engines (default: all installed)")
    c.add_argument("--plot", default=str(DEFAULT_PLOT), help="plot path (default docs/results/training_convergence.png)")
    d = p.add_argument_group("(d) long runs")
    d.add_argument("--run", action="append", default=[], type=labelled("DIR"), metavar="LABEL=DIR", help="a memasr train output folder")
    d.add_argument("--keep-runs", action="store_true",
                   help="keep the runs of the previous part (d) result whose labels are not read again")
    d.add_argument("--run-command", action="append", default=[], type=labelled("TEXT"), metavar="LABEL=TEXT",
                   help="the command that trained run LABEL (shown in the report)")
    d.add_argument("--runs-plot", default=str(DEFAULT_RUNS_PLOT), help="plot path (default docs/results/training_runs.png)")
    p.add_argument("--batch-frames", type=int, default=3000,
                   help="padded 10 ms frames per batch, parts a and c (default 3000 = 30 s)")
    p.add_argument("--num-workers", type=int,
                   help="data-loader workers (default: 0 in part a, the trainer's default, 1 on CPU, in part c)")
    args = p.parse_args(argv)
    parts = {x.strip() for x in args.parts.split(",") if x.strip()}
    if not parts or parts - {"a", "b", "c", "d"}:
        p.error("--parts takes a comma-separated subset of a, b, c, d")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    out = Path(args.out)
    store = out.with_suffix(".json")
    results = json.loads(store.read_text()) if store.is_file() else {}
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="memasr-train-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for part in sorted(parts):
            started = time.perf_counter()
            if part == "a":
                results["a"] = part_a(args, work)
            elif part == "b":
                results["b"] = part_b(args)
            elif part == "c":
                results["c"] = part_c(args, work)
            else:
                earlier = results.get("d", {}).get("runs", {}) if args.keep_runs else {}
                results["d"] = part_d(args)
                # runs read by earlier invocations (folders since gone) stay, with their own commands
                results["d"]["runs"] = {**{k: v for k, v in earlier.items() if k not in results["d"]["runs"]},
                                        **results["d"]["runs"]}
                _plot_runs(results["d"]["runs"], Path(args.runs_plot))
            results[part]["wall_s"] = round(time.perf_counter() - started, 1)
            out.parent.mkdir(parents=True, exist_ok=True)
            store.write_text(json.dumps(results, indent=1) + "\n")
            out.write_text(render(results, out))
            print(f"({part}) done in {results[part]['wall_s']} s -> {out}", file=sys.stderr)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    from memasr.errors import exit_on_input_error

    sys.exit(exit_on_input_error(main, "train_throughput.py"))
