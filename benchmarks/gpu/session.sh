#!/usr/bin/env bash
# Issue 4 on a lent GPU: train the paper-width cascade and the baselines, score them,
# bring the weights back. Two calls of the device tool, prepared here beforehand
# (benchmarks/gpu/README.md has the whole plan and the exact `run` calls):
#
#   call 1 (<= 9.5 min, carry .whl .devdata):   bash benchmarks/gpu/session.sh train
#       unpacks the training data, checks every model in fp32/bf16 (check_cuda.py),
#       trains the cascade and the baselines side by side
#       under wall-clock budgets (wsinuc train --max-minutes), sends back stage 1 of
#       the cascade (4 parts) + every log and card.
#   call 2 (~1.5 min, carry .whl .devtest), AT ONCE after call 1 (the machine is
#   given back 30 s after a call, and the runs live on its disk):
#                                               bash benchmarks/gpu/session.sh collect
#       scores every trained model (stage 1 alone as the weighted U-Net row) on the
#       MoNuSeg test images (and the training and validation parts) with
#       `wsinuc benchmark table1 --protocol paper`, sends back stage 2 + the tables.
#
# Settings come from the environment (defaults = the paper protocol on the GPU);
# a dry run on the CPU here, with tiny settings, is in tests/benchmarks/test_gpu_session.py.
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

send_back() {  # STAGE EXTRAS...: the stage's weights (final, else its best epoch so far) + extras
  local stage=$1; shift
  local weights="$RUNS/$PRESET/$stage.safetensors" card="$RUNS/$PRESET/$stage.json"
  if [ ! -f "$weights" ]; then  # the protocol stopped early: the run's best epoch
    weights="$RUNS/$PRESET/$stage/best.safetensors" card="$RUNS/$PRESET/$stage/best.json"
    say "$RUNS/$PRESET/$stage.safetensors missing: sending $weights instead"
  fi
  if [ ! -f "$weights" ]; then
    say "no $stage weights at all: sending the logs only"
    "$PY" benchmarks/gpu/ship.py send "$RUNS/logs/device.txt" --name "$stage-logs" \
      --out "$OUT" --extra "$@"
    return 1
  fi
  "$PY" benchmarks/gpu/ship.py send "$weights" --name "$stage" --out "$OUT" --extra "$card" "$@"
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
  send_back stage1 "$RUNS/logs" || status=1
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
  local status=0 extras=("$RUNS/logs")
  "$PY" -m wsinuc benchmark table1 "$data" --models "$models" --splits "$splits" \
    --protocol paper --device "$DEVICE" --out "$RUNS/table1" > "$RUNS/logs/table1.log" 2>&1 \
    || { say "table1 FAILED (stage 2 is sent all the same)"; status=1; }
  tail -n 30 "$RUNS/logs/table1.log"
  [ -d "$RUNS/table1" ] && extras+=("$RUNS/table1")
  gather_logs
  send_back stage2 "${extras[@]}" || status=1
  return $status
}

case "$STEP" in
  train) train ;;
  collect) collect ;;
  *) echo "usage: OUT=... bash benchmarks/gpu/session.sh train|collect" >&2; exit 2 ;;
esac
