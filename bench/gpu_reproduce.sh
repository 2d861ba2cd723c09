#!/usr/bin/env bash
# Seed 002's notebook at full size on a GPU, for REPRODUCTION.md (issue 16): recipes/seed002.toml
# with 3 repeats of every variant, committees first (the deep committee has never run at full size
# on a CPU), cells trained JOBS at a time (each cell is launch-bound, so several processes share one
# GPU well). Stops training after LIMIT seconds; what finished is recorded and reported:
#
#   bash bench/gpu_check.sh prepare                  # here: wheels (.whl/) and datasets (.gpu-data/)
#   bash bench/gpu_reproduce.sh [LIMIT] [JOBS]       # there; OUT=folder for the table, log and runs.sqlite
#
# RECIPE=name runs recipes/name.toml instead of seed002 (REPEATS=n repeats of every variant, default 3):
#   RECIPE=best-mnist REPEATS=1 bash bench/gpu_reproduce.sh 540 5      # one committee of 5 (issue 16's targets)
#   RECIPE=best-fashion REPEATS=3 bash bench/gpu_reproduce.sh 540 3    # WRN-16-4, 3 seeds
#   RECIPE=best-mnist-candidates REPEATS=1 bash bench/gpu_reproduce.sh 540 10   # BN CNN x5, M5 x5, and both
set -uo pipefail
cd "$(dirname "$0")/.."
LIMIT="${1:-450}" JOBS="${2:-12}" OUT="${OUT:-$PWD/gpu-out}"
export RECIPE="${RECIPE:-seed002}" REPEATS="${REPEATS:-3}"
[ -f "recipes/$RECIPE.toml" ] || { echo "no recipe recipes/$RECIPE.toml" >&2; exit 2; }
mkdir -p "$OUT"
if [ -d .whl ] && ! python3 -c "import pydantic" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
[ -d .gpu-data ] && export MNISTLAB_DATA_DIR="${MNISTLAB_DATA_DIR:-$PWD/.gpu-data}"
python3 - <<'PY'
import os, tomllib, tomli_w
recipe = os.environ["RECIPE"]
exp = tomllib.load(open(f"recipes/{recipe}.toml", "rb"))
exp["repeats"] = int(os.environ["REPEATS"])
exp["variants"] = exp["variants"][::-1]          # committees first (seed002 lists them last)
open(f"/tmp/{recipe}.toml", "wb").write(tomli_w.dumps(exp).encode())
PY
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
start=$(date +%s)
set -m   # the run gets its own process group: Ctrl-C's SIGINT goes to the driver and its workers alike
# (a background job may start with SIGINT ignored, which bash cannot undo: Python can)
python3 -c "import signal, runpy; signal.signal(signal.SIGINT, signal.default_int_handler); runpy.run_module('mnistlab', run_name='__main__')" run "/tmp/$RECIPE.toml" --store /tmp/store --jobs "$JOBS" > "$OUT/run.log" 2>&1 &
pid=$!
for ((i = 0; i < LIMIT; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
kill -INT -- "-$pid" 2>/dev/null   # Ctrl-C: running cells are recorded as interrupted
for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
kill -KILL -- "-$pid" 2>/dev/null  # finished runs are in the store whatever happens here
wait "$pid"
set +m
grep -v "^ *epoch" "$OUT/run.log" | tail -40
echo "wall $(( $(date +%s) - start )) s for the run"
python3 -m mnistlab compare "/tmp/$RECIPE.toml" --store /tmp/store > "$OUT/compare.txt" 2>&1
python3 -m mnistlab compare "/tmp/$RECIPE.toml" --store /tmp/store --format csv > "$OUT/compare.csv" 2>&1
python3 -m mnistlab runs --store /tmp/store --format csv > "$OUT/runs.csv" 2>&1
cp /tmp/store/runs.sqlite "$OUT/" 2>/dev/null
cat "$OUT/compare.txt"
