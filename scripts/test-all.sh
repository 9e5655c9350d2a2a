#!/usr/bin/env bash
# `npm test`: typecheck, lint, format check and build, then the test suites:
# The API reference (TypeDoc into docs/api, every exported symbol documented, warnings fail) is
# one of the checks.
#   node      vitest in Node (dawn.node, software Vulkan when there is no GPU), every test file
#   chromium  the GPU kernel tests in headless Debian Chromium (Vitest browser mode)
#   deno      test/deno against the built bundle on Deno's WebGPU
#   consumer  the packed tarball installed in a temporary project: Node, Deno, Vite + Chromium, tsc
#   e2e       Playwright on the demo build
# Every step runs even after an earlier one failed, so one run shows everything that is broken
# (except the Deno and consumer suites, which need a fresh build). Ends with a summary line per
# step and a last plain line "N passed, N failed": tests, with each check (typecheck, lint, build) and each
# suite that failed without a failing test (crash, load error, timeout) counting as one.
# Exits non-zero when anything failed.
#
# Options: --skip=node,chromium,deno,consumer,e2e,check (comma-separated) to leave steps out.
# Time limits: SUITE_TIMEOUT seconds per step (default 600); TEST_DEADLINE (epoch seconds) ends
# the whole run in time for its summary, steps left over counting as failed.
set -uo pipefail
cd "$(dirname "$0")/.."

SKIP=","
for arg in "$@"; do
  case "$arg" in
    --skip=*) SKIP=",${arg#--skip=}," ;;
    *) echo "test-all: unknown argument $arg" >&2; exit 2 ;;
  esac
done
skipped() { [[ "$SKIP" == *",$1,"* ]]; }

export NODEVICE_SELECT=1 # silences Mesa's XDG_RUNTIME_DIR message
LIMIT=${SUITE_TIMEOUT:-600}
OUT=test-results
mkdir -p "$OUT"
rm -f "$OUT/node.json" "$OUT/chromium.json" "$OUT/e2e.json" "$OUT/deno.log" "$OUT/consumer.json"
BIN=node_modules/.bin

SUMMARY=()
TOTAL_PASSED=0
TOTAL_FAILED=0
STATUS=0

# record NAME RC SECONDS PASSED FAILED SKIPPED NOTE
record() {
  local name=$1 rc=$2 secs=$3 passed=$4 failed=$5 skip=$6 note=${7:-}
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; note=${note:-"exit code $rc"}; fi
  [ "$failed" -gt 0 ] && STATUS=1
  TOTAL_PASSED=$((TOTAL_PASSED + passed))
  TOTAL_FAILED=$((TOTAL_FAILED + failed))
  local line
  line=$(printf '%-9s %4d passed, %3d failed, %3d skipped  %5ss' "$name" "$passed" "$failed" "$skip" "$secs")
  [ -n "$note" ] && line="$line  ($note)"
  SUMMARY+=("$line")
}

banner() { printf '\n=== %s ===\n' "$1"; }

# Seconds the next step may take: SUITE_TIMEOUT, cut to what is left before TEST_DEADLINE.
step_limit() {
  local limit=$LIMIT
  if [ -n "${TEST_DEADLINE:-}" ]; then
    local left=$((TEST_DEADLINE - $(date +%s)))
    [ "$left" -lt "$limit" ] && limit=$left
  fi
  echo $((limit > 0 ? limit : 0))
}

# check NAME COMMAND...: a step that passes or fails as a whole.
check() {
  local name=$1; shift
  banner "$name: $*"
  local t0=$SECONDS rc=0 limit
  limit=$(step_limit)
  if [ "$limit" -eq 0 ]; then record "$name" 1 0 0 1 0 "not run: out of time"; return 1; fi
  timeout --kill-after=10 "$limit" "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then record "$name" 0 $((SECONDS - t0)) 1 0 0
  else record "$name" "$rc" $((SECONDS - t0)) 0 1 0 "$([ "$rc" -eq 124 ] && echo "timed out after ${limit}s" || echo "exit code $rc")"; fi
  return "$rc"
}

