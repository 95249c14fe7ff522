#!/usr/bin/env bash
# Issue 4 on a lent GPU: train the paper-width cascade and the baselines, score them,
# bring the weights back. Two calls of the device tool, prepared here beforehand
# (benchmarks/gpu/README.md has the whole plan and the exact `run` calls):
#
#   call 1 (<= 9.5 min, carry .whl .devdata):   bash benchmarks/gpu/session.sh train
#       unpacks the training data, checks every model in fp32/bf16 (check_cuda.py),
#       trains the cascade and the baselines side by side
#       under wall-clock budgets (wsinuc train --max-minutes), packs the trained cascade
#       (shards + card) into one tarball cut into 15 MiB parts (`split`) with their
#       SHA-256 (`sha256sum`), sends back the first 4 parts + every log and card.
#   call 2 (~1.5 min, carry .whl .devtest), AT ONCE after call 1 (the machine is
#   given back 30 s after a call, and the runs live on its disk):
#                                               bash benchmarks/gpu/session.sh collect
#       scores every trained model (stage 1 alone as the weighted U-Net row) on the
#       MoNuSeg test images (and the training and validation parts) with
#       `wsinuc benchmark table1 --protocol paper`, sends back the remaining parts + the tables.
#   here: cat the parts of both calls in order, `sha256sum -c`, untar (benchmarks/gpu/README.md).
#
# Settings come from the environment (defaults = the paper protocol on the GPU);
# a dry run on the CPU here, with tiny settings, is in benchmarks/gpu/README.md.
set -uo pipefail
cd "$(dirname "$0")/../.."

STEP=${1:-}
: "${OUT:?OUT must name the folder that goes back (the device tool sets it)}"
RUNS=${RUNS:-/tmp/wsinuc-runs}                 # on the device's disk, kept between calls
PY=${PY:-python3}
DATA=${DATA:-.devdata}                         # packed train + TNBC (pack_data.py pack)
TESTDATA=${TESTDATA:-.devtest}                 # packed test split (pack --splits test --no-tnbc)
WHEELS=${WHEELS:-.whl}                         # device_wheels.sh train
SITE=${SITE:-/tmp/site}                        # where the wheels are installed on the device
DEVICE=${DEVICE:-cuda}
PRESET=${PRESET:-cascade}
BASELINES=${BASELINES:-attention_unet vgg16_unet}
MINUTES=${MINUTES:-7.5}                        # budget of the cascade's whole protocol
BASELINE_MINUTES=${BASELINE_MINUTES:-5}        # budget of each baseline (run beside it)
PRETRAIN=${PRETRAIN:-10}
EPOCHS=${EPOCHS:-30}
FOLDS=${FOLDS:-3}
BATCH=${BATCH:-8}
THREADS=${THREADS:-4}
EXTRA_TRAIN_ARGS=${EXTRA_TRAIN_ARGS:-}         # e.g. "--max-steps 2" for a dry run
CHECK_MODELS=${CHECK_MODELS:-unet,attention_unet,vgg16_unet,cascade,cascade-lite}

say() { echo "session.sh: $*"; }

setup() {
  # Wheels the device image lacks (benchmarks/gpu/device_wheels.sh train), once per machine.
  if [ -d "$WHEELS" ] && [ ! -f "$SITE/.installed" ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target "$SITE" "$WHEELS"/*.whl || { say "wheel install failed"; exit 1; }
    touch "$SITE/.installed"
  fi
  if [ -d "$SITE" ]; then export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"; fi
  export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
}

PIDS=(); NAMES=()
train_one() {  # NAME ARGS...: one `wsinuc train` in the background, its output in logs/NAME.log
  local name=$1; shift
  # shellcheck disable=SC2086  # EXTRA_TRAIN_ARGS is a list of words
  "$PY" -m wsinuc train --data "$DATA" --out "$RUNS/$name" --device "$DEVICE" \
    --pretrain-epochs "$PRETRAIN" --epochs "$EPOCHS" --batch-size "$BATCH" \
    --threads "$THREADS" --loader-threads "$THREADS" --verbose $EXTRA_TRAIN_ARGS "$@" \
    > "$RUNS/logs/$name.log" 2>&1 &
  PIDS+=($!); NAMES+=("$name")
}

gather_logs() {  # every log.csv and weight card of the runs -> logs/<run>/...
  (cd "$RUNS" && find . -path ./logs -prune -o \( -name log.csv -o -name '*.json' \) \
     ! -name 'checkpoint.json' -print | while read -r f; do
       mkdir -p "logs/$(dirname "$f")" && cp "$f" "logs/$f"; done)
}

PART=15M           # split size: a call brings back 8 files of <= 16 MiB, 64 MiB in all
FIRST_PARTS=4      # parts of the weights tarball sent by call 1 (4 x 15 MiB); call 2 sends the rest

pack_weights() {  # the cascade (else each stage's best epoch so far) -> ship/weights.tar.part-NN + weights.sha256
  local files
  files=$(cd "$RUNS" && ls "$PRESET/$PRESET".json "$PRESET/$PRESET".safetensors \
           "$PRESET/$PRESET"-[0-9]*-of-[0-9]*.safetensors 2>/dev/null)
  if [ -z "$files" ]; then  # the protocol stopped early: the best epoch of every stage that has one
    files=$(cd "$RUNS" && ls "$PRESET"/stage*/best.json "$PRESET"/stage*/best.safetensors 2>/dev/null)
    say "$RUNS/$PRESET/$PRESET.safetensors missing: packing $(echo ${files:-nothing}) instead"
  fi
  [ -n "$files" ] || return 1
  rm -rf "$RUNS/ship" && mkdir -p "$RUNS/ship"
  # shellcheck disable=SC2086  # one word per file
  tar -cf "$RUNS/ship/weights.tar" -C "$RUNS" $files \
    && (cd "$RUNS/ship" && split -b "$PART" -d -a 2 weights.tar weights.tar.part- \
        && sha256sum weights.tar weights.tar.part-* > weights.sha256 && rm weights.tar)
}

