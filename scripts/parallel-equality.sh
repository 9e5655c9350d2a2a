#!/usr/bin/env bash
# The data-parallel equality table: `nitro-d train` on one device and with 1-3 local workers,
# a CPU + WebGPU mix, a worker killed mid-epoch and one stalled past --worker-timeout, for an
# MLP, a CNN whose linear block updates twice per step, and cnn-small; one markdown row per
# run with the sha256 of its last.safetensors and whether it equals the single-device run's.
# Usage: bash scripts/parallel-equality.sh [OUT_DIR]   (needs `npm run build`; about 3 min)
set -euo pipefail
cd "$(dirname "$0")/.."
export NODEVICE_SELECT=1
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
SAMPLE=demo/public/data/fashion-mnist-sample
cat >"$OUT/cnn.json" <<'JSON'
{"input":[1,28,28],"classes":10,"features":[{"conv":4,"kernel":3,"padding":1},{"pool":2},{"conv":6,"kernel":3,"padding":1},{"pool":2}],"hidden":[24],"bias":true,"compat":"reference","training":{"lrInv":256}}
JSON
declare -A FLAGS=(
  [mlp1]="--preset mlp1 --data $SAMPLE --train-limit 120 --test-limit 40 --batch 10 --lr-inv 64 --epochs 2"
  [cnn-linear]="--model $OUT/cnn.json --data $SAMPLE --train-limit 48 --test-limit 16 --batch 8 --epochs 2"
  [cnn-small]="--preset cnn-small --data $SAMPLE --train-limit 256 --test-limit 64 --batch 64 --epochs 1"
)
echo '| model | workers | backends | fault | sha256 of last.safetensors | equal to one device |'
echo '| --- | --- | --- | --- | --- | --- |'
for model in mlp1 cnn-linear cnn-small; do
  want=
  while IFS='|' read -r name workers backends fault extra env; do
    dir="$OUT/$model-$name"
    # shellcheck disable=SC2086
    env $env node bin/nitro-d.js train ${FLAGS[$model]} $extra --out "$dir" --quiet >/dev/null 2>&1
    sha=$(sha256sum "$dir/last.safetensors" | cut -d' ' -f1)
    [ -z "$want" ] && want=$sha
    equal=$([ "$sha" = "$want" ] && echo yes || echo NO)
    echo "| $model | $workers | $backends | $fault | \`$sha\` | $equal |"
  done <<ROWS
one|1 device|cpu|none|--backend cpu|
w1|1|cpu|none|--workers 1 --backend cpu|
w2|2|cpu, cpu|none|--workers 2 --backend cpu|
w3|3|cpu, cpu, cpu|none|--workers 3 --backend cpu|
mix|2|cpu, webgpu (lavapipe)|none|--worker-backends cpu,webgpu|
kill|3|cpu, cpu, cpu|worker 1 dies at its 3rd step|--workers 3 --backend cpu|NITRO_D_TEST_WORKER_FAULT=die@1:3
stall|2|cpu, cpu|worker 0 stalls at its 2nd step (--worker-timeout 2000)|--workers 2 --backend cpu --worker-timeout 2000|NITRO_D_TEST_WORKER_FAULT=stall@0:2
ROWS
done
