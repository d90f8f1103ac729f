# RevTrend — the two commands: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Two locks (pip-compile, with hashes): requirements/base.txt for what the app runs on,
# requirements/dev.txt for tests, linters and tools on top of it. Each stamp reinstalls only
# when its lock changes.
BASE_STAMP := $(VENV)/.requirements-base-installed
DEV_STAMP := $(VENV)/.requirements-dev-installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

# Settings may live in .env (see .env.example); the environment wins. (A plain `include`
# would let .env win: make ranks a makefile's assignments above the environment's. So each
# key's environment value is kept aside and put back after .env is read.)
ifneq (,$(wildcard .env))
ENV_FILE_KEYS := $(shell sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*=.*/\1/p' .env)
$(foreach key,$(ENV_FILE_KEYS),$(if $(filter environment,$(origin $(key))),$(eval SAVED_ENV_$(key) := $$($(key)))))
include .env
$(foreach key,$(ENV_FILE_KEYS),$(if $(filter undefined,$(origin SAVED_ENV_$(key))),,$(eval $(key) := $$(SAVED_ENV_$(key)))))
export
endif

.PHONY: setup run test worker beat bench lint lock

$(BASE_STAMP): requirements/base.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements/base.txt
	@touch $@

$(DEV_STAMP): requirements/dev.txt $(BASE_STAMP)
	$(PY) -m pip install --quiet --require-hashes -r requirements/dev.txt
	@touch $@

setup: $(BASE_STAMP)
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
test: setup $(DEV_STAMP)
	@db="$${DATABASE_URL:-$$($(PY) scripts/services.py postgres)}"; \
	echo "Tests on database: $${db:-SQLite}"; \
	export DJANGO_ALLOW_ASYNC_UNSAFE=true; \
	DATABASE_URL="$$db" $(PY) -m pytest $(PYTEST_ARGS) || exit $$?; \
	if [ -n "$$db" ] && [[ "$$db" != sqlite* ]]; then \
	  echo "Ingestion tests again on SQLite:"; \
	  DATABASE_URL="sqlite:///var/test.sqlite3" $(PY) -m pytest tests/customers -q \
	    -m "not postgres and not redis and not browser" $(PYTEST_ARGS) || exit $$?; \
	fi

# As many as you like, on as many hosts. Schedules, digests and the watchdog also need one
# `make beat` per deployment; `make run` works without either (tasks run in-process).
worker: $(BASE_STAMP)
	@test -n "$$CELERY_BROKER_URL" || { echo "make worker needs CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0); without it the app runs tasks itself."; exit 2; }
	@echo "Worker starting. Scheduled analyses, digests and the watchdog need one 'make beat' per deployment."
	$(VENV)/bin/celery -A revtrend_site worker --loglevel=INFO

# Exactly one per deployment: the watchdog every minute, the daily and weekly digests, and each
# team's scheduled analyses, from the schedule kept in the database (django-celery-beat).
beat: setup
	@test -n "$$CELERY_BROKER_URL" || { echo "make beat needs CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0)."; exit 2; }
	$(VENV)/bin/celery -A revtrend_site beat --loglevel=INFO

bench: setup $(DEV_STAMP)
	@for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script || exit $$?; done

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Recompile both locks after editing requirements/*.in. Pins already in the locks are kept;
# LOCK_ARGS=--upgrade (or --upgrade-package NAME) moves them.
LOCK_ARGS ?=
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

lock: $(DEV_STAMP)
	$(PIP_COMPILE) --output-file requirements/base.txt requirements/base.in
	$(PIP_COMPILE) --output-file requirements/dev.txt requirements/dev.in
