#!/usr/bin/env bash
# Installs mnistlab with its test extras into .venv, runs the linters (ruff, mypy; either failing
# fails the script) and then the default test suite (tests/ and the package's doctests).
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
exec .venv/bin/python -m pytest "$@"
