#!/usr/bin/env bash
# Started by `make test` with the services up and DATABASE_URL/REDIS_URL set.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/lint-imports
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
