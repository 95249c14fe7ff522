#!/usr/bin/env bash
# Download, HERE (where pip reaches the registry), the wheels that a lent GPU
# machine lacks, into .whl/ (git-ignored), for its Python 3.12 on x86-64.
# The device image already has torch, torchvision, timm, huggingface-hub,
# safetensors, numpy, scipy, scikit-image, tifffile, pillow, pyarrow, rich,
# typer, click, psutil, cloudpickle, toolz, msgpack, sortedcontainers, fsspec,
# pyyaml, jinja2, urllib3 (see the device tool's KINDS.md); these are the rest
# of wsinuc's runtime dependencies, at the versions the test suite runs with.
#
# `train` is what `wsinuc train` needs there (3 MiB, fits beside the packed
# data of pack_data.py); `all` adds the engine's (43 MiB: carry it in its own call).
#
#   bash benchmarks/gpu/device_wheels.sh train    # -> .whl/, then: du -sh .whl
#   bash benchmarks/gpu/device_wheels.sh all
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
TRAIN=(segmentation-models-pytorch==0.5.0 shapely==2.1.2 defusedxml==0.7.1)
ENGINE=(
  zarr==3.1.6 numcodecs==0.16.6 donfig==0.8.1.post1 google-crc32c==1.9.0
  dask==2026.7.0 distributed==2026.7.0 partd==1.4.2 locket==1.0.0 tblib==3.2.2
  zict==3.0.0 tornado==6.6.1
  geojson==3.3.0
  openslide-python==1.4.3 openslide-bin==4.0.1.1 imagecodecs==2026.1.14
)
case "${1:-}" in
  train) PACKAGES=("${TRAIN[@]}") ;;
  all) PACKAGES=("${TRAIN[@]}" "${ENGINE[@]}") ;;
  *) echo "usage: $0 train|all" >&2; exit 2 ;;
esac
rm -rf .whl
PLATFORMS=()
for n in 17 24 27 28 31 34 35; do PLATFORMS+=(--platform "manylinux_2_${n}_x86_64"); done
PLATFORMS+=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64)
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp "${PLATFORMS[@]}" -d .whl "${PACKAGES[@]}"
ls -1 .whl && du -sh .whl
