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
# Deno on lavapipe sometimes aborts in glibc ("double free or corruption") while tearing the
# WebGPU instance down at process exit, after every test has run and the summary is printed
# (about 1 run in 20-60, at every revision tried). That exit is reported, and counted as the
# pass the summary says it is; an abort before the summary, or any failed test, still fails.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
node_modules/.bin/deno test -A --no-check test/deno/ "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ] && grep -Eq '^ok \| [0-9]+ passed \| 0 failed' "$log" &&
  tail -n 2 "$log" | grep -q 'double free or corruption'; then
  echo "test-deno: every test passed, then Deno aborted while tearing WebGPU down at exit (exit $status); counted as passed" >&2
  status=0
fi
exit "$status"
