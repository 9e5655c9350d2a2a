#!/usr/bin/env bash
# Training throughput of one git revision on Node, Deno and Chromium, one JSON file per row:
#
#   scripts/bench-matrix.sh REV OUTDIR [--presets mlp1,mlp2,cnn-small,vgg8b] [--runtimes node,deno,chromium]
#                           [--steps N] [--warmup N] [--vgg-steps N] [--vgg-warmup N] [--timeout S] [--no-cpu] [--keep]
#
# REV is checked out in a fresh `git worktree` under /tmp (node_modules and .cache/lavapipe linked
# from this tree) and built with `npm run build`. Each preset runs at batch 64 (vgg8b at batch 8,
# with --vgg-steps/--vgg-warmup, default 2 and 1: a step takes seconds to minutes) on
#   node      node bin/nitro-d.js bench ... --json --kernel-timing none      (WebGPU on Mesa 25 lavapipe)
#   deno      npm run bench:deno -- ... --json --kernel-timing none           (the revision's script, lavapipe)
#   chromium  scripts/bench-chromium.ts on the revision's dist/index.js       (headless Debian chromium)
# plus the CPU backend on Node for mlp1 and mlp2 (not with --no-cpu). Node and Deno get
# VK_ICD_FILENAMES of this tree's .cache/lavapipe (scripts/fetch-lavapipe.sh), and a row whose
# adapter is not llvmpipe or whose Vulkan loader (VK_LOADER_DEBUG=driver, in the row's log) did not
# load that libvulkan_lvp.so is refused, so nothing silently falls back to SwiftShader or to the
# system's older lavapipe. Chromium uses its own adapter (SwiftShader), named in each row.
# OUTDIR gets RUNTIME[-cpu]-PRESET-BATCH.json (the benchmark's JSON plus a "matrix" object: revision,
# commit, runtime, command, load average), logs/ with each row's stderr, and build.log.
# Defaults: --steps 20 --warmup 2; --timeout S stops a row after S seconds (default 0: never).
# Rows run one after another; measure on a quiet machine, both revisions in one sitting.
# `node_modules/.bin/vite-node scripts/bench-table.ts -- BEFORE_DIR AFTER_DIR` compares two of them.
set -euo pipefail

usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

HERE=$(cd "$(dirname "$0")/.." && pwd)
# Every row runs the default kernel variants: an empty tuned-variant cache, whatever `nitro-d tune`
# cached on this machine (Deno and Chromium rows never read one, older revisions have none).
export NITRO_D_CACHE_DIR
NITRO_D_CACHE_DIR=$(mktemp -d)
[ $# -ge 2 ] || usage
REV=$1
OUT=$2
shift 2
PRESETS=mlp1,mlp2,cnn-small,vgg8b
RUNTIMES=node,deno,chromium
STEPS=20
WARMUP=2
VGG_STEPS=2
VGG_WARMUP=1
CPU=1
KEEP=0
TIMEOUT=0
while [ $# -gt 0 ]; do
  case $1 in
    --presets) PRESETS=$2; shift 2 ;;
    --runtimes) RUNTIMES=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --vgg-steps) VGG_STEPS=$2; shift 2 ;;
    --vgg-warmup) VGG_WARMUP=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --no-cpu) CPU=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage ;;
    *) echo "bench-matrix: unknown option '$1'" >&2; usage ;;
  esac
done
for n in "$STEPS" "$WARMUP" "$VGG_STEPS" "$VGG_WARMUP" "$TIMEOUT"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "bench-matrix: step counts must be whole numbers, got '$n'" >&2; exit 2; }
done
for r in ${RUNTIMES//,/ }; do
  case $r in node | deno | chromium) ;; *) echo "bench-matrix: --runtimes: unknown runtime '$r' (node, deno, chromium)" >&2; exit 2 ;; esac
done

ICD=$HERE/.cache/lavapipe/lvp_icd.json
LVP=$HERE/.cache/lavapipe/libvulkan_lvp.so
[ -f "$ICD" ] || { echo "bench-matrix: $ICD is missing; run scripts/fetch-lavapipe.sh" >&2; exit 1; }
COMMIT=$(git -C "$HERE" rev-parse --verify "$REV^{commit}")
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)

WT=$(mktemp -d "/tmp/nitro-d-bench-${COMMIT:0:8}-XXXXXX")
rmdir "$WT"
cleanup() {
  if [ "$KEEP" = 1 ]; then echo "bench-matrix: worktree kept at $WT" >&2; else git -C "$HERE" worktree remove --force "$WT" 2>/dev/null || true; fi
}
trap cleanup EXIT
git -C "$HERE" worktree add --quiet --detach "$WT" "$COMMIT" || { echo "bench-matrix: git worktree add $WT failed" >&2; exit 1; }
ln -s "$HERE/node_modules" "$WT/node_modules"
mkdir -p "$WT/.cache"
ln -s "$HERE/.cache/lavapipe" "$WT/.cache/lavapipe"
echo "bench-matrix: $REV = $COMMIT in $WT; building" >&2
if ! (cd "$WT" && nice npm run build) >"$OUT/build.log" 2>&1; then
  echo "bench-matrix: npm run build of $COMMIT failed; see $OUT/build.log" >&2
  exit 1
