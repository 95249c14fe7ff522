#!/usr/bin/env bash
# The engine on a lent GPU in one device call (issue 14): end-to-end vs model-only throughput on a
# 40000² slide, peak RSS at 20000² and 40000², and wsinuc vs TIAToolbox's engine on a 20000² slide.
#
#   here:    bash benchmarks/gpu/device_wheels.sh all        # engine wheels -> .whl/ (43 MiB)
#            bash benchmarks/gpu/weights_aside.sh out        # the 110 MB cascade does not travel
#   device:  run(command="bash benchmarks/gpu/engine_check.sh", carry=[".whl"], timeout_s=590)
#   here:    bash benchmarks/gpu/weights_aside.sh back; copy files_at/*.json to benchmarks/results/
#
# Without the bundled cascade the throughput runs time an UNTRAINED network of the cascade's
# architecture (same cost per pixel; benchmarks/README.md); the TIAToolbox agreement uses the
# bundled cascade-lite, which travels (6 MB). Synthetic slides are written on the device first
# (about 2.5 min for 40000²), in parallel.
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${OUT:?OUT must name the folder that goes back (the device tool sets it)}"
PY=${PY:-python3}
WHEELS=${WHEELS:-.whl}
SITE=${SITE:-/tmp/site}
WORK=${WORK:-/tmp/wsinuc-bench}
SIZE=${SIZE:-40000}
TIA_SIZE=${TIA_SIZE:-20000}
BATCH=${BATCH:-8}
WORKERS=${WORKERS:-4}

if [ -d "$WHEELS" ] && [ ! -f "$SITE/.installed" ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$WHEELS"/*.whl && touch "$SITE/.installed"
fi
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
mkdir -p "$WORK" "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv > "$OUT/gpu.txt" 2>&1

# Slides first, side by side (each is written once and cached in $WORK).
for size in "$TIA_SIZE" "$SIZE"; do
  "$PY" -c "import sys; sys.path.insert(0, 'benchmarks'); from common import ensure_slide; ensure_slide('$WORK', $size)" &
done
wait

COMMON=(--device cuda --work "$WORK" --results "$OUT" --batch-size "$BATCH" --workers "$WORKERS" --precision bf16)
timeout 200 "$PY" benchmarks/throughput.py --size "$SIZE" --model cascade "${COMMON[@]}" > "$OUT/throughput.log" 2>&1
timeout 150 "$PY" benchmarks/memory_scaling.py --sizes "$TIA_SIZE,$SIZE" --model cascade "${COMMON[@]}" \
  > "$OUT/memory_scaling.log" 2>&1
if "$PY" -c "import tiatoolbox" 2>/dev/null; then
  timeout 150 "$PY" benchmarks/vs_tiatoolbox.py --size "$TIA_SIZE" --model cascade-lite "${COMMON[@]}" \
    > "$OUT/vs_tiatoolbox.log" 2>&1
else
  echo "tiatoolbox is not installed on this machine (about 130 packages; it does not fit in one carry):" \
       "vs_tiatoolbox.py skipped" > "$OUT/vs_tiatoolbox.log"
fi
tail -n 25 "$OUT"/*.log
ls -la "$OUT"
