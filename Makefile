# Bourse: `make run` serves the exchange at http://127.0.0.1:8000, `make test` runs every test.
# With DATABASE_URL/REDIS_URL unset, embedded Postgres and Redis are kept under var/.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint audit bench chaos services services-down setup migrate clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	DEBUG=1 $(PY) -m exchange.devservices run -- scripts/run.sh

test: $(STAMP)
	$(PY) -m exchange.devservices run -- scripts/test.sh $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/bandit -q -r accounts wallets orders marketdata matching exchange \
	  -x '*/tests/*,*/migrations/*,*/worker_tests/*' --severity-level high

# pip-audit needs PyPI's JSON API or OSV; neither is reachable from this project's
# machines (only the package index is), so it is a separate target, not a gate.
audit: $(STAMP)
	$(VENV)/bin/pip install -q pip-audit==2.10.1
	$(VENV)/bin/pip-audit -r requirements.txt

bench: $(STAMP)
	$(PY) -m exchange.devservices run -- scripts/bench.sh $(ARGS)

chaos: $(STAMP)
	$(PY) -m exchange.devservices run -- $(PY) -m tests.chaos.harness --ops 10000 --clients 50 --accounts 20 $(ARGS)

services: $(STAMP)
	$(PY) -m exchange.devservices up

services-down: $(STAMP)
	$(PY) -m exchange.devservices down

clean: services-down
	rm -rf var staticfiles
