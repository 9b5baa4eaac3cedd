#!/usr/bin/env bash
# Session r: the equal-hours reference pair retrained FROM SCRATCH with a two-phase recipe
# (CTC-only encoder phase, then pruned RNN-T + CTC warm-started from it), peak LR 1e-3 for both.
# Same data, seed, batches and steps for both presets (2 DDP processes x 1 thread each):
#   docs/results/reference_pair/pair.sh small-baseline b && docs/results/reference_pair/pair.sh small-optimized o
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
P=$1   # preset
X=$2   # short name
OUT=runs/sr/pair/$X
COMMON=(--train data/mix8/train.jsonl --dev data/corpus/dev.jsonl --dev-max-utts 200 --best-metric wer
        --cpu-bf16 --dropout 0 --freq-width 15 --time-masks 2 --speed-perturb --seed 41 --quiet
        --threads 1 --num-workers 1 --keep 40 --lr-schedule cosine)
mkdir -p $OUT/ctc
cp -n src/memasr/pretrained/default/tokenizer.model $OUT/ctc/
# phase 1: the encoder alone, CTC
nice -n 2 .venv/bin/torchrun --standalone --nproc_per_node 2 -m memasr.cli train --preset $P "${COMMON[@]}" \
  --rnnt-weight 0 --ctc-weight 1 --steps 1100 --lr 1.5e-3 --warmup 100 --min-lr-ratio 0.3 \
  --reg-start 300 --reg-ramp 400 --eval-every 275 --save-every 275 --out $OUT/ctc
# phase 2: pruned RNN-T + CTC, channel augmentation ramped in
nice -n 2 .venv/bin/torchrun --standalone --nproc_per_node 2 -m memasr.cli train --preset $P "${COMMON[@]}" \
  --init-from $OUT/ctc/final --ctc-weight 0.3 --loss pruned --prune-warmup 300 --steps 900 --lr 1e-3 \
  --warmup 100 --min-lr-ratio 0.05 --augment --reg-start 0 --reg-ramp 400 --eval-every 300 --save-every 150 \
  --out $OUT/rnnt
