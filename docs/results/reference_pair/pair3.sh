#!/usr/bin/env bash
# Session r, phase 3: both continued from their phase-2 folders, same data, seed and batches:
#   docs/results/reference_pair/pair3.sh small-baseline b && docs/results/reference_pair/pair3.sh small-optimized o
# (the general form of this phase is continue.sh beside it)
set -euo pipefail
exec "$(dirname "$0")/continue.sh" "$1" "$2" rnnt rnnt3 1300 8e-4 43
