#!/usr/bin/env bash
# Session q, second part: runs/sq/gp/run/final continued 1,400 steps at a fresh cosine (2e-4 -> 1e-5).
set -euo pipefail
cd /work/main
exec nice -n 2 .venv/bin/torchrun --standalone --nproc_per_node 2 -m memasr.cli train \
  --config runs/sq/gp/config.toml --init-from runs/sq/gp/run/final --cpu-bf16 \
  --train data/mix8/train.jsonl --dev data/corpus/dev.jsonl --dev-max-utts 200 --best-metric wer \
  --dropout 0 --freq-width 15 --time-masks 2 --steps 1400 --lr 2e-4 --warmup 150 --lr-schedule cosine \
  --min-lr-ratio 0.05 --reg-start 0 --reg-ramp 300 --augment --speed-perturb --ctc-weight 0.3 --loss pruned \
  --eval-every 500 --save-every 250 --keep 60 --threads 1 --num-workers 1 --seed 43 --quiet \
  --max-wall-minutes 24 --out runs/sq/gp/run2
