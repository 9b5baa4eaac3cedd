#!/usr/bin/env bash
# One more phase of the equal-hours reference pair: pruned RNN-T + 0.3 CTC warm-started from the
# previous phase's final weights, cosine LR from PEAK down to 5% of it, same data, seed and
# batches for both presets (2 DDP processes x 1 thread each). Usage:
#   continue.sh PRESET NAME FROM TO STEPS PEAK_LR SEED [CKPT to --resume an interrupted run]
# e.g. session r's phase 3 and session s's phases 4 and 5:
#   continue.sh small-baseline b rnnt rnnt3 1300 8e-4 43
#   continue.sh small-baseline b rnnt3 rnnt4 700 5e-4 47
#   continue.sh small-baseline b rnnt4 rnnt5 2000 8e-4 53
# and the same with "small-optimized o". FROM is a phase name under runs/sr/pair/NAME, or a model
# folder (a path with a slash), such as reference/small-baseline on a new machine whose runs/ is gone:
#   continue.sh small-baseline b reference/small-baseline rnnt6 2600 8e-4 59   (session t's phase 6)
#   continue.sh small-baseline b reference/small-baseline rnnt7 3000 8e-4 61   (session u's phase 7)
#   continue.sh small-baseline b reference/small-baseline rnnt8 3000 8e-4 67   (session v's phase 8)
#   continue.sh small-baseline b reference/small-baseline rnnt9 3000 8e-4 71   (session w's phase 9)
# AUGMENT=0 in the environment drops channel augmentation (--augment) for the phase; give both
# presets the same setting (docs/results/fit_gap_augment.md: the pair fits faster without it):
#   AUGMENT=0 continue.sh small-baseline b reference/small-baseline rnnt10 3000 8e-4 83   (session y's phase 10)
# Phase 10 fitted the TTS voices faster but lost real speech (reference/README.md); phase 11, with
# it again, won real speech back, and the clean/augmented pair of phases gained no more than two
# augmented ones had: keep AUGMENT=1 (the default) for the next phases.
#   continue.sh small-baseline b reference/small-baseline rnnt11 3000 8e-4 89   (sessions y/z's phase 11)
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
if [ $# -lt 7 ]; then
  echo "usage: $0 PRESET NAME FROM TO STEPS PEAK_LR SEED [RESUME_CKPT]" >&2
  exit 2
fi
P=$1 X=$2 FROM=$3 TO=$4 STEPS=$5 LR=$6 SEED=$7
case "${AUGMENT:-1}" in
  1) AUG=(--augment) ;;
  0) AUG=() ;;
  *) echo "error: AUGMENT must be 0 or 1, got ${AUGMENT}" >&2; exit 2 ;;
esac
OUT=runs/sr/pair/$X
case "$FROM" in
  */*) START=(--init-from "$FROM") ;;
  *) START=(--init-from "$OUT/$FROM/final") ;;
esac
if [ $# -ge 8 ]; then START=(--resume "$8"); fi  # a resumed run keeps its own weights and state
nice -n 2 .venv/bin/torchrun --standalone --nproc_per_node 2 -m memasr.cli train --preset "$P" \
  --train data/mix8/train.jsonl --dev data/corpus/dev.jsonl --dev-max-utts 200 --best-metric wer \
  --cpu-bf16 --dropout 0 --freq-width 15 --time-masks 2 --speed-perturb --seed "$SEED" --quiet \
  --threads 1 --num-workers 1 --keep 40 --lr-schedule cosine \
  "${START[@]}" --ctc-weight 0.3 --loss pruned --steps "$STEPS" --lr "$LR" \
  --warmup 100 --min-lr-ratio 0.05 "${AUG[@]}" --reg-start 0 --reg-ramp 200 \
  --eval-every $((STEPS / 4)) --save-every $((STEPS / 10)) --out "$OUT/$TO"
