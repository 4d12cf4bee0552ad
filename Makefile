# The two commands: `make run` serves the portal, `make test` runs every test.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
FLASK := $(VENV)/bin/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 2
PYTHON ?= python3

.PHONY: run test install install-dev lint browser-deps db demo clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

db: install
	$(FLASK) db upgrade

demo: db
	$(FLASK) demo load --if-empty

## make run: install, migrate, load the demo when the database is empty, and serve, with the mail worker beside
## the web server (no MAIL_SERVER: the worker says so and mail waits at /admin/outbox). Links in mail start with
## PUBLIC_URL, by default the address served here.
run: demo
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl+C to stop)"
	export PUBLIC_URL="$${PUBLIC_URL:-http://$(HOST):$(PORT)}"; \
	$(FLASK) mail deliver --watch & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; \
	$(VENV)/bin/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) --workers $(WORKERS) --access-logfile - wsgi:app

## Debian's Chromium for the browser tests: installed when missing and we are root.
browser-deps:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian's chromium for the browser tests..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "Could not install chromium: browser tests will be skipped"; \
	else echo "No /usr/bin/chromium and not root: browser tests will be skipped"; fi

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## make test: lint, then every test on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL at the same time
## (two processes share nothing: each has its own scratch databases, ports and browser). The layout checks
## (widths and print) draw the same HTML whatever the database, so they run once, on SQLite.
PYTEST := $(VENV)/bin/pytest -q -p no:cacheprovider
LAYOUT_ONLY_ONCE := --ignore=tests/browser/test_browser_widths.py --ignore=tests/browser/test_browser_print.py
test: install-dev browser-deps lint
	@set -o pipefail; \
	if [ -z "$$TEST_DATABASE_URL" ]; then \
	  $(PYTEST) $(PYTEST_ARGS) || exit $$?; \
	  echo "TEST_DATABASE_URL is not set: PostgreSQL run skipped"; \
	else \
	  echo "Running the tests on SQLite and on PostgreSQL ($$TEST_DATABASE_URL) side by side"; \
	  ( $(PYTEST) $(PYTEST_ARGS) 2>&1 | sed -u 's/^/[sqlite] /' ) & sqlite=$$!; \
	  ( PORTAL_TEST_BACKEND=postgresql $(PYTEST) $(LAYOUT_ONLY_ONCE) $(PYTEST_ARGS) 2>&1 \
	    | sed -u 's/^/[postgresql] /' ) & postgresql=$$!; \
	  wait $$sqlite; s=$$?; wait $$postgresql; p=$$?; \
	  echo "SQLite run: $$([ $$s = 0 ] && echo passed || echo "FAILED ($$s)"); PostgreSQL run: $$([ $$p = 0 ] && echo passed || echo "FAILED ($$p)")"; \
	  [ $$s = 0 ] && [ $$p = 0 ]; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

## make reliability: the reliability harness (reliability/README.md) against real gunicorn processes on scratch
## databases: SQLite, then PostgreSQL when RELIABILITY_DATABASE_URL or TEST_DATABASE_URL names a server.
## make reliability-short: the short version that `make test` runs through tests/test_reliability.py.
## The full run's autosave storm and soak last STORM_SECONDS and SOAK_MINUTES: before go-live, for example
## `make reliability STORM_SECONDS=1800 SOAK_MINUTES=60` (RELIABILITY.md L3 and L6 ask for 30 and 60 minutes).
.PHONY: reliability reliability-short
reliability: STORM_SECONDS ?= 60
reliability: SOAK_MINUTES ?= 2
reliability: install
	$(PY) -m reliability.run --storm-seconds $(STORM_SECONDS) --soak-minutes $(SOAK_MINUTES)

reliability-short: install
	$(PY) -m reliability.run --short

## make bench: the benchmark (bench/README.md): builds a scratch database at BENCH_SCALE (national: 3,000 projects a
## year × 10 years, long on a small machine; modest: 300 × 3, minutes; tiny), times every page in-process and over
## gunicorn, and writes docs/performance.md. SQLite by default; DATABASE_URL names a PostgreSQL server to make the
## scratch database on (dropped afterwards). BENCH_ARGS passes more options (--no-http, --repeat N, --keep).
BENCH_SCALE ?= national
.PHONY: bench bench-deps
## Debian's wrk for the raw throughput baseline (RELIABILITY L7): installed when missing and we are root.
bench-deps:
	@if command -v wrk >/dev/null; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian's wrk for the throughput baseline..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) \
	    || echo "Could not install wrk: the baseline will be skipped"; \
	else echo "No wrk and not root: the throughput baseline will be skipped"; fi

bench: install bench-deps
	BENCH_SCALE=$(BENCH_SCALE) $(PY) -m bench $(BENCH_ARGS)