# Prints "passed failed skipped" from a Vitest or Playwright JSON report (nothing if absent).
json_counts() {
  [ -f "$1" ] || return 0
  node -e '
    const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    if (r.stats) console.log(r.stats.expected + r.stats.flaky, r.stats.unexpected, r.stats.skipped);
    else console.log(r.numPassedTests, r.numFailedTests, r.numPendingTests + r.numTodoTests);
  ' "$1" 2>/dev/null || true
}

# Prints "passed failed skipped" from the last summary line of `deno test`.
deno_counts() {
  [ -f "$1" ] || return 0
  sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -1 \
    | sed -E 's/^[A-Za-z]+ \| ([0-9]+) passed( \([^)]*\))? \| ([0-9]+) failed( \([^)]*\))?( \| ([0-9]+) ignored)?.*/\1 \3 \6/' \
    | awk '{ print $1, $2, ($3 == "" ? 0 : $3) }'
}

# suite NAME REPORT KIND COMMAND...: a test suite whose counts come from REPORT.
suite() {
  local name=$1 report=$2 kind=$3; shift 3
  banner "$name: $*"
  local t0=$SECONDS rc=0 limit
  limit=$(step_limit)
  if [ "$limit" -eq 0 ]; then record "$name" 1 0 0 1 0 "not run: out of time"; return; fi
  if [ "$kind" = deno ]; then
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$report"
    rc=${PIPESTATUS[0]}
  else
    timeout --kill-after=10 "$limit" "$@" || rc=$?
  fi
  local counts
  if [ "$kind" = deno ]; then counts=$(deno_counts "$report"); else counts=$(json_counts "$report"); fi
  read -r passed failed skip <<<"${counts:-0 0 0}"
  local note=""
  [ "$rc" -eq 124 ] && note="timed out after ${limit}s"
  [ -z "$counts" ] && [ "$rc" -ne 0 ] && [ -z "$note" ] && note="no test report, exit code $rc"
  record "$name" "$rc" $((SECONDS - t0)) "${passed:-0}" "${failed:-0}" "${skip:-0}" "$note"
}

T_START=$SECONDS
BUILD_OK=1
if ! skipped check; then
  check typecheck "$BIN/tsc" --noEmit
  check lint "$BIN/biome" lint .
  check format "$BIN/biome" format .
  check docs "$BIN/typedoc" --logLevel Warn
fi
check build npm run --silent build || BUILD_OK=0

skipped node || suite node "$OUT/node.json" json \
  "$BIN/vitest" run --reporter=default --reporter=json --outputFile.json="$OUT/node.json"

skipped chromium || suite chromium "$OUT/chromium.json" json \
  "$BIN/vitest" run --config vitest.browser.config.ts --reporter=default --reporter=json --outputFile.json="$OUT/chromium.json"

if ! skipped deno; then
  if [ "$BUILD_OK" -eq 1 ]; then
    suite deno "$OUT/deno.log" deno bash scripts/test-deno.sh
  else
    banner "deno: not run"
    echo "the build failed, and the Deno suite tests the built bundle"
    record deno 1 0 0 1 0 "not run: the build failed"
  fi
fi

# Packs the build that just passed (without rebuilding) and installs it outside the repository.
if ! skipped consumer; then
  if [ "$BUILD_OK" -eq 1 ]; then
    suite consumer "$OUT/consumer.json" json \
      "$BIN/vite-node" scripts/test-consumer.ts -- --no-build --report "$OUT/consumer.json"
  else
    banner "consumer: not run"
    echo "the build failed, and the consumer suite packs the build"
    record consumer 1 0 0 1 0 "not run: the build failed"
  fi
fi

# Builds the demo into dist/demo and serves it (see playwright.config.ts).
skipped e2e || suite e2e "$OUT/e2e.json" json "$BIN/playwright" test

banner "summary ($((SECONDS - T_START))s)"
for line in "${SUMMARY[@]}"; do echo "$line"; done
echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
exit "$STATUS"
