#!/usr/bin/env bash
# Started by `make bench` with the services up: every benchmark, then docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG=${DEBUG:-1}
exec .venv/bin/python bench/report.py "$@"
