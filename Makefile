# Medreg: `make run` for a local portal with demo data, `make test` for lint and the test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
BENCH_WORKERS ?= 300000
BENCH_ORGS    ?= 6000

.PHONY: run test contract lint bench bench-search bench-import bench-load bench-load-clean bench-dq smoke up down install install-dev demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install only when the pinned requirements change.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_directories
	SITE_URL=http://$(HOST):$(PORT) $(BIN)/python manage.py seed_demo

run: demo
	@echo "Serving http://$(HOST):$(PORT)/  (Ctrl+C to stop)"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# Lint gates (docs/architecture.md): style and complexity (ruff), layer contracts (import-linter),
# types of every services.py and selectors.py (mypy with django-stubs), Django's checks, migrations.
TYPED := $(shell find . -path ./.venv -prune -o \( -name services.py -o -name selectors.py \) -print | sort)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy $(TYPED)
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

test: lint
	$(BIN)/pytest
	$(BIN)/python tests/api/schemathesis_live.py

# Schemathesis with --checks all (100 examples per operation, anonymous and with a partner token)
# against gunicorn on a database of its own: DATABASE_URL's name + "_contract", or SQLite.
contract: install-dev
	$(BIN)/python tests/api/schemathesis_live.py

# Benchmarks print their figures with the machine and data size. They need PostgreSQL:
# BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/medreg_bench) is dropped and recreated.
bench: install-dev
	$(BIN)/python manage.py bench --workers $(BENCH_WORKERS) --organizations $(BENCH_ORGS)

# Search figures only: reuses BENCH_DATABASE_URL when it already holds generated data (bench --keep).
bench-search: install-dev
	$(BIN)/python manage.py bench --keep --workers $(BENCH_WORKERS) --organizations $(BENCH_ORGS)

# Import throughput of every kind into a register of BENCH_IMPORT_WORKERS workers (generated into
# BENCH_IMPORT_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/medreg_bench_import, dropped and
# recreated), BENCH_IMPORT_ROWS new rows per kind, each next to a plain COPY of the same rows.
# The issue's scale: make bench-import BENCH_IMPORT_WORKERS=3000000
BENCH_IMPORT_WORKERS ?= 300000
BENCH_IMPORT_ROWS ?= 50000
bench-import: install-dev
	$(BIN)/python manage.py bench_import --workers $(BENCH_IMPORT_WORKERS) --rows $(BENCH_IMPORT_ROWS)

# Load test (issues 9, 16): locust against gunicorn on 127.0.0.1, printed twice in one run: the primary
# alone, then the primary and one streaming replica serving the public reads. By default the command
# makes its own primary + replica under BENCH_LOAD_PAIR_DIR and loads a generated register of
# BENCH_LOAD_WORKERS workers into it once (kept for the next run; `make bench-load-clean` removes it).
# With BENCH_REPLICA_URL set it runs over BENCH_DATABASE_URL (which must hold a generated register)
# and that replica of it instead. Sessions it creates are deleted afterwards; with
# BENCH_LOAD_CREATE_ACCOUNTS=1 missing cabinet accounts are created and deleted too.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/medreg_bench
BENCH_REPLICA_URL ?=
BENCH_LOAD_USERS ?= 100
BENCH_LOAD_DURATION ?= 5m
BENCH_LOAD_CREATE_ACCOUNTS ?= 1
BENCH_LOAD_WORKERS ?= 3000000
BENCH_LOAD_PAIR_DIR ?= $(CURDIR)/var/bench-load-pair
BENCH_LOAD_PRIMARY_PORT ?= 0
BENCH_LOAD_REPLICA_PORT ?= 0
BENCH_LOAD_ARGS = --users $(BENCH_LOAD_USERS) --duration $(BENCH_LOAD_DURATION) \
	$(if $(filter 1,$(BENCH_LOAD_CREATE_ACCOUNTS)),--create-accounts)
bench-load: install-dev
ifneq ($(strip $(BENCH_REPLICA_URL)),)
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py bench_load $(BENCH_LOAD_ARGS) \
		--replica-url $(BENCH_REPLICA_URL)
else
	$(BIN)/python manage.py bench_load $(BENCH_LOAD_ARGS) --own-pair $(BENCH_LOAD_PAIR_DIR) \
		--workers $(BENCH_LOAD_WORKERS) --primary-port $(BENCH_LOAD_PRIMARY_PORT) --replica-port $(BENCH_LOAD_REPLICA_PORT)
endif

bench-load-clean:
	$(PYTHON) deploy/pgcluster.py down --dir $(BENCH_LOAD_PAIR_DIR)

# The production smoke run of CI (deploy/smoke.py) on a throwaway primary + replica of its own:
# the stack of docker-compose.yml without Docker, walked like a user. Needs pgbouncer (apt) and Redis.
SMOKE_PAIR_DIR ?= $(CURDIR)/var/smoke-pair
SMOKE_REDIS_URL ?= redis://127.0.0.1:6379/15
smoke: install-dev
	$(PYTHON) deploy/pgcluster.py up --dir $(SMOKE_PAIR_DIR) --fast
	$(BIN)/python deploy/smoke.py --pair-dir $(SMOKE_PAIR_DIR) --redis-url $(SMOKE_REDIS_URL); \
		status=$$?; $(PYTHON) deploy/pgcluster.py down --dir $(SMOKE_PAIR_DIR); exit $$status

# The full production-like stack: PostgreSQL, Redis, gunicorn, Celery worker and beat.
up:
	docker compose up --build

down:
	docker compose down

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache

# Duplicate detection (issue 15): registers with known duplicates of every kind and hard negatives, at
# 300,000 and 3,000,000 workers (BENCH_DQ_SIZES), each in a fresh database (BENCH_DQ_DATABASE_URL_<size>):
# recall per kind, precision, namesakes flagged, scan and one-record check times, the old method as baseline.
BENCH_DQ_SIZES ?= 300000,3000000
bench-dq: install-dev
	$(BIN)/python manage.py bench_dq --sizes $(BENCH_DQ_SIZES)
