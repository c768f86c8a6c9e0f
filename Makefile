# Proving Ground: the template repository's own targets.
# Everything installs itself: a local virtualenv (.venv) holds uv, cookiecutter,
# cruft, copier, pytest and the linters, rebuilt only when pyproject.toml or uv.lock change.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
OPTIONS ?=
ARGS ?=
DEMO_DIR := build/demo
# The template directory is Jinja, not Python: it is linted in its bakes (tests/test_bake_matrix.py).
LINT_PATHS := hooks tests bench scripts local_extensions.py copier_extensions.py

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked
	touch $@

uv.lock: pyproject.toml | $(UV)
	$(UV) lock
	touch $@

.PHONY: install
install: $(VENV)/.synced ## Create .venv with the template's tools (uv, cookiecutter, cruft, copier, pytest)

.PHONY: test
test: install ## Run the template's whole test suite (bakes, hooks, generated make test)
	$(BIN)/pytest -n 2 --dist loadgroup --durations=15 $(ARGS)

.PHONY: test-fast
test-fast: install lint ## Bake checks and static checks only, under 2 minutes
	$(BIN)/pytest -n 2 --dist loadgroup -m "not slow" $(ARGS)

.PHONY: lint
lint: install ## ruff on the template's own code (hooks, tests, extensions)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

.PHONY: bake
bake: install ## Bake into build/<slug> with cookiecutter; OPTIONS="key=value ..."
	rm -rf build/bake
	$(BIN)/cookiecutter --no-input --output-dir build/bake . $(OPTIONS)
	@echo "Baked into: $$(ls -d build/bake/*)"

.PHONY: copier-config
copier-config: install ## Write copier.yml from cookiecutter.json (after changing an option)
	$(BIN)/python scripts/copier_config.py

.PHONY: demo
demo: install ## Bake the default project with cruft into build/demo and run its make test
	rm -rf $(DEMO_DIR)
	$(BIN)/cruft create --no-input --output-dir $(DEMO_DIR) .
	$(MAKE) -C $$(ls -d $(DEMO_DIR)/*/) test
	@echo "Demo project: $$(ls -d $(DEMO_DIR)/*/)"
	@echo "Reports: $$(ls -d $(DEMO_DIR)/*/)reports/junit.xml (make test-coverage there adds coverage XML + HTML)"

.PHONY: canary
canary: install ## Bake default and minimal, relock to the newest releases, run their make test; names what moved
	$(BIN)/python scripts/canary.py run $(ARGS)

.PHONY: upgrade-check
upgrade-check: install ## Bake the previous release (CHANGELOG.md) with cruft and copier, update each to HEAD, run its make test (MAKE_ARGS="ARGS=-m unit" adds one argument)
	$(BIN)/python scripts/release_upgrade.py $(if $(MAKE_ARGS),--make-arg '$(MAKE_ARGS)')

.PHONY: move-resolution-date
move-resolution-date: install ## Record DATE (UTC, e.g. 2026-12-06T00:00:00Z) as the date bakes resolve at (after a green canary)
	$(BIN)/python scripts/canary.py move-date '$(DATE)'

.PHONY: bench
bench: install ## Measure the framework beside its peers: docs/benchmarks.md + bench/results.json (QUICK=1: < 5 min)
	cd bench && $(CURDIR)/$(BIN)/python run.py $(if $(QUICK),--quick) $(ARGS)

.PHONY: docs
docs: install ## Build the documentation site into site/ (mkdocs --strict)
	$(BIN)/mkdocs build --strict

.PHONY: clean
clean: ## Remove build output, caches and the virtualenv
	rm -rf build site .pytest_cache .ruff_cache .mypy_cache $(VENV)
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'
