#!/usr/bin/env bash
# Train small-baseline and small-optimized on the GPU machine in one `run` call (docs/device.md):
#
#     bash scripts/device/train_reference.sh          (run tool: carry [".carry"], timeout_s 600)
#
# Sources env.sh (carried wheels and debs, no network), checks the GPU and the TTS engines, trains
# both presets with the same recipe and wall budget on on-the-fly synthesis (--train synth:,
# espeak-ng + flite, many loader workers), side by side by default, and leaves in $OUT:
#   device.log, summary.json, and per preset <preset>.tar (split into <preset>.tar.0, .1, ... when
#   over 15 MiB) holding <preset>/{final/ or best/ (MEMASR_PACK), train.csv, dev.csv, tokenizer.model,
#   train.log, result.json}.
# Without $OUT the files go to $MEMASR_DEVICE_OUT (/tmp/memasr-device-out).
#
# Local rehearsal on CPU (tiny budget, .venv Python, same engines from /tmp/engines and /tmp/site):
#     MEMASR_DEVICE_DRYRUN=1 bash scripts/device/train_reference.sh
#
# Budget and recipe (environment; device default / dry-run default):
#   MEMASR_DEADLINE_S   whole script, seconds from its start (540 / 1200): training is stopped
#                       (SIGINT) MEMASR_PACK_S (45) before it, so packing always happens
#   MEMASR_WALL_MIN     --max-wall-minutes per preset (auto: what the deadline leaves after
#                       MEMASR_RESERVE_S (150 s) of setup, final evaluation and packing; halved
#                       when sequential)
#   MEMASR_STEPS        --steps, also sets the cosine LR schedule (unset: inverse-sqrt / 10)
#   MEMASR_PARALLEL     1: both presets at once, each with half the loader workers (1 / 0)
#   MEMASR_WORKERS      loader workers per preset (parallel: (cores-2)/2, else cores-1 / 2)
#   MEMASR_PRESETS      ("small-baseline small-optimized")
#   MEMASR_ENGINES_LIST --synth-engines ("espeak-ng,flite"; Piper does not fit the carry)
#   MEMASR_BATCH_FRAMES (10000 / 1500)  MEMASR_LR (2e-3)  MEMASR_WARMUP (300 / 2)
#   MEMASR_CTC (0.3)  MEMASR_EVAL_EVERY (250 / 5)  MEMASR_DEV_UTTS (80 / 6)
#   MEMASR_CMVN_UTTS (200 / 16)  MEMASR_BEST_METRIC (wer)  MEMASR_SEED (0)
#   MEMASR_PACK         model directory to return: best, final, or auto = final/ unless best/ has a
#                       strictly lower dev WER (ties at 100% WER would keep the earliest) (auto)
#   MEMASR_SYNTH_HOURS  0: on-the-fly synthesis (default). > 0: first synthesize a corpus of that
#                       many hours on all cores (`memasr synth`, the working engines) and train
#                       epochs over its train split instead, so audio is reused, not regenerated
#   MEMASR_TRAIN_ARGS   extra `memasr train` arguments (e.g. --no-amp)
#   MEMASR_WORK         training output folders (/tmp/memasr-train)
set -uo pipefail
T0=$(date +%s)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO" || exit 1
DRY=${MEMASR_DEVICE_DRYRUN:-0}
OUTDIR=${OUT:-${MEMASR_DEVICE_OUT:-/tmp/memasr-device-out}}
WORK=${MEMASR_WORK:-/tmp/memasr-train}
mkdir -p "$OUTDIR" "$WORK"
rm -f "$OUTDIR/device.log" "$OUTDIR/summary.json" "$OUTDIR"/*.tar "$OUTDIR"/*.tar.[0-9]
exec > >(tee -a "$OUTDIR/device.log") 2>&1
TEE_PID=$!
trap 'exec 1>&- 2>&-; wait "$TEE_PID" 2>/dev/null' EXIT  # device.log complete before $OUT is collected

elapsed() { echo $(($(date +%s) - T0)); }
say() { echo "[train_reference +$(elapsed)s] $*"; }
die() { say "ERROR: $*"; exit "${2:-1}"; }

cores=$(nproc)
if [ "$DRY" = 1 ]; then
    : "${MEMASR_DEADLINE_S:=1200}" "${MEMASR_STEPS:=10}" "${MEMASR_PARALLEL:=0}" "${MEMASR_WORKERS:=2}"
    : "${MEMASR_BATCH_FRAMES:=1500}" "${MEMASR_WARMUP:=2}" "${MEMASR_EVAL_EVERY:=5}" "${MEMASR_DEV_UTTS:=6}"
    : "${MEMASR_CMVN_UTTS:=16}"
    DEVICE=cpu
    EXTRA_DEFAULT=(--threads 1)
else
    : "${MEMASR_DEADLINE_S:=540}" "${MEMASR_PARALLEL:=1}"
    DEVICE=cuda
    EXTRA_DEFAULT=()
fi
if [ "${MEMASR_PARALLEL}" = 1 ]; then : "${MEMASR_WORKERS:=$(((cores - 2) / 2))}"; else : "${MEMASR_WORKERS:=$((cores - 1))}"; fi
[ "$MEMASR_WORKERS" -ge 1 ] || MEMASR_WORKERS=1
: "${MEMASR_PACK_S:=45}" "${MEMASR_RESERVE_S:=150}" "${MEMASR_STEPS:=}" "${MEMASR_WALL_MIN:=}"
: "${MEMASR_PRESETS:=small-baseline small-optimized}" "${MEMASR_ENGINES_LIST:=espeak-ng,flite}"
: "${MEMASR_BATCH_FRAMES:=10000}" "${MEMASR_LR:=2e-3}" "${MEMASR_WARMUP:=300}" "${MEMASR_CTC:=0.3}"
: "${MEMASR_EVAL_EVERY:=250}" "${MEMASR_DEV_UTTS:=80}" "${MEMASR_CMVN_UTTS:=200}" "${MEMASR_BEST_METRIC:=wer}"
: "${MEMASR_SEED:=0}" "${MEMASR_PACK:=auto}" "${MEMASR_TRAIN_ARGS:=}"

if commit=$(git rev-parse --short HEAD 2>/dev/null); then
    git diff --quiet HEAD 2>/dev/null || commit="$commit+dirty"
else
    commit="? (no .git here)"
fi
say "start: dry run=$DRY, out=$OUTDIR, work=$WORK, $cores cores, $(uname -m), commit $commit"

# ---- environment: carried wheels and debs -------------------------------------------------------
# shellcheck source=scripts/device/env.sh
. "$REPO/scripts/device/env.sh" || die "env.sh failed (is .carry carried? see docs/device.md)" 2
say "env ready: PYTHONPATH=$PYTHONPATH"
# A stale .pth or a second install must not shadow the checkout:
"$MEMASR_PY" - <<'EOF' || die "the Python environment is not usable" 2
import importlib, os, shutil, sys
import torch
print(f"python {sys.version.split()[0]} at {sys.executable}; torch {torch.__version__}, cuda available {torch.cuda.is_available()}")
for mod in ("memasr", "espeakng_loader", "soundfile", "soxr", "jiwer", "rapidfuzz", "num2words", "parselmouth",
            "sentencepiece", "onnxruntime"):
    m = importlib.import_module(mod)
    print(f"  {mod:16s} {getattr(m, '__version__', ''):10s} {os.path.dirname(m.__file__)}")
import espeakng_loader
print(f"  espeak-ng library {espeakng_loader.get_library_path()}")
print(f"  espeak-ng data    {espeakng_loader.get_data_path()}")
print(f"  flite             {shutil.which('flite')}")
print(f"  memasr launcher   {shutil.which('memasr')}")
EOF
ldd "$(command -v flite)" 2>/dev/null | grep -E "libflite.so|libasound" | sed 's/^/  /'

# ---- the GPU -----------------------------------------------------------------------------------------
if [ "$DRY" = 1 ]; then
    say "dry run: training on the CPU"
else
    gpu=$("$MEMASR_PY" -c 'import torch; print(torch.cuda.get_device_name())') || die "no CUDA device" 3
    say "GPU: $gpu"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/  /'
fi

# ---- the TTS engines: one sentence each; a broken engine is dropped, not fatal --------------------
engines=$("$MEMASR_PY" - "$MEMASR_ENGINES_LIST" <<'EOF'
import sys, time
from memasr.data.synth import get_engine, shift_pitch, unmet_requirement
ok = []
for name in sys.argv[1].split(","):
    eng = get_engine(name)
    try:
        # the trainer's own test (it drops such an engine silently): installed, and Praat
        # (parselmouth) for engines with voices that have no pitch control of their own (flite's rms)
        why = unmet_requirement(name)
        if why:
            raise RuntimeError(why)
        voice = eng.voices()[0]
        t = time.perf_counter()
        audio, sr = eng.synthesize("the quick brown fox jumps over the lazy dog", voice)
        dt = time.perf_counter() - t
        if len(audio) < sr // 2:
            raise RuntimeError(f"only {len(audio)} samples")
        if not all(eng.controls_pitch(v) for v in eng.voices()) and len(shift_pitch(audio, sr, 1.2)) != len(audio):
            raise RuntimeError("Praat's pitch shift changed the length")
        print(f"  {name}: {len(eng.voices())} voices, '{voice}' gave {len(audio) / sr:.2f} s in {dt:.3f} s", file=sys.stderr)
        ok.append(name)
    except Exception as exc:
        print(f"  {name}: UNUSABLE, dropped: {exc}", file=sys.stderr)
print(",".join(ok))
EOF
)
[ -n "$engines" ] || die "no TTS engine works" 4
[ "$engines" = "$MEMASR_ENGINES_LIST" ] || say "WARNING: training on $engines only (asked for $MEMASR_ENGINES_LIST)"
say "engines: $engines"

DEV=$MEMASR_CARRY/dev/dev.jsonl
DEV_ARGS=()
if [ -f "$DEV" ] && [ "$MEMASR_DEV_UTTS" -gt 0 ]; then
    DEV_ARGS=(--dev "$DEV" --dev-max-utts "$MEMASR_DEV_UTTS")
else
    say "WARNING: no dev set ($DEV): 'best' will follow the training loss"
fi

# ---- training audio: on the fly, or a corpus synthesized here first ------------------------------
: "${MEMASR_SYNTH_HOURS:=0}"
SRC_ARGS=(--train synth: --synth-engines "$engines")
if awk -v h="$MEMASR_SYNTH_HOURS" 'BEGIN {exit !(h > 0)}'; then
    corpus=$WORK/corpus
    stop_in=$((MEMASR_DEADLINE_S - MEMASR_RESERVE_S - 60 - $(elapsed)))
    [ "$stop_in" -ge 30 ] || die "no time left to synthesize ${MEMASR_SYNTH_HOURS} h" 5
    say "synthesizing ${MEMASR_SYNTH_HOURS} h with $engines on $cores cores into $corpus (at most ${stop_in}s)"
    timeout -k 10 -s INT "$stop_in" memasr synth --hours "$MEMASR_SYNTH_HOURS" --out "$corpus" --jobs "$cores" \
        --engines "$engines" --allow-missing --seed "$MEMASR_SEED" --quiet 2>&1 | sed -u 's/^/  [synth] /'
    [ -s "$corpus/train.jsonl" ] || die "synthesis wrote no train.jsonl" 4
    SRC_ARGS=(--train "$corpus/train.jsonl" --epochs 1000)  # the wall budget ends training
    say "corpus: $(wc -l <"$corpus/train.jsonl") training utterances"
fi

# ---- budget -------------------------------------------------------------------------------------
read -ra PRESETS <<<"$MEMASR_PRESETS"
n=${#PRESETS[@]}
left=$((MEMASR_DEADLINE_S - $(elapsed)))
if [ -z "$MEMASR_WALL_MIN" ]; then
    avail=$((left - MEMASR_RESERVE_S))
    [ "$MEMASR_PARALLEL" = 1 ] || avail=$((avail / n))
    [ "$avail" -ge 30 ] || die "only ${left}s left before the deadline: raise MEMASR_DEADLINE_S" 5
    MEMASR_WALL_MIN=$(awk -v s="$avail" 'BEGIN {printf "%.2f", s / 60}')
fi
say "recipe: ${PRESETS[*]} $([ "$MEMASR_PARALLEL" = 1 ] && echo side by side || echo one after the other)," \
    "${MEMASR_WALL_MIN} wall-min each${MEMASR_STEPS:+, at most $MEMASR_STEPS steps}, $MEMASR_WORKERS loader" \
    "workers each, batch $MEMASR_BATCH_FRAMES frames, lr $MEMASR_LR, warmup $MEMASR_WARMUP, ctc $MEMASR_CTC," \
    "eval every $MEMASR_EVAL_EVERY on ${MEMASR_DEV_UTTS} dev utts, best by $MEMASR_BEST_METRIC; deadline ${MEMASR_DEADLINE_S}s"

export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}  # main processes: the cores belong to the synthesis workers

train_one() {  # PRESET -> trains into $WORK/PRESET; exit status in $WORK/PRESET.rc
    local preset=$1 dir=$WORK/$1 stop_in args
    rm -rf "$dir" "$dir.rc" "$dir.log" "$dir.packed"
    args=(train --preset "$preset" "${SRC_ARGS[@]}" "${DEV_ARGS[@]}" --out "$dir"
          --max-wall-minutes "$MEMASR_WALL_MIN" --batch-frames "$MEMASR_BATCH_FRAMES" --lr "$MEMASR_LR"
          --warmup "$MEMASR_WARMUP" --ctc-weight "$MEMASR_CTC" --eval-every "$MEMASR_EVAL_EVERY"
          --save-every "$MEMASR_EVAL_EVERY" --best-metric "$MEMASR_BEST_METRIC" --seed "$MEMASR_SEED"
          --num-workers "$MEMASR_WORKERS" --cmvn-utts "$MEMASR_CMVN_UTTS" --device "$DEVICE" --quiet --json
          "${EXTRA_DEFAULT[@]}")
    [ -n "$MEMASR_STEPS" ] && args+=(--steps "$MEMASR_STEPS")
    # shellcheck disable=SC2206
    [ -n "$MEMASR_TRAIN_ARGS" ] && args+=($MEMASR_TRAIN_ARGS)
    stop_in=$((MEMASR_DEADLINE_S - MEMASR_PACK_S - $(elapsed)))
    [ "$stop_in" -ge 10 ] || stop_in=10
    say "$preset: memasr ${args[*]} (hard stop in ${stop_in}s)"
    timeout -k 20 -s INT "$stop_in" memasr "${args[@]}" 2>&1 | tee "$dir.log" | sed -u "s/^/  [$preset] /"
    echo "${PIPESTATUS[0]}" >"$dir.rc"
    say "$preset: exit status $(cat "$dir.rc")"
}

if [ "$MEMASR_PARALLEL" = 1 ]; then
    pids=()
    for p in "${PRESETS[@]}"; do train_one "$p" & pids+=($!); done
    wait "${pids[@]}"  # not a bare `wait`: it would also wait for the tee of the log, forever
else
    for p in "${PRESETS[@]}"; do train_one "$p"; done
fi
say "training done"

# ---- pack: one flat tar per preset (split at 15 MiB), summary.json ------------------------------
pack_one() {  # PRESET
    local preset=$1 dir=$WORK/$1 model stage tarf size
    model=$dir/$MEMASR_PACK
    if [ "$MEMASR_PACK" = auto ]; then  # final/ unless best/ has a strictly lower dev WER
        model=$dir/best
        if [ -f "$dir/final/meta.json" ] && "$MEMASR_PY" - "$dir" <<'EOF'
import json, sys
d = sys.argv[1]
final = json.load(open(f"{d}/final/meta.json"))
try:
    best = json.load(open(f"{d}/best/meta.json")).get("best") or {}
except OSError:
    sys.exit(0)
ok = "dev_wer" in final and best.get("metric") == "dev_wer" and final["dev_wer"] <= best["value"]
sys.exit(0 if ok or best.get("step") == final.get("step") else 1)
EOF
        then model=$dir/final; fi
    fi
    [ -d "$model" ] || model=$dir/best
    [ -d "$model" ] || model=$dir/final
    if [ ! -d "$model" ]; then say "$preset: no model directory to pack"; return 1; fi
    stage=$(mktemp -d "$WORK/.pack.XXXXXX")
    mkdir -p "$stage/$preset"
    cp -r "$model" "$stage/$preset/$(basename "$model")"
    basename "$model" >"$dir.packed"
    for f in train.csv dev.csv tokenizer.model; do [ -f "$dir/$f" ] && cp "$dir/$f" "$stage/$preset/"; done
    [ -f "$dir.log" ] && cp "$dir.log" "$stage/$preset/train.log"
    grep '^{' "$dir.log" 2>/dev/null | tail -1 >"$stage/$preset/result.json"
    tarf=$OUTDIR/$preset.tar
    tar -C "$stage" -cf "$tarf" "$preset" && rm -rf "$stage"
    size=$(stat -c %s "$tarf")
    if [ "$size" -gt $((15 * 1024 * 1024)) ]; then
        split -b 15M -d -a 1 "$tarf" "$tarf." && rm -f "$tarf"
    fi
    say "$preset: packed $(basename "$model")/ ($size bytes) -> $(cd "$OUTDIR" && ls "$preset".tar* | tr '\n' ' ')"
}
for p in "${PRESETS[@]}"; do pack_one "$p"; done

"$MEMASR_PY" - "$WORK" "$OUTDIR/summary.json" "$DRY" "$engines" "$MEMASR_WALL_MIN" "$MEMASR_WORKERS" \
    "$MEMASR_PARALLEL" "$(elapsed)" "${gpu:-cpu (dry run)}" "${PRESETS[@]}" <<'EOF'
import csv, json, os, subprocess, sys
from pathlib import Path
work, out, dry, engines, wall, workers, parallel, secs, gpu, *presets = sys.argv[1:]
def git(*a):
    try:
        return subprocess.run(["git", *a], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""
summary = {"dry_run": dry == "1", "gpu": gpu, "engines": engines.split(","), "wall_minutes_each": float(wall),
           "workers_each": int(workers), "parallel": parallel == "1", "script_seconds": int(secs),
           "commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
           "text_pool_sha256": os.environ.get("MEMASR_TEXT_POOL_SHA256"), "models": {}}
for p in presets:
    d = Path(work) / p
    rc = (Path(work) / f"{p}.rc").read_text().strip() if (Path(work) / f"{p}.rc").exists() else None
    result = None
    for line in (Path(work) / f"{p}.log").read_text().splitlines() if (Path(work) / f"{p}.log").exists() else []:
        if line.startswith("{"):
            try:
                result = json.loads(line)
            except ValueError:
                pass
    dev = list(csv.DictReader(open(d / "dev.csv"))) if (d / "dev.csv").exists() else []
    train = list(csv.DictReader(open(d / "train.csv"))) if (d / "train.csv").exists() else []
    meta = json.loads((d / "best" / "meta.json").read_text()) if (d / "best" / "meta.json").exists() else {}
    packed = Path(work, f"{p}.packed").read_text().strip() if Path(work, f"{p}.packed").exists() else None
    summary["models"][p] = {"exit_status": rc, "result": result, "packed": packed, "dev": dev, "best": meta.get("best"),
                            "last_train_row": train[-1] if train else None,
                            "files": sorted(f for f in os.listdir(Path(out).parent) if f.startswith(p + ".tar"))}
Path(out).write_text(json.dumps(summary, indent=1) + "\n")
for p, m in summary["models"].items():
    r = m["result"] or {}
    print(f"  {p}: exit {m['exit_status']}, {r.get('steps')} steps, {r.get('audio_hours')} h audio, "
          f"{r.get('audio_s_per_s')} audio-s/s, dev WER {r.get('dev_wer')}, best {m['best']}, packed {m['packed']}/")
EOF

# ---- check: the packed models load and transcribe (CPU, bundled examples) -------------------------
for p in "${PRESETS[@]}"; do
    ls "$OUTDIR/$p".tar* >/dev/null 2>&1 || continue
    chk=$(mktemp -d "$WORK/.check.XXXXXX")
    cat "$OUTDIR/$p".tar* | tar -C "$chk" -xf - || { say "$p: tar does not unpack"; continue; }
    model=$(find "$chk/$p" -mindepth 1 -maxdepth 1 -type d | head -1)
    say "$p: transcribe check with $model"
    timeout 90 memasr transcribe --model "$model" "$REPO"/src/memasr/examples/*.wav 2>&1 \
        | sed "s/^/  [$p] /" || say "$p: transcribe check FAILED"
    rm -rf "$chk"
done

say "files in $OUTDIR:"
(cd "$OUTDIR" && ls -l) | sed 's/^/  /'
nfiles=$(find "$OUTDIR" -type f | wc -l)
total=$(find "$OUTDIR" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
[ "$nfiles" -le 8 ] || say "WARNING: $nfiles files in $OUTDIR: only 8 come back"
[ "$total" -le $((64 * 1024 * 1024)) ] || say "WARNING: $total bytes in $OUTDIR: only 64 MiB come back"
fail=0
for p in "${PRESETS[@]}"; do ls "$OUTDIR/$p".tar* >/dev/null 2>&1 || fail=1; done
say "done in $(elapsed)s$([ "$fail" = 1 ] && echo ', SOME MODEL IS MISSING')"
exit "$fail"
