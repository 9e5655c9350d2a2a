#!/usr/bin/env bash
# The real-GPU check: golden cases, kernel and peak microbenchmarks, tuning and training
# throughput on WebGPU, then one summary table. Runs from the bundle scripts/pack-gpu-check.sh
# makes (its own Node, dawn.node and Vulkan loader; no internet, npm or apt needed) or from a
# built checkout. See docs/gpu-check.md.
#
#   scripts/gpu-check.sh [OUTDIR]      (default $OUT, else ./gpu-check-out)
#
# Each section writes its files into OUTDIR as soon as it ends (a cut-short run keeps them) and
# runs under its own time limit; the whole run stays inside GPU_CHECK_BUDGET_S (default 290).
# Exits non-zero when no adapter came up or a golden case did not match.
# Environment:
#   GPU_CHECK_QUICK=1          tiny batches and short timings (software adapters, a smoke run)
#   VK_ICD_FILENAMES / VK_DRIVER_FILES   the Vulkan driver manifest to use (else one is searched)
#   GPU_CHECK_BUNDLED_LOADER=1 use the bundled libvulkan.so.1 even when the system has one
#   GPU_CHECK_BUDGET_S=N       the whole run's time limit in seconds
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUTDIR=${1:-${OUT:-./gpu-check-out}}
mkdir -p "$OUTDIR" || { echo "gpu-check: cannot create output folder $OUTDIR" >&2; exit 2; }
OUTDIR=$(cd "$OUTDIR" && pwd)
QUICK=${GPU_CHECK_QUICK:-0}
BUDGET=${GPU_CHECK_BUDGET_S:-290}
START=$SECONDS
export NODEVICE_SELECT=1 NO_COLOR=1
# tune's cache goes with the results (bench then loads it), never into the user's home.
export NITRO_D_CACHE_DIR="$OUTDIR/tune-cache"

if [ -x "$ROOT/runtime/node" ]; then NODE="$ROOT/runtime/node"; else NODE=$(command -v node || true); fi
[ -n "$NODE" ] || { echo "gpu-check: no Node (neither $ROOT/runtime/node nor node on PATH)" >&2; exit 2; }
[ -f "$ROOT/dist/cli.js" ] || { echo "gpu-check: $ROOT/dist/cli.js missing (run npm run build, or use the bundle)" >&2; exit 2; }

log() { echo "gpu-check: $*" | tee -a "$OUTDIR/00-env.txt" >&2; }
nitro() { "$NODE" "$ROOT/bin/nitro-d.js" "$@"; }

# Seconds a section may take: its own limit, cut to what is left of the budget.
limit() {
  local left=$((BUDGET - (SECONDS - START)))
  local want=$1
  [ "$left" -lt "$want" ] && want=$left
  echo $((want > 0 ? want : 0))
}
# run_limited SECONDS COMMAND...: the command under timeout; 124 when the budget is spent.
run_limited() {
  local s
  s=$(limit "$1")
  shift
  [ "$s" -gt 0 ] || { echo "gpu-check: out of time budget" >&2; return 124; }
  timeout --kill-after=5 "$s" "$@"
}
has_flag() {
  local help
  help=$(nitro "$1" --help 2>/dev/null) || return 1
  grep -q -- "$2\b" <<<"$help"
}
section() { echo "gpu-check: [$((SECONDS - START)) s] $*" >&2; }

: >"$OUTDIR/00-env.txt"
finish() {
  section "summary ($OUTDIR/table.md)"
  "$NODE" "$ROOT/scripts/gpu-check.mjs" table "$OUTDIR" || true
}
trap finish EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- Vulkan driver and loader
log "root $ROOT, node $("$NODE" --version) ($NODE), quick=$QUICK, budget ${BUDGET}s"
# Read once: `ldconfig -p | grep -q` would fail under pipefail when grep stops reading early.
LDCACHE=$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true)
ldconfig_list() { printf '%s\n' "$LDCACHE"; }
if [ "${GPU_CHECK_BUNDLED_LOADER:-0}" != 1 ] && grep -q 'libvulkan\.so\.1' <<<"$LDCACHE"; then
  log "vulkan loader: system $(ldconfig_list | grep -m1 'libvulkan\.so\.1' | sed 's/.*=> //')"
