#!/usr/bin/env bash
# The GPU check (issue 15), under 8 minutes on an H100/H200-class machine: the CUDA tests, then
# bench/gpu_check.py's table (MNIST speedrun time to 99%, seed000-cnn 5 epochs, a committee of five
# deep convs stacked vs one by one).
#
#   bash bench/gpu_check.sh prepare   # HERE, with network: wheels mnistlab needs that the GPU image lacks
#                                     # into .whl/, the datasets into .gpu-data/ (both git-ignored)
#   bash bench/gpu_check.sh           # THERE, with python3 holding a CUDA torch (carry .whl and .gpu-data)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = prepare ]; then
    rm -rf .whl && mkdir -p .whl .gpu-data
    for pkg in pydantic pydantic-core annotated-types typing-inspection tomli-w; do
        python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            -d .whl "$pkg"
    done
    cp -r ../shared/datasets/mnist ../shared/datasets/fashion-mnist .gpu-data/
    grep -qx '/.gpu-data/' .git/info/exclude 2>/dev/null || echo /.gpu-data/ >> .git/info/exclude
    du -sh .whl .gpu-data
    exit 0
fi

if [ -d .whl ] && ! python3 -c "import pydantic" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
if [ -z "${MNISTLAB_DATA_DIR:-}" ]; then
    if [ -d .gpu-data ]; then MNISTLAB_DATA_DIR="$PWD/.gpu-data"; else MNISTLAB_DATA_DIR="$(cd .. && pwd)/shared/datasets"; fi
fi
export MNISTLAB_DATA_DIR
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_members.py
python3 bench/gpu_check.py "$@"
