# make/testing.mk: every test target of the framework.
#
# Self-contained on purpose: an existing repository can copy this file and
# packages/testkit, add `include make/testing.mk` to its Makefile, and get the same
# targets. It bootstraps uv when none is on PATH and rebuilds .venv only when a
# pyproject.toml or uv.lock changed.

PYTHON ?= python3
VENV ?= .venv
TOOLS_DIR ?= .tools
UV ?= $(or $(shell command -v uv 2>/dev/null),$(TOOLS_DIR)/bin/uv)
PYTEST ?= $(VENV)/bin/pytest
REPORTS_DIR ?= reports
ARGS ?=
USE_REDIS ?= yes
USE_NATS ?= yes
COMPOSE ?= docker compose -f docker-compose.test.yml
INFRA_ENV := .testkit/infra.env
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))

# `make infra-up` writes the URLs of the compose services here; while it exists,
# every test run uses them (the explicit-URL infrastructure source).
-include $(INFRA_ENV)
export TEST_POSTGRES_URL TEST_REDIS_URL TEST_NATS_URL

PYPROJECTS := $(wildcard pyproject.toml packages/*/pyproject.toml services/*/pyproject.toml uv.lock)

$(TOOLS_DIR)/bin/uv:
	$(PYTHON) -m venv $(TOOLS_DIR)
	$(TOOLS_DIR)/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed: $(PYPROJECTS) | $(UV)
	$(UV) sync
	@touch $@

.PHONY: install
install: $(VENV)/.installed ## Create or refresh .venv (uv sync) when a pyproject or uv.lock changed

$(REPORTS_DIR):
	@mkdir -p $@

.PHONY: test
test: install | $(REPORTS_DIR) ## Run the whole suite (JUnit XML in reports/)
	$(PYTEST) --junitxml=$(REPORTS_DIR)/junit.xml $(ARGS)

# One target per tier folder that exists: test-unit, test-integration, ... A tier's marker is
# added by testkit from the folder, so `-m <tier>` selects exactly that folder's tests.
KNOWN_TIERS := unit property integration e2e contract rag realtime security adversarial observability chaos perf
TIERS := $(filter $(KNOWN_TIERS),$(patsubst tests/%/,%,$(wildcard tests/*/)))
TIER_HELP_unit := pure logic, no I/O
TIER_HELP_property := hypothesis on real invariants
TIER_HELP_integration := real Postgres / Redis / NATS
TIER_HELP_e2e := journeys against a real uvicorn process (LIVE_SMOKE: TEST_BASE_URL)
TIER_HELP_contract := API contracts: OpenAPI breaking-change diffs and consumer contracts
TIER_HELP_rag := retrieval isolation, recall@k against a floor, citations
TIER_HELP_realtime := event fan-out: isolation, ordering, slow consumers
TIER_HELP_security := authn/authz, isolation, injection, SSRF, network guard, log hygiene
TIER_HELP_adversarial := prompt injection and hostile input, gated by a failure budget
TIER_HELP_observability := metrics and SLO checks
TIER_HELP_chaos := fault injection with recovery and no data loss
TIER_HELP_perf := load profiles and the performance gate

define tier_target
.PHONY: test-$(1)
test-$(1): install
	$$(PYTEST) -m $(1) $$(ARGS)
endef
$(foreach tier,$(TIERS),$(eval $(call tier_target,$(tier))))

.PHONY: help-tiers
help-tiers:
	@$(foreach tier,$(TIERS),printf "  %-20s %s\n" "test-$(tier)" "$(TIER_HELP_$(tier))";)

.PHONY: test-coverage
test-coverage: install | $(REPORTS_DIR) ## Whole suite with coverage (XML + HTML in reports/)
	$(PYTEST) --cov --cov-report=term --cov-report=xml:$(REPORTS_DIR)/coverage.xml \
		--cov-report=html:$(REPORTS_DIR)/coverage-html --junitxml=$(REPORTS_DIR)/junit.xml $(ARGS)

.PHONY: test-setup-verify
test-setup-verify: install ## Resolve each infrastructure source, connect, and print the result
	$(VENV)/bin/testkit infra --check

.PHONY: infra-up
infra-up: ## Start postgres/redis/nats with docker compose and point the tests at them
	$(COMPOSE) up -d --wait
	@mkdir -p $(dir $(INFRA_ENV))
	@printf '%s\n' \
		'TEST_POSTGRES_URL=postgresql://postgres:postgres@127.0.0.1:5432/postgres' \
		$(if $(filter yes,$(USE_REDIS)),'TEST_REDIS_URL=redis://127.0.0.1:6379/0') \
		$(if $(filter yes,$(USE_NATS)),'TEST_NATS_URL=nats://127.0.0.1:4222') > $(INFRA_ENV)
	@echo "Wrote $(INFRA_ENV); tests now use the compose services."

.PHONY: infra-down
infra-down: ## Stop the compose services and go back to automatic infrastructure
	$(COMPOSE) down --volumes
	rm -f $(INFRA_ENV)

.PHONY: clean-test-data
clean-test-data: ## Remove test reports, caches and recorded test data
	rm -rf $(REPORTS_DIR) .pytest_cache .hypothesis .coverage .coverage.* .testkit/tmp

# --- helper EDGE: run the service; accept an OpenAPI change ---------------------------------
# Only where a service exists (services/api); its import package is found, not configured.
SERVICE_DIR ?= services/api
SERVICE_PACKAGE ?= $(notdir $(patsubst %/main.py,%,$(firstword $(wildcard $(SERVICE_DIR)/src/*/main.py))))
CONTRACT_SNAPSHOT := tests/contract/openapi.snapshot.json

ifneq ($(SERVICE_PACKAGE),)
.PHONY: serve
serve: install ## Apply migrations, then serve the API with uvicorn (APP_* env; see docs/testing.md)
	cd $(SERVICE_DIR) && $(abspath $(VENV))/bin/alembic upgrade head
	$(VENV)/bin/python -c 'from $(SERVICE_PACKAGE).main import run; run()'

.PHONY: contract-snapshot
contract-snapshot: install ## Rewrite the committed OpenAPI snapshot from the live service (on purpose)
	CONTRACT_SNAPSHOT_UPDATE=1 $(PYTEST) tests/contract/test_openapi_snapshot.py $(ARGS)
	@echo "Rewrote $(CONTRACT_SNAPSHOT); review the diff and commit it with the API change."
endif

# --- adversarial budget (helper ASK) -------------------------------------------------------
.PHONY: adversarial-gate
adversarial-gate: install | $(REPORTS_DIR) ## Adversarial tier vs adversarial_budget_percent (reports/adversarial.json)
	$(PYTEST) -m adversarial $(ARGS)

# --- security gate (helper INGEST) ---------------------------------------------------------
.PHONY: security-gate
security-gate: install | $(REPORTS_DIR) ## The security tier must pass: authn/authz, cross-tenant, injection, SSRF (reports/security.xml)
	$(PYTEST) -m security --junitxml=$(REPORTS_DIR)/security.xml $(ARGS)

# --- chaos: fault proxy, killable servers, scenarios ---------------------------------------
# (chaos section)

# --- perf: locust profiles, baselines, performance gate, A/B -------------------------------
# (perf section)

# --- analytics: history, durations, flakiness, quarantine, replay ---------------------------
# (analytics section)

# --- impact selection and the report dashboard ----------------------------------------------
# (impact section)
