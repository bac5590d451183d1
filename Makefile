# OCX — the two commands: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
PORT   ?= 8000
export PORT

.DEFAULT_GOAL := help
.PHONY: help run test test-pg lint format run-distributed bench migrate seed clean

help:
	@echo "make run              start OCX in embedded mode on http://127.0.0.1:$(PORT) (SQLite, in-process Celery + beat)"
	@echo "make test             run the whole test suite (no services needed)"
	@echo "make run-distributed  web + workers + beat against DATABASE_URL (PostgreSQL) and REDIS_URL"
	@echo "make bench            run the benchmarks (needs PostgreSQL and Redis), results in bench/results/"
	@echo "make lint             ruff (lint + format check) and import-linter (the layer contracts)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

migrate: $(VENV)/.runtime
	$(PY) manage.py migrate --no-input -v 0

seed: migrate
	$(PY) manage.py seed_demo

run: seed
	$(PY) manage.py collectstatic --no-input -v 0
	$(PY) manage.py run_embedded --port $(PORT)

test: $(VENV)/.dev
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(VENV)/.dev
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

run-distributed: $(VENV)/.runtime
	@test -n "$$DATABASE_URL" -a -n "$$REDIS_URL" || { echo "set DATABASE_URL (postgres://…) and REDIS_URL (redis://…)"; exit 2; }
	$(PY) manage.py ensure_database
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py seed_demo
	$(PY) manage.py collectstatic --no-input -v 0
	$(VENV)/bin/honcho start -f Procfile

bench: $(VENV)/.dev
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf var/ocx.sqlite3* var/celerybeat-schedule* var/staticfiles
