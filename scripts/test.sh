#!/usr/bin/env bash
# Installs mnistlab with its test extras into .venv, runs the linters (ruff, mypy; either failing
# fails the script) and then the default test suite (tests/ and the package's doctests), in two
# processes, then the tests that need a quiet machine alone.
# Usage (from the repository root): bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# torch first and pinned: this CPU build is what the machines here carry; an unpinned torch
# would pull gigabytes of CUDA packages.
.venv/bin/python -m pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'

# Lint first: it takes seconds, and a type error is cheaper to read than the test it would break.
echo "ruff check src tests bench" >&2
.venv/bin/ruff check src tests bench
echo "mypy src/mnistlab src/mnistlab_launch.py" >&2
.venv/bin/mypy src/mnistlab src/mnistlab_launch.py

# The report test opens the HTML report in a real headless Chromium.
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
            || echo "warning: could not install chromium; the browser test will fail" >&2
    else
        echo "warning: chromium not found (apt-get install chromium); the browser test will fail" >&2
    fi
fi

# The real datasets: ../shared/datasets beside the checkout unless the caller says otherwise.
export MNISTLAB_DATA_DIR="${MNISTLAB_DATA_DIR:-$(cd .. && pwd)/shared/datasets}"
export MPLBACKEND=Agg

# Given a marker expression (-m slow), --pdb or -p no:xdist, pytest runs once, as asked. Otherwise
# the suite runs in MNISTLAB_TEST_WORKERS processes (pytest-xdist; 2 by default, CI's cores): most
# of its time is spent waiting on subprocesses, Ray and Chromium. The Ray tests share one worker
# (one Ray), and training there keeps the thread count it chose (the other worker's load would
# change its last digits). Then the tests that measure the machine's own load (marked "quiet") run
# alone, with nothing of the suite beside them.
for arg in "$@"; do
    case "$arg" in -m|-m*|--pdb|no:xdist) exec .venv/bin/python -m pytest "$@" ;; esac
done
empty=0 failed=0
pytest_part() {  # a part the arguments choose no test of (status 5) is not a failure; both are
    local status=0
    .venv/bin/python -m pytest "$@" || status=$?
    case "$status" in 0) ;; 5) empty=$((empty + 1)) ;; *) [ "$failed" != 0 ] || failed=$status ;; esac
}
MNISTLAB_ADAPTIVE_THREADS=0 pytest_part -n "${MNISTLAB_TEST_WORKERS:-2}" --dist loadgroup -m "not slow and not quiet" "$@"
pytest_part -m "quiet and not slow" "$@"
[ "$failed" = 0 ] || exit "$failed"
[ "$empty" -lt 2 ] || exit 5
