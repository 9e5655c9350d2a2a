#!/usr/bin/env bash
# The data-parallel equality table over NATS: `nitro-d train --nats URL --workers N` served by
# `nitro-d worker` processes on a private nats-server (Debian's package, a free loopback port):
# 1-3 CPU workers, a CPU + a WebGPU worker, a worker joining mid-run, and nats-server killed and
# restarted mid-run, for the models of scripts/parallel-equality.sh (same flags, so the same
# single-device sha256). One markdown row per run.
# Usage: bash scripts/parallel-equality-nats.sh [OUT_DIR]   (needs `npm run build`; about 3 min)
set -euo pipefail
cd "$(dirname "$0")/.."
export NODEVICE_SELECT=1
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
SAMPLE=demo/public/data/fashion-mnist-sample
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
URL=nats://127.0.0.1:$PORT
NATS_PID=
start_nats() {
  nats-server -a 127.0.0.1 -p "$PORT" >>"$OUT/nats-server.log" 2>&1 &
  NATS_PID=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return; sleep 0.05; done
  echo "nats-server did not start on $PORT" >&2
  exit 1
}
stop_nats() { kill -9 "$NATS_PID" 2>/dev/null || true; wait "$NATS_PID" 2>/dev/null || true; }
trap stop_nats EXIT
start_nats

cat >"$OUT/cnn.json" <<'JSON'
{"input":[1,28,28],"classes":10,"features":[{"conv":4,"kernel":3,"padding":1},{"pool":2},{"conv":6,"kernel":3,"padding":1},{"pool":2}],"hidden":[24],"bias":true,"compat":"reference","training":{"lrInv":256}}
JSON
declare -A FLAGS=(
  [mlp1]="--preset mlp1 --data $SAMPLE --train-limit 120 --test-limit 40 --batch 10 --lr-inv 64 --epochs 2"
  [cnn-linear]="--model $OUT/cnn.json --data $SAMPLE --train-limit 48 --test-limit 16 --batch 8 --epochs 2"
  [cnn-small]="--preset cnn-small --data $SAMPLE --train-limit 256 --test-limit 64 --batch 64 --epochs 1"
)

# worker NAME BACKEND GROUP: a `nitro-d worker` in the background
PIDS=()
worker() {
  node bin/nitro-d.js worker --nats "$URL" --group "$3" --backend "$2" --name "$1" --wait 120 --quiet &
  PIDS+=($!)
}
# finish: waits for the coordinator and workers started since the last finish
finish() { wait "${PIDS[@]}"; PIDS=(); }

# coordinator DIR GROUP N STOP_AT FLAGS...: `nitro-d train --nats` in the background; with STOP_AT
# it freezes there (NITRO_D_TEST_STOP_AT) and waits for SIGCONT.
coordinator() {
  local dir=$1 group=$2 n=$3 stop=$4
  shift 4
  # shellcheck disable=SC2068
  env ${stop:+NITRO_D_TEST_STOP_AT=$stop} node bin/nitro-d.js train $@ --steps-per-submit 1 \
    --nats "$URL" --nats-group "$group" --workers "$n" --out "$dir" --quiet 2>"$dir.err" &
  C=$!
  PIDS+=($C)
}

# frozen DIR: waits until the coordinator writing DIR.err froze itself
frozen() { for _ in $(seq 600); do grep -q NITRO_D_TEST_STOPPED "$1.err" 2>/dev/null && return; sleep 0.1; done; exit 1; }

echo '| model | workers | transport | backends | fault | sha256 of last.safetensors | equal to one device |'
echo '| --- | --- | --- | --- | --- | --- | --- |'
for model in mlp1 cnn-linear cnn-small; do
  # shellcheck disable=SC2086
  node bin/nitro-d.js train ${FLAGS[$model]} --backend cpu --out "$OUT/$model-one" --quiet >/dev/null 2>&1
  want=$(sha256sum "$OUT/$model-one/last.safetensors" | cut -d' ' -f1)
  echo "| $model | 1 device | - | cpu | none | \`$want\` | yes |"
  row() {
    local sha
    sha=$(sha256sum "$1/last.safetensors" | cut -d' ' -f1)
    echo "| $model | $2 | NATS | $3 | $4 | \`$sha\` | $([ "$sha" = "$want" ] && echo yes || echo NO) |"
  }
  for n in 1 2 3; do
    dir=$OUT/$model-nats$n
    coordinator "$dir" "$model-$n" "$n" "" ${FLAGS[$model]} --backend cpu
    for i in $(seq "$n"); do worker "w$i" cpu "$model-$n"; done
    finish
    row "$dir" "$n" "$(printf 'cpu%.0s, ' $(seq "$n") | sed 's/, $//')" none
  done
  dir=$OUT/$model-mix
  coordinator "$dir" "$model-mix" 2 "" ${FLAGS[$model]} --backend cpu
  worker a cpu "$model-mix"
  worker b webgpu "$model-mix"
  finish
  row "$dir" 2 "cpu, webgpu (lavapipe)" none
  # A second worker joins mid-run: the coordinator freezes after its 2nd step, the second
  # worker starts, the first is frozen too so that step 3 waits for it while the coordinator
  # takes the newcomer, then both go on.
  dir=$OUT/$model-join
  coordinator "$dir" "$model-join" 1 step@2 ${FLAGS[$model]} --backend cpu
  worker a cpu "$model-join"
  A=$!
  frozen "$dir"
  worker b cpu "$model-join"
  sleep 1
  kill -STOP "$A"
  kill -CONT "$C"
  sleep 2
  kill -CONT "$A"
  finish
  row "$dir" "1, then 2" "cpu, cpu" "a worker joins at step 3"
  # nats-server SIGKILLed while the coordinator is frozen after its 2nd step, started again.
  dir=$OUT/$model-restart
  coordinator "$dir" "$model-restart" 2 step@2 ${FLAGS[$model]} --backend cpu
  worker a cpu "$model-restart"
  worker b cpu "$model-restart"
  frozen "$dir"
  stop_nats
  sleep 1
  start_nats
  kill -CONT "$C"
  finish
  row "$dir" 2 "cpu, cpu" "nats-server killed after step 2 (every connection drops), restarted"
done