send() {  # FIRST COUNT NAME EXTRAS...: parts FIRST..FIRST+COUNT-1, the checksums, EXTRAS (under $RUNS) as NAME.tar.gz
  local first=$1 count=$2 name=$3; shift 3
  local parts i
  parts=$(cd "$RUNS/ship" 2>/dev/null && ls weights.tar.part-* 2>/dev/null)
  i=0
  for part in $parts; do
    if [ "$i" -ge "$first" ] && [ "$i" -lt $((first + count)) ]; then cp "$RUNS/ship/$part" "$OUT/"; fi
    i=$((i + 1))
  done
  [ -f "$RUNS/ship/weights.sha256" ] && cp "$RUNS/ship/weights.sha256" "$OUT/"
  tar -czf "$OUT/$name.tar.gz" -C "$RUNS" "$@"
  local files bytes
  files=$(find "$OUT" -type f | wc -l); bytes=$(du -cb "$OUT" | tail -1 | cut -f1)
  say "sent $files files, $((bytes / 1048576)) MiB (limit: 8 files, 64 MiB); parts ${first}.. of $i"
  [ "$files" -le 8 ] && [ "$bytes" -le $((64 * 1048576)) ] || { say "OVER THE LIMITS of a call"; return 1; }
  [ "$i" -gt 0 ]
}

train() {
  [ -d "$DATA/monuseg" ] || { say "$DATA missing: carry it (benchmarks/gpu/pack_data.py pack)"; exit 2; }
  setup
  "$PY" benchmarks/gpu/pack_data.py unpack --out "$DATA" || exit 1
  mkdir -p "$RUNS/logs"
  { date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
    "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
  } > "$RUNS/logs/device.txt"
  "$PY" benchmarks/gpu/check_cuda.py --device "$DEVICE" --models "$CHECK_MODELS" \
    --out "$RUNS/logs/cuda_check.json" > "$RUNS/logs/cuda_check.log" 2>&1 \
    || say "model check FAILED (training goes on): see logs/cuda_check.log"
  local started=$SECONDS status=0
  train_one "$PRESET" --preset "$PRESET" --folds "$FOLDS" --max-minutes "$MINUTES"
  for b in $BASELINES; do
    train_one "$b" --baseline "$b" --max-minutes "$BASELINE_MINUTES"
  done
  for i in "${!PIDS[@]}"; do
    if wait "${PIDS[$i]}"; then say "${NAMES[$i]}: done"; else say "${NAMES[$i]}: FAILED"; status=1; fi
    tail -n 3 "$RUNS/logs/${NAMES[$i]}.log"
  done
  say "training took $((SECONDS - started)) s"
  gather_logs
  pack_weights || { say "no weights at all: sending the logs only"; status=1; }
  send 0 "$FIRST_PARTS" logs-train logs || status=1
  return $status
}

collect() {
  [ -d "$RUNS/$PRESET" ] || { say "no runs in $RUNS: the machine was given back after call 1"; exit 2; }
  [ -d "$TESTDATA/monuseg" ] || { say "$TESTDATA missing: carry it (pack_data.py pack --splits test --no-tnbc)"; exit 2; }
  setup
  "$PY" benchmarks/gpu/pack_data.py unpack --out "$TESTDATA" || exit 1
  local data="$TESTDATA/monuseg" splits=test
  if [ -d "$DATA/monuseg/train" ]; then  # still here from call 1: score the training part and validation too
    rm -rf "$DATA/monuseg/test" && cp -r "$TESTDATA/monuseg/test" "$DATA/monuseg/test"
    data="$DATA/monuseg" splits=${SPLITS:-train,val,test}
  fi
  local models=""
  if [ -f "$RUNS/$PRESET/$PRESET.json" ]; then
    for f in safetensors json; do  # stage 1 alone is the weighted U-Net row of Table I
      ln -f "$RUNS/$PRESET/stage1.$f" "$RUNS/$PRESET/unet.$f" 2>/dev/null \
        || cp "$RUNS/$PRESET/stage1.$f" "$RUNS/$PRESET/unet.$f"
    done
    models="$RUNS/$PRESET/$PRESET,$RUNS/$PRESET/$PRESET@watershed,$RUNS/$PRESET/unet"
  fi
  for b in $BASELINES; do
    [ -f "$RUNS/$b/$b.json" ] && models="${models:+$models,}$RUNS/$b/$b"
  done
  local status=0 extras=(logs)
  "$PY" -m wsinuc benchmark table1 "$data" --models "$models" --splits "$splits" \
    --protocol paper --device "$DEVICE" --out "$RUNS/table1" > "$RUNS/logs/table1.log" 2>&1 \
    || { say "table1 FAILED (the weights are sent all the same)"; status=1; }
  tail -n 30 "$RUNS/logs/table1.log"
  [ -d "$RUNS/table1" ] && extras+=(table1)
  gather_logs
  send "$FIRST_PARTS" 99 logs-collect "${extras[@]}" || status=1
  return $status
}

case "$STEP" in
  train) train ;;
  collect) collect ;;
  *) echo "usage: OUT=... bash benchmarks/gpu/session.sh train|collect" >&2; exit 2 ;;
esac