elif [ -f "$ROOT/runtime/lib/libvulkan.so.1" ]; then
  export LD_LIBRARY_PATH="$ROOT/runtime/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  log "vulkan loader: bundled $ROOT/runtime/lib/libvulkan.so.1 (Debian libvulkan1)"
else
  log "vulkan loader: none found (no libvulkan.so.1 in ldconfig, none bundled); WebGPU will fail"
fi

# dawn.node needs glibc 2.34 and GLIBCXX_3.4.30; an older libstdc++ is replaced by the bundled one.
log "glibc $(getconf GNU_LIBC_VERSION 2>/dev/null | cut -d' ' -f2) (dawn.node needs 2.34 or later)"
STDCXX=$(ldconfig_list | grep -m1 'libstdc++\.so\.6 .*x86-64' | sed 's/.*=> //')
if [ -n "$STDCXX" ] && ! grep -qa GLIBCXX_3.4.30 "$STDCXX" && [ -f "$ROOT/runtime/compat/libstdc++.so.6" ]; then
  export LD_LIBRARY_PATH="$ROOT/runtime/compat${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  log "libstdc++: $STDCXX lacks GLIBCXX_3.4.30; using the bundled runtime/compat/libstdc++.so.6"
fi

# Candidate driver manifests, best first: NVIDIA's, then the other GPU drivers' together (the
# loader skips those without a device), then none (the loader's own search). Software drivers
# (lavapipe, SwiftShader) are only used when named in the environment or found by the loader.
is_software() { grep -qiE 'lvp|lavapipe|swiftshader|llvmpipe' <<<"$1"; }
CANDIDATES=()
FROM=()
add_candidates() { # FROM-LABEL FILES...
  local label=$1 f others=""
  shift
  for f in "$@"; do
    [ -f "$f" ] || continue
    is_software "$f" && continue
    case "$(basename "$f")" in
      nvidia_icd*) CANDIDATES+=("$f") FROM+=("$label") ;;
      *) others="${others:+$others:}$f" ;;
    esac
  done
  [ -n "$others" ] && CANDIDATES+=("$others") FROM+=("$label")
  return 0
}
if [ -n "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  CANDIDATES=("${VK_DRIVER_FILES:-$VK_ICD_FILENAMES}") FROM=(environment)
else
  LISTED=()
  for d in /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d \
    /usr/local/nvidia/share/vulkan/icd.d /usr/local/nvidia/icd.d /usr/local/etc/vulkan/icd.d; do
    for f in "$d"/*.json; do [ -f "$f" ] && LISTED+=("$f"); done
  done
  add_candidates "standard folders" "${LISTED[@]}"
  if [ "${#CANDIDATES[@]}" -eq 0 ]; then
    # Drivers mounted into containers put the manifest in odd places: search, time-bounded.
    mapfile -t FOUND < <(timeout 20 find /usr /etc /opt /run /var/lib -xdev -maxdepth 7 \
      \( -name 'nvidia_icd*.json' -o -path '*icd.d/*.json' \) 2>/dev/null)
    add_candidates search "${FOUND[@]}"
  fi
  # An NVIDIA driver without its manifest: its GLX library is also the Vulkan driver.
  GLX=$(ldconfig_list | grep -m1 'libGLX_nvidia\.so\.0' | sed 's/.*=> //')
  if [ -n "$GLX" ] && ! grep -q nvidia_icd <<<"${CANDIDATES[*]}"; then
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' \
      "$GLX" >"$OUTDIR/nvidia_icd.json"
    CANDIDATES+=("$OUTDIR/nvidia_icd.json") FROM+=("written for $GLX")
  fi
  CANDIDATES+=("") FROM+=("none: the loader's own search")
fi

# ---------------------------------------------------------------- 01 adapter
# The first candidate that gives a WebGPU adapter wins; its `nitro-d info` is the section's file.
section "adapter (01-info.json)"
ADAPTER_OK=0
for i in "${!CANDIDATES[@]}"; do
  icd=${CANDIDATES[$i]}
  if [ -n "$icd" ]; then
    export VK_ICD_FILENAMES="$icd" VK_DRIVER_FILES="$icd"
  else
    unset VK_ICD_FILENAMES VK_DRIVER_FILES
    log "vulkan manifest: no GPU driver manifest gave an adapter; falling back to whatever the loader finds (a software adapter, if any)"
  fi
  rc=0
  run_limited 60 "$NODE" "$ROOT/bin/nitro-d.js" info --json --backend webgpu \
    >"$OUTDIR/01-info.json" 2>"$OUTDIR/01-info.log" || rc=$?
  if [ "$rc" -eq 0 ]; then
    ADAPTER_OK=1
    [ -n "$icd" ] && log "vulkan manifest: $icd (${FROM[$i]})"
    break
  fi
  log "vulkan manifest ${icd:-(none)} (${FROM[$i]}): no adapter: $(grep -v '^Warning\|^ - \|^    at\|^$' "$OUTDIR/01-info.log" | tail -1)"
done
ADAPTER=$(grep -m1 '"adapter"' "$OUTDIR/01-info.json" 2>/dev/null | sed 's/.*"adapter": *"\(.*\)",*$/\1/')
if [ "$ADAPTER_OK" = 1 ]; then
  log "adapter: $ADAPTER"
  is_software "$ADAPTER" && log "the adapter is a software one: the figures below are not a GPU's"
else
  log "no WebGPU adapter at all: the sections below will fail"
fi

# ---------------------------------------------------------------- 02 golden cases
section "golden cases on WebGPU (02-golden.txt)"
GOLDEN_OUT="$OUTDIR/golden"
mkdir -p "$GOLDEN_OUT"
: >"$OUTDIR/02-golden.txt"
golden_one() {
  local expected=$1 got=$2
  shift 2
  local rc=0
  run_limited 60 "$NODE" "$ROOT/bin/nitro-d.js" "$@" --out "$got" --backend webgpu \
    2>>"$OUTDIR/02-golden.log" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "FAIL $got: nitro-d $1 exited $rc" >>"$OUTDIR/02-golden.txt"
    return
  fi
  local same="bytes differ"
  cmp -s "$expected" "$got" && same="byte-identical"
  echo "$("$NODE" "$ROOT/scripts/gpu-check.mjs" compare "$expected" "$got") ($same)" >>"$OUTDIR/02-golden.txt"
}
for dir in "$ROOT"/test/golden/*/; do
  [ -f "$dir/model.json" ] || continue
  name=$(basename "$dir")
  golden_one "$dir/expected.safetensors" "$GOLDEN_OUT/$name-step.safetensors" step \
    --model "$dir/model.json" --weights "$dir/init.safetensors" --batches "$dir/batches.safetensors"
  golden_one "$dir/expected-predict.safetensors" "$GOLDEN_OUT/$name-predict.safetensors" predict \
    --model "$dir/model.json" --weights "$dir/expected.safetensors" --input "$dir/predict-input.safetensors"
done
cat "$OUTDIR/02-golden.txt" >&2

# ---------------------------------------------------------------- 03 peak
section "integer peak microbenchmark (03-peak.json)"
PEAK_ARGS=()
[ "$QUICK" = 1 ] && PEAK_ARGS=(--quick)
run_limited 60 "$NODE" "$ROOT/scripts/gpu-check.mjs" peak "$OUTDIR/03-peak.json" "${PEAK_ARGS[@]}" \
  2>"$OUTDIR/03-peak.log" || log "peak failed (exit $?)"
grep '^peak' "$OUTDIR/03-peak.log" >&2

# ---------------------------------------------------------------- 04 kernels
KARGS=(--backend webgpu --json)
for f in --variants --traffic; do has_flag bench-kernels "$f" && KARGS+=("$f"); done
# One run per layer group, so a run cut short loses one group only.
if [ "$QUICK" = 1 ]; then
  KARGS+=(--batch 4 --target-ms 2)
  FILTERS=${GPU_CHECK_KERNEL_FILTERS:-mlp conv1}
else
  KARGS+=(--batch 64 --target-ms 20)
  FILTERS=${GPU_CHECK_KERNEL_FILTERS:-mlp vgg8b}
fi
for filter in $FILTERS; do
  section "bench-kernels --filter $filter (04-bench-kernels-$filter.json)"
  log "bench-kernels ${KARGS[*]} --filter $filter"
  run_limited 75 "$NODE" "$ROOT/bin/nitro-d.js" bench-kernels "${KARGS[@]}" --filter "$filter" \
    >"$OUTDIR/04-bench-kernels-$filter.json" 2>"$OUTDIR/04-bench-kernels-$filter.log" ||
    log "bench-kernels --filter $filter failed or cut short (exit $?); its rows so far are in 04-bench-kernels-$filter.log"
done

# ---------------------------------------------------------------- 05 tune
PRESETS=(mlp2 cnn-small vgg8b)
# Quick: few samples, since one vgg8b conv call takes a second on a software adapter.
if [ "$QUICK" = 1 ]; then BATCH=8 TUNE_S=3 TUNE_REPS=2; else BATCH=64 TUNE_S=20 TUNE_REPS=9; fi
for p in "${PRESETS[@]}"; do
  section "tune $p batch $BATCH (05-tune-$p.json)"
  # Beyond the timing budget, tune records the model's step first (slow on software adapters).
  run_limited $((TUNE_S + 60)) "$NODE" "$ROOT/bin/nitro-d.js" tune --preset "$p" --batch "$BATCH" \
    --budget-s "$TUNE_S" --reps "$TUNE_REPS" --json >"$OUTDIR/05-tune-$p.json" 2>"$OUTDIR/05-tune-$p.log" ||
    log "tune $p failed (exit $?)"
done

# ---------------------------------------------------------------- 06 bench
if [ "$QUICK" = 1 ]; then STEPS=(--steps 3 --warmup 1); else STEPS=(--steps 20 --warmup 2); fi
bench_one() {
  local p=$1 b=$2 s=$3
  shift 3
  section "bench $p batch $b (06-bench-$p-b$b.json)"
  run_limited "$s" "$NODE" "$ROOT/bin/nitro-d.js" bench --preset "$p" --batch "$b" --backend webgpu \
    "${STEPS[@]}" "$@" --json >"$OUTDIR/06-bench-$p-b$b.json" 2>"$OUTDIR/06-bench-$p-b$b.log"
}
for p in "${PRESETS[@]}"; do bench_one "$p" "$BATCH" 60 || log "bench $p batch $BATCH failed (exit $?)"; done

# ---------------------------------------------------------------- 07 vgg8b, largest batch
if [ "$QUICK" = 1 ]; then
  LARGE=(16) LARGE_S=90 STEPS=(--steps 2 --warmup 0)
else
  LARGE=(2048 1024 512 256 128) LARGE_S=45 STEPS=(--steps 5 --warmup 1)
fi
: >"$OUTDIR/07-vgg8b-largest.txt"
for b in "${LARGE[@]}"; do
  if [ "$(limit 30)" -lt 10 ]; then
    echo "vgg8b batch $b and below: not run, out of time budget" >>"$OUTDIR/07-vgg8b-largest.txt"
    break
  fi
  # The memory plan answers in a second whether the batch fits the adapter's limits.
  if ! run_limited 30 "$NODE" "$ROOT/bin/nitro-d.js" info --preset vgg8b --batch "$b" --backend webgpu \
    >/dev/null 2>"$OUTDIR/07-vgg8b-b$b-plan.log"; then
    echo "vgg8b batch $b: does not plan: $(grep -v '^Warning\|^ - \|^    at\|^$' "$OUTDIR/07-vgg8b-b$b-plan.log" | tail -1)" >>"$OUTDIR/07-vgg8b-largest.txt"
    continue
  fi
  rc=0
  # images/s only: the per-kernel replays would double the time of a large batch.
  bench_one vgg8b "$b" "$LARGE_S" --kernel-timing none || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "vgg8b largest batch that plans and runs: $b" >>"$OUTDIR/07-vgg8b-largest.txt"
    break
  fi
  echo "vgg8b batch $b: plans but bench failed (exit $rc)" >>"$OUTDIR/07-vgg8b-largest.txt"
done
cat "$OUTDIR/07-vgg8b-largest.txt" >&2
section "done"
# Failure when the adapter or a golden case failed; the timings are reported, not judged.
[ "$ADAPTER_OK" = 1 ] && ! grep -q '^FAIL' "$OUTDIR/02-golden.txt"
