#!/usr/bin/env bash
# The float32 baseline next to nitro-d's CPU backend, in one command:
#
#   bash scripts/float-baseline.sh [--preset mlp2] [--batch 64] [--rounds 3] [--seconds 2]
#                                  [--threads 1,2] [--min-gflops 20] [--weights CKPT] [--out FILE]
#
# Builds dist/ when it is missing, then runs scripts/float-baseline.py (PYTHON picks the
# interpreter, default python3): a float32 local-error-signal step of the preset's layers with
# numpy at each BLAS thread count, interleaved with `nitro-d bench --backend cpu` of the same
# preset and batch, printed as a Markdown table with the BLAS numpy loaded and the load average
# before and after. It refuses a reference BLAS; `pip install numpy` brings OpenBLAS.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
if [ ! -f dist/index.js ] || [ ! -f dist/cli.js ]; then
  echo "float-baseline: building dist/ (npm run build)" >&2
  npm run --silent build >&2
fi
exec "${PYTHON:-python3}" scripts/float-baseline.py "$@"
