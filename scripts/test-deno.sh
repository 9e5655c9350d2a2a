#!/usr/bin/env bash
# Deno suite: test/deno/*_test.ts against the built bundle (run `npm run build` first).
# Deno's wgpu works with Debian's stock lavapipe; Mesa 25 lavapipe is used when fetched (faster).
# Types are checked by the project's tsc, so Deno's own check is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f dist/index.js ]; then
  echo "test-deno: dist/index.js is missing; run npm run build first" >&2
  exit 1
fi
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -f .cache/lavapipe/lvp_icd.json ]; then
  export VK_ICD_FILENAMES="$PWD/.cache/lavapipe/lvp_icd.json"
fi
export NODEVICE_SELECT=1 NO_COLOR=1 DENO_NO_UPDATE_CHECK=1
exec node_modules/.bin/deno test -A --no-check test/deno/ "$@"
