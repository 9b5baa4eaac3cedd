#!/usr/bin/env bash
# Rebuild, on a fresh machine, the data the current recipe trains and is scored on (docs/results
# name these paths): the 20 h synthetic corpus, the natural-voice corpus, the real-speech
# manifests (real-dev, real-test, librivox), the game-speech manifests, the one-word corpus and
# the mixes data/mixw/train.jsonl, data/mix5/train.jsonl and data/mix8/train.jsonl (the shipped
# default's last anneal). Safe to rerun: `memasr synth` resumes or
# extends a corpus, and the manifests and mixes are rewritten (cheap; decoded game audio is cached).
# Most of the time is the synthetic corpus (31 minutes with --jobs 1 on a 2-core machine in the
# session of 2026-12-03; the rest of the script took 19 minutes with --jobs 2 on 2026-12-04, packages
# included, and the one-word corpus 5 minutes with --jobs 1). Start it in the background at the
# beginning of a session:
#
#   nohup bash scripts/build_training_data.sh > data-build.log 2>&1 &
#   bash scripts/build_training_data.sh --jobs 1     # leave a core free
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
JOBS=2
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "error: --jobs wants a positive integer" >&2; exit 2; }
            JOBS=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown argument $1 (only --jobs N)" >&2; exit 2 ;;
  esac
done
cd "$ROOT"
MEMASR=.venv/bin/memasr
step() { echo "== $(date +%H:%M:%S) $*"; }

step "packages: the game and eval data (MEMASR_EVAL_FULL=1) and the venv"
make --no-print-directory debs install MEMASR_EVAL_FULL=1

step "synthetic corpus: 20 h, espeak-ng, flite, festival, piper (train/dev/test, held-out test voices)"
$MEMASR synth --hours 20 --out data/corpus --jobs "$JOBS" --seed 1 --engines espeak-ng,flite,festival,piper
step "natural-voice corpus: 2 h, rhvoice, pico, mbrola, piper"
$MEMASR synth --hours 2 --out data/corpus-natural --jobs "$JOBS" --seed 2 --engines rhvoice,pico,mbrola,piper

step "one-word corpus: 1.5 h, nouns, letters and numbers spoken alone, seven engines"
$MEMASR synth --text isolated-words --closed-words hashed --hours 1.5 --out data/corpus-words --jobs "$JOBS" --seed 4 \
    --engines espeak-ng,flite,festival,piper,rhvoice,pico,mbrola

step "real and game speech manifests (memasr.data.evalsets)"
.venv/bin/python - <<'EOF'
from memasr.data.evalsets import write_manifest

for name in ("real-dev", "real-test", "librivox", "drascula", "sky", "queen", "hedgewars", "warzone2100",
             "tuxpaint"):
    print(f"{name}: {write_manifest(name, f'data/{name}.jsonl')} items")
EOF

step "mixes"
mkdir -p data/mixw data/mix5 data/mix8
$MEMASR prepare mix data/corpus/train.jsonl data/corpus-natural/train.jsonl:4 --out data/mixw/train.jsonl
$MEMASR prepare mix data/mixw/train.jsonl data/hedgewars.jsonl:10 data/warzone2100.jsonl:10 \
    data/tuxpaint.jsonl:10 data/drascula.jsonl:3 data/sky.jsonl:3 data/queen.jsonl:3 --out data/mix5/train.jsonl
$MEMASR prepare mix data/mix5/train.jsonl data/corpus-words/train.jsonl:3 --out data/mix8/train.jsonl
step "done"
