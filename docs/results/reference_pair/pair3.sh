#!/usr/bin/env bash
# Session r, phase 3: both continued from their phase-2 folders, same data, seed and batches:
#   docs/results/reference_pair/pair3.sh small-baseline b && docs/results/reference_pair/pair3.sh small-optimized o
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
P=$1
X=$2
OUT=runs/sr/pair/$X
nice -n 2 .venv/bin/torchrun --standalone --nproc_per_node 2 -m memasr.cli train --preset $P \
  --train data/mix8/train.jsonl --dev data/corpus/dev.jsonl --dev-max-utts 200 --best-metric wer \
  --cpu-bf16 --dropout 0 --freq-width 15 --time-masks 2 --speed-perturb --seed 43 --quiet \
  --threads 1 --num-workers 1 --keep 40 --lr-schedule cosine \
  --init-from $OUT/rnnt/final --ctc-weight 0.3 --loss pruned --steps 1300 --lr 8e-4 --warmup 100 \
  --min-lr-ratio 0.05 --augment --reg-start 0 --reg-ramp 200 --eval-every 325 --save-every 130 \
  --out $OUT/rnnt3
