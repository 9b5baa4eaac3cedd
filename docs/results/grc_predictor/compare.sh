#!/usr/bin/env bash
set -euo pipefail
cd /work/main
CMD="$(sed -n '/^exec/,$p' runs/sq/train_gp.sh | tr -d '\\\n' | tr -s ' ' | sed 's/^exec //')"
.venv/bin/memasr average --run runs/sq/gp/run --last 3 --out runs/sq/gp/run/avg-3
.venv/bin/python benchmarks/side_by_side.py \
  --title 'Session q: the shipped default with a 1-layer GRC predictor in place of its stateless one (encoder, joiner and heads kept), against the default' \
  --run 'shipped default (session n, stateless predictor)=src/memasr/pretrained/default' \
  --run 'grc-pred: final step=runs/sq/gp/run/final' \
  --run 'grc-pred: mean of its last 3 checkpoints=runs/sq/gp/run/avg-3' \
  --run-command "grc-pred=$CMD" \
  --manifest data/corpus/test.jsonl --manifest data/corpus-natural/test.jsonl --manifest data/real-dev.jsonl \
  --manifest data/librivox.jsonl --manifest data/real-test.jsonl --by-source --threads 2 \
  --out docs/results/grc_predictor.md