fi
for f in dist/index.js dist/cli.js scripts/bench-deno.ts; do
  [ -f "$WT/$f" ] || { echo "bench-matrix: $COMMIT has no $f" >&2; exit 1; }
done

FAILED=0
# run_row NAME RUNTIME COMMAND... : the command prints the benchmark JSON as its last stdout line.
run_row() {
  local name=$1 runtime=$2
  shift 2
  local file=$OUT/$name.json log=$OUT/logs/$name.log raw
  rm -f "$file"
  echo "bench-matrix: $name: $*" >&2
  local start=$SECONDS
  local limit=()
  [ "$TIMEOUT" = 0 ] || limit=(timeout -k 30 "$TIMEOUT")
  local rc=0
  raw=$(cd "$WT" && "${limit[@]}" "$@" 2>"$log") || rc=$?
  if [ "$rc" != 0 ]; then
    local why="exit status $rc"
    [ "$rc" != 124 ] || why="timed out after $TIMEOUT s"
    echo "bench-matrix: $name failed ($why); see $log: $(tail -n 1 "$log")" >&2
    FAILED=1
    return 0
  fi
  local json
  json=$(printf '%s\n' "$raw" | grep '^{' | tail -n 1 || true)
  if ! printf '%s' "$json" | jq -e '.imagesPerSecond' >/dev/null 2>&1; then
    echo "bench-matrix: $name printed no benchmark JSON; see $log" >&2
    FAILED=1
    return 0
  fi
  local adapter backend
  adapter=$(printf '%s' "$json" | jq -r '.adapter')
  backend=$(printf '%s' "$json" | jq -r '.backend')
  local driver=''
  if [ "$backend" = webgpu ] && [ "$runtime" != chromium ]; then
    # The Vulkan loader's own log (VK_LOADER_DEBUG=driver) names the driver library it loaded.
    driver=$({ grep -o '/[^ "]*libvulkan_lvp\.so' "$log" || true; } | head -n 1)
    if [[ $adapter != *llvmpipe* ]] || [ "$driver" != "$LVP" ]; then
      echo "bench-matrix: $name ran on '$adapter' (driver '${driver:-unknown}'), not $LVP; row refused" >&2
      FAILED=1
      return 0
    fi
  fi
  printf '%s' "$json" | jq -c \
    --arg rev "$REV" --arg commit "$COMMIT" --arg runtime "$runtime" --arg command "$*" \
    --arg icd "$([ "$runtime" = chromium ] || echo "$ICD")" --arg driver "$driver" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson seconds $((SECONDS - start)) \
    '. + {matrix: {rev: $rev, commit: $commit, runtime: $runtime, command: $command, vkIcd: $icd, vkDriver: $driver, loadAverage: $load, date: $date, wallSeconds: $seconds}}' \
    >"$file"
  echo "bench-matrix: $name: $(jq -r '"\(.imagesPerSecond) images/s, \(.msPerStep) ms/step, \(.adapter)"' "$file")" >&2
}

VITE_NODE=$HERE/node_modules/.bin/vite-node
for preset in ${PRESETS//,/ }; do
  if [ "$preset" = vgg8b ]; then batch=8 steps=$VGG_STEPS warmup=$VGG_WARMUP; else batch=64 steps=$STEPS warmup=$WARMUP; fi
  args=(--preset "$preset" --batch "$batch" --steps "$steps" --warmup "$warmup" --kernel-timing none)
  for runtime in ${RUNTIMES//,/ }; do
    case $runtime in
      node) run_row "node-$preset-$batch" node env VK_ICD_FILENAMES="$ICD" VK_LOADER_DEBUG=driver nice node bin/nitro-d.js bench "${args[@]}" --json ;;
      deno) run_row "deno-$preset-$batch" deno env VK_ICD_FILENAMES="$ICD" VK_LOADER_DEBUG=driver nice npm run --silent bench:deno -- "${args[@]}" --json ;;
      chromium) run_row "chromium-$preset-$batch" chromium env -C "$HERE" nice "$VITE_NODE" "$HERE/scripts/bench-chromium.ts" -- --root "$WT" "${args[@]}" ;;
    esac
  done
  if [ "$CPU" = 1 ] && [[ ,$RUNTIMES, == *,node,* ]] && { [ "$preset" = mlp1 ] || [ "$preset" = mlp2 ]; }; then
    run_row "node-cpu-$preset-$batch" node nice node bin/nitro-d.js bench "${args[@]}" --backend cpu --json
  fi
done
[ "$FAILED" = 0 ] || { echo "bench-matrix: some rows failed (see above); the others are in $OUT" >&2; exit 1; }
echo "bench-matrix: done; rows in $OUT" >&2
