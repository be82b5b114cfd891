#!/usr/bin/env bash
# Started by `make run` with the services up and DATABASE_URL/REDIS_URL set.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG=${DEBUG:-1}
.venv/bin/python manage.py migrate --noinput -v 0
.venv/bin/python manage.py seed_demo
echo
echo "  Bourse is starting at http://127.0.0.1:${WEB_PORT:-8000}  (Ctrl-C stops everything)"
echo
# honcho stops every process on Ctrl-C or when one exits; exec so signals reach it.
exec .venv/bin/honcho start -f Procfile
