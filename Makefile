# daily-synthetic: the two commands are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION ?= 0.13.8
# uv from PATH, else a private copy bootstrapped from PyPI into .tools/.
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
# The job's runtime dependencies only, as in its image: what `make run` and the bench run.
JOB_VENV := .venv-job
JOB_BIN := $(JOB_VENV)/bin

DATE ?= 2025-06-12
ROWS ?= 1000000
DEST ?= data/raw
# The labels feed (fraud_reports) has a root of its own, beside the payments'.
LABELS_DEST ?= data/fraud_reports
SEED ?= 42

export TESTCONTAINERS_RYUK_DISABLED := true

.PHONY: help dev job-venv run test lint typecheck unit bench fidelity clean docker-engine

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install -q "uv==$(UV_VERSION)"

# Then DuckDB's delta and httpfs extensions, from their wheels (the feast group): Feast's DuckDB
# offline store reads the Delta tables through the first, the readers' tests read S3 through the
# second, and DuckDB cannot download them here.
$(BIN)/daily-synthetic: pyproject.toml uv.lock scripts/duckdb-local-extensions.py | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	$(BIN)/python scripts/duckdb-local-extensions.py delta httpfs
	@touch $@

dev: $(BIN)/daily-synthetic ## create .venv with the job (editable), dev tools and Airflow, from uv.lock

$(JOB_BIN)/daily-synthetic: pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(JOB_VENV) $(UV) sync --frozen --no-default-groups --compile-bytecode --python $(PYTHON)
	@touch $@

job-venv: $(JOB_BIN)/daily-synthetic ## create .venv-job: the job (editable) and its runtime dependencies only

run: job-venv ## generate one day to a local folder (DATE, ROWS, DEST, LABELS_DEST, SEED)
	$(JOB_BIN)/daily-synthetic --date $(DATE) --rows $(ROWS) --dest $(DEST) --labels-dest $(LABELS_DEST) --seed $(SEED)

lint: dev ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: dev ## mypy over job/, dags/, tests/ and bench/
	$(BIN)/mypy

unit: dev ## unit tests only (no Docker)
	$(BIN)/pytest tests/unit

test: lint typecheck docker-engine ## ruff, mypy and every test (unit, integration, e2e)
	$(BIN)/pytest

# The job's own bytecode compiled first, as in its image: the editable install is otherwise
# compiled again at every start where PYTHONDONTWRITEBYTECODE is set.
bench: dev job-venv ## rows/s, peak memory, the ratio against a row-by-row baseline, the job image per layer
	$(JOB_BIN)/python -m compileall -q job/fraud_detection
	BENCH_CLI=$(JOB_BIN)/daily-synthetic JOB_IMAGE="$(JOB_IMAGE)" $(BIN)/python -m bench.run

fidelity: dev ## how hard the feed is for fraud models (AUC, AP, rules, statistics) → docs/fidelity.md
	$(BIN)/python -m bench.fidelity $(FIDELITY_ARGS)

docker-engine: ## make sure a Docker engine with compose v2 and buildx answers
	@bash scripts/ensure-docker.sh

clean: ## remove generated data and tool caches (keeps the venvs and images)
	rm -rf data build .mypy_cache .ruff_cache .pytest_cache

include mk/*.mk
