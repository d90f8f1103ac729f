# RevTrend — the two commands: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

# Settings may live in .env (see .env.example); the environment wins.
ifneq (,$(wildcard .env))
include .env
export
endif

.PHONY: setup run test worker beat bench lint

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

setup: $(STAMP)
	@mkdir -p var
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py collectstatic --noinput -v 0

run: setup
	$(PY) manage.py seed_demo
	@echo "RevTrend is at http://$(HOST):$(PORT)/ (Ctrl+C to stop)"
	$(PY) manage.py runserver $(HOST):$(PORT) --noreload

# PostgreSQL and Redis are used when they answer locally (or DATABASE_URL /
# CELERY_BROKER_URL say where they are); CI=true makes them required.
# A second, short pass runs the ingestion tests on SQLite, the embedded default.
test: setup
	@db="$${DATABASE_URL:-$$($(PY) scripts/services.py postgres)}"; \
	echo "Tests on database: $${db:-SQLite}"; \
	export DJANGO_ALLOW_ASYNC_UNSAFE=true; \
	DATABASE_URL="$$db" $(PY) -m pytest $(PYTEST_ARGS) || exit $$?; \
	if [ -n "$$db" ] && [[ "$$db" != sqlite* ]]; then \
	  echo "Ingestion tests again on SQLite:"; \
	  DATABASE_URL="sqlite:///var/test.sqlite3" $(PY) -m pytest tests/customers -q \
	    -m "not postgres and not redis and not browser" $(PYTEST_ARGS) || exit $$?; \
	fi

worker: $(STAMP)
	$(VENV)/bin/celery -A revtrend_site worker --loglevel=INFO

# Exactly one per deployment: the watchdog every minute (stalled work queued again or failed).
beat: $(STAMP)
	$(VENV)/bin/celery -A revtrend_site beat --loglevel=INFO --schedule var/celerybeat-schedule

bench: setup
	@for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script || exit $$?; done

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
