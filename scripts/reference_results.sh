#!/usr/bin/env bash
# After the reference runs: choose each model's checkpoint on the FULL dev set (the trainer's
# "best" was picked on 80 dev utterances, which is noisy), then regenerate the reference and peer
# results with the chosen pair. Candidates per run: best (by the 80-utterance dev WER), final
# (the end of the cosine schedule) and the average of the last 3 checkpoints (memasr average).
#
#   bash scripts/reference_results.sh runs/small-baseline-cont runs/small-optimized-cont
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BASELINE_RUN OPTIMIZED_RUN" >&2; exit 2; }
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
runs=("$(realpath --relative-to="$ROOT" "$1")" "$(realpath --relative-to="$ROOT" "$2")")  # before the cd
cd "$ROOT"
PY=.venv/bin/python
MEMASR=.venv/bin/memasr
DEV=${MEMASR_DEV_MANIFEST:-data/corpus/dev.jsonl}
TEST=${MEMASR_TEST_MANIFEST:-data/corpus/test.jsonl}

jobs=()
for run in "${runs[@]}"; do
  $MEMASR average --run "$run" --last 3 --out "$run/avg-3"
  for c in best final avg-3; do jobs+=("$run/$c"); done
done
# two evaluations at a time (one thread each)
# (eval exits 2 when some audio is unreadable but still writes its summary: that is kept)
printf '%s\n' "${jobs[@]}" | xargs -P 2 -I{} sh -c \
  '"$0" eval --model "$1" --manifest "$2" --threads 1 --json > "$1.dev.json" || [ -s "$1.dev.json" ]' \
  "$MEMASR" {} "$DEV"

chosen=()
for run in "${runs[@]}"; do
  chosen+=("$($PY - "$run" <<'PYEOF'
import json, sys
run = sys.argv[1]
rows = {c: json.load(open(f"{run}/{c}.dev.json")) for c in ("best", "final", "avg-3")}
wer = {c: float("inf") if r.get("wer") is None else r["wer"] for c, r in rows.items()}
for c, r in rows.items():
    print(f"{run}/{c}: dev WER {100 * wer[c]:.2f}% ({r.get('utterances')} utts)", file=sys.stderr)
print(f"{run}/{min(wer, key=wer.get)}")
PYEOF
)")
done
echo "chosen on the full dev set: ${chosen[*]}"
$PY benchmarks/reference_models.py --model "${chosen[0]}" --model "${chosen[1]}" --test-manifest "$TEST"
$PY benchmarks/peers.py --model "${chosen[1]}" --repeats 1
