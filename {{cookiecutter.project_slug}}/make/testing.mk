# make/testing.mk: every test target of the framework.
#
# Self-contained on purpose: an existing repository can copy this file, make/tiers.mk and
# packages/testkit, add `include make/testing.mk` to its Makefile, and get the same
# targets. It bootstraps uv when none is on PATH and rebuilds .venv only when a
# pyproject.toml or uv.lock changed.

# This file's directory (read before any other include changes MAKEFILE_LIST).
MAKE_DIR := $(dir $(lastword $(MAKEFILE_LIST)))
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

# Bytecode. The suite starts hundreds of Python processes (xdist workers, uvicorn servers, pytest
# sessions inside pytest, CLI runs); with PYTHONDONTWRITEBYTECODE set (many Docker images and CI
# shells set it) none can reuse a compiled module or pytest's rewritten asserts, and each one
# compiles every module it imports again: 6.5 s of CPU for a one-test pytest session instead of
# 1.8 s. So while it is set, the compiled files go to one ignored folder (PYTHONPYCACHEPREFIX,
# nothing beside the sources) and are reused. BYTECODE=off keeps the environment as it is.
BYTECODE ?= cache
ifeq ($(filter cache off,$(BYTECODE)),)
$(error BYTECODE=$(BYTECODE): allowed values: cache, off)
endif
ifeq ($(BYTECODE)$(if $(PYTHONDONTWRITEBYTECODE),set),cacheset)
PYTHONPYCACHEPREFIX ?= $(abspath .testkit/pycache)
export PYTHONPYCACHEPREFIX
unexport PYTHONDONTWRITEBYTECODE
endif

PYPROJECTS := $(wildcard pyproject.toml packages/*/pyproject.toml services/*/pyproject.toml uv.lock)

$(TOOLS_DIR)/bin/uv:
	$(PYTHON) -m venv $(TOOLS_DIR)
	$(TOOLS_DIR)/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed: $(PYPROJECTS) | $(UV)
	$(UV) sync
	@touch $@

.PHONY: install
install: $(VENV)/.installed ## Create or refresh .venv (uv sync) when a pyproject or uv.lock changed

# The lock resolves as of [tool.uv] exclude-newer in pyproject.toml (the date the template's CI
# tested). Upgrading is on purpose: move the date (DATE=<RFC 3339 UTC>, default now), relock every
# package to the newest release its range allows, then the fast tiers; the diff is printed.
LOCK_BEFORE := .testkit/uv.lock.before
FAST_TIERS = $(filter unit property,$(TIERS))

.PHONY: upgrade-deps
upgrade-deps: install ## Relock to the newest releases (DATE=<UTC time>, default now), print what changed, run the fast tiers
	@mkdir -p $(dir $(LOCK_BEFORE))
	cp uv.lock $(LOCK_BEFORE)
	$(VENV)/bin/testkit deps set-date $(if $(DATE),--date '$(DATE)')
	$(UV) lock --upgrade
	$(UV) sync
	@touch $(VENV)/.installed
	$(VENV)/bin/testkit deps diff $(LOCK_BEFORE) uv.lock
	$(MAKE) --no-print-directory $(addprefix test-,$(FAST_TIERS))
	@echo "upgrade-deps: review and commit pyproject.toml and uv.lock"

$(REPORTS_DIR):
	@mkdir -p $@

# pytest-xdist workers of make test, the tier targets (ONE_PROCESS_TIERS excepted: the list and
# the reason for each are in testkit.tiers) and the gates' test runs: auto (one per core) or a
# number; 0 runs every test in this process (for a debugger). worksteal: an idle worker takes
# queued tests from a busy one, so a few slow tests do not leave a core idle at the end.
TEST_WORKERS ?= auto
XDIST = -n $(TEST_WORKERS) --dist worksteal

# Seconds one test may run before it fails (pytest-timeout; every tier, every xdist worker); 0:
# no limit; unset: [tool.testkit] test_timeout (300). testkit reads it from the environment.
TEST_TIMEOUT ?=
export TEST_TIMEOUT

# make test is the feedback suite: every test but those marked slow (SLOW_MARKER, from
# make/tiers.mk: the chaos tier, testkit's own integration tests); test-impact and test-selective
# narrow it to what a change affects. test-all runs everything, as CI and test-all-enhanced do.
# An -m in ARGS replaces the default selection (ARGS='-m slow': only the slow tests).
FEEDBACK = -m 'not $(SLOW_MARKER)'

.PHONY: test
test: install | $(REPORTS_DIR) ## The feedback suite: every test not marked slow, on TEST_WORKERS xdist workers (default: one per core; 0: one process); JUnit XML in reports/
	$(PYTEST) $(XDIST) $(FEEDBACK) --junitxml=$(REPORTS_DIR)/$(JUNIT_REPORT) $(ARGS)

.PHONY: test-all
test-all: install | $(REPORTS_DIR) ## The whole suite, slow tests included (chaos, testkit's integration tests), on TEST_WORKERS workers
	$(PYTEST) $(XDIST) --junitxml=$(REPORTS_DIR)/$(JUNIT_REPORT) $(ARGS)

# One target per tier folder that exists: test-unit, test-integration, ... A tier's marker is
# added by testkit from the folder, so `-m <tier>` selects exactly that folder's tests.
# The tier names and descriptions: make/tiers.mk, written by `testkit tiers --make` (one list).
include $(MAKE_DIR)tiers.mk
# The report file names: make/report-files.mk, written by `testkit report-files --make`.
include $(MAKE_DIR)report-files.mk
# Every pytest run writes its test metrics (Prometheus text) here, and pushes them to
# TESTKIT_PUSHGATEWAY_URL when set; `testkit gates` adds the verdicts (docs/testing.md).
TESTKIT_METRICS ?= $(REPORTS_DIR)/$(METRICS_REPORT)
export TESTKIT_METRICS
# The tiers this project has a folder for, in that order.
TIERS := $(foreach tier,$(KNOWN_TIERS),$(if $(wildcard tests/$(tier)/),$(tier)))

# Each tier target collects only its own folders (tests/<tier>, packages/*/tests/<tier>), so a
# module that fails to import breaks its tier and `make test`, not every tier.
tier_paths = $(wildcard tests/$(1) packages/*/tests/$(1))
define tier_target
.PHONY: test-$(1)
test-$(1): install
	$$(PYTEST) $$(if $$(filter $$(ONE_PROCESS_TIERS),$(1)),,$$(XDIST)) -m $(1) \
		$$(call tier_paths,$(1)) $$(ARGS)
endef
$(foreach tier,$(TIERS),$(eval $(call tier_target,$(tier))))

.PHONY: report-files-fragment
report-files-fragment: install ## Rewrite make/report-files.mk from testkit's report paths (testkit report-files --make)
	$(VENV)/bin/testkit report-files --make > $(MAKE_DIR)report-files.mk

.PHONY: tiers-fragment
tiers-fragment: install ## Rewrite make/tiers.mk from testkit's list of tiers (testkit tiers --make)
	$(VENV)/bin/testkit tiers --make > $(MAKE_DIR)tiers.mk

.PHONY: help-tiers
help-tiers:
	@$(foreach tier,$(TIERS),printf "  %-20s %s\n" "test-$(tier)" "$(TIER_HELP_$(tier))";)

.PHONY: test-coverage
test-coverage: install | $(REPORTS_DIR) ## Whole suite with coverage (XML + HTML in reports/)
	$(PYTEST) --cov --cov-report=term --cov-report=xml:$(REPORTS_DIR)/$(COVERAGE_REPORT) \
		--cov-report=html:$(REPORTS_DIR)/$(COVERAGE_HTML_REPORT) --junitxml=$(REPORTS_DIR)/$(JUNIT_REPORT) $(ARGS)

# CI shards: pytest-split balances SHARDS slices by the durations test-durations recorded
# (an even split by count until there are some).
SHARDS ?= 2
SHARD ?= 1
DURATIONS_FILE ?= .testkit/test-durations.json

.PHONY: test-shard
test-shard: install | $(REPORTS_DIR) ## Run slice SHARD of SHARDS, balanced by recorded durations (pytest-split)
	$(PYTEST) --splits $(SHARDS) --group $(SHARD) --splitting-algorithm least_duration \
		--durations-path $(DURATIONS_FILE) --junitxml=$(REPORTS_DIR)/junit-shard-$(SHARD).xml $(ARGS)

.PHONY: test-durations
test-durations: install ## Run the suite and record each test's duration for test-shard
	@mkdir -p $(dir $(DURATIONS_FILE))
	$(PYTEST) --store-durations --durations-path $(DURATIONS_FILE) $(ARGS)

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

.PHONY: reset-test-db
reset-test-db: install ## Drop the test databases and Redis keys killed runs left on the servers
	$(VENV)/bin/testkit infra --reset

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

.PHONY: generate-fixtures
generate-fixtures: install ## Seeded demo tenants, API keys and documents for `make serve` (TEST_SEED; ARGS="--tenants 5")
	cd $(SERVICE_DIR) && $(abspath $(VENV))/bin/alembic upgrade head
	PYTHONPATH=tests $(VENV)/bin/python -m _fixtures.generate $(ARGS)

.PHONY: contract-snapshot
contract-snapshot: install ## Rewrite the committed OpenAPI snapshot from the live service (on purpose)
	CONTRACT_SNAPSHOT_UPDATE=1 $(PYTEST) tests/contract/test_openapi_snapshot.py $(ARGS)
	@echo "Rewrote $(CONTRACT_SNAPSHOT); review the diff and commit it with the API change."

# Dead letters of the event consumers (dead_letters.py), read from APP_DATABASE_URL.
.PHONY: dlq-list
dlq-list: install ## Show the dead letters the event consumers gave up on: error, attempts, headers (ARGS="--all --limit 20")
	$(VENV)/bin/python -m $(SERVICE_PACKAGE).dead_letters_cli list $(ARGS)

.PHONY: dlq-replay
dlq-replay: install ## Re-drive the pending dead letters through their consumer after a fix, each once (ARGS="--id 3")
	$(VENV)/bin/python -m $(SERVICE_PACKAGE).dead_letters_cli replay $(ARGS)
endif

# --- adversarial budget (helper ASK) -------------------------------------------------------
.PHONY: adversarial-gate
adversarial-gate: install | $(REPORTS_DIR) ## Adversarial tier vs adversarial_budget_percent (reports/adversarial.json)
	$(PYTEST) $(XDIST) -m adversarial $(call tier_paths,adversarial) $(ARGS)

# --- security gate (helper INGEST) ---------------------------------------------------------
.PHONY: security-gate
security-gate: install | $(REPORTS_DIR) ## The security tier must pass: authn/authz, cross-tenant, injection, SSRF (reports/security.xml)
	$(PYTEST) $(XDIST) -m security $(call tier_paths,security) --junitxml=$(REPORTS_DIR)/$(SECURITY_REPORT) $(ARGS)

# --- chaos: fault proxy, killable servers, scenarios ---------------------------------------
# A scenario is a file: tests/chaos/test_<name>.py is scenario <name>. The list is read from
# the folder, so a new scenario file is runnable by name with no change here.
CHAOS_DIR := tests/chaos
CHAOS_SCENARIOS := $(sort $(patsubst $(CHAOS_DIR)/test_%.py,%,$(wildcard $(CHAOS_DIR)/test_*.py)))

.PHONY: chaos
chaos: install | $(REPORTS_DIR) ## Every chaos scenario: faults injected, recovery and no data loss checked (reports/chaos.xml)
	$(PYTEST) $(XDIST) -m chaos $(CHAOS_DIR) --junitxml=$(REPORTS_DIR)/$(CHAOS_REPORT) $(ARGS)

.PHONY: chaos-scenario
chaos-scenario: install ## One chaos scenario alone: make chaos-scenario SCENARIO=<name> (a wrong name lists them)
	$(if $(and $(SCENARIO),$(filter $(SCENARIO),$(CHAOS_SCENARIOS))),,$(error SCENARIO must be one of: $(or $(CHAOS_SCENARIOS),(none in $(CHAOS_DIR))); got '$(SCENARIO)'))
	$(PYTEST) -m chaos $(CHAOS_DIR)/test_$(SCENARIO).py $(ARGS)

# The random-fault soak (tests/chaos/soak; testkit.chaos.soak): under a steady load, each second a
# random fault starts on Postgres, Redis or NATS with probability CHAOS_PROBABILITY (0.2), for
# CHAOS_DURATION seconds (30); CHAOS_SEED replays a schedule (default: the session's seed, printed
# with the summary). Outside `make chaos-soak` the soak is skipped (CHAOS_ENABLED unset).
CHAOS_PROBABILITY ?=
CHAOS_DURATION ?=
CHAOS_SEED ?=

.PHONY: chaos-soak
chaos-soak: install | $(REPORTS_DIR) ## Random faults under load (CHAOS_PROBABILITY, CHAOS_DURATION, CHAOS_SEED), then the invariants; summary in reports/
	$(if $(wildcard $(CHAOS_DIR)/soak),,$(error the chaos soak loads the reference service: $(CHAOS_DIR)/soak is not in this project))
	CHAOS_ENABLED=1 CHAOS_PROBABILITY='$(CHAOS_PROBABILITY)' CHAOS_DURATION='$(CHAOS_DURATION)' \
		CHAOS_SEED='$(CHAOS_SEED)' $(PYTEST) -m chaos $(CHAOS_DIR)/soak $(ARGS)

# --- perf: locust profiles, baselines, performance gate, A/B -------------------------------
# `testkit perf` does the work (packages/testkit/src/testkit/perf): it starts the service in a
# real uvicorn process against the resolved infrastructure (TEST_*_URL, else local binaries) on a
# fresh migrated database, or loads TEST_BASE_URL (with TEST_ADMIN_TOKEN), runs locust, and
# computes exact percentiles. Without a service it says what it needs instead.
PROFILE ?= smoke
PERF_WORKERS ?= 0
BASE ?=
# The revision the performance gate loads beside the working tree (CI: the merge base);
# unset, the gate compares with the recorded baseline, on the baseline's machine only.
PERF_BASE ?= $(BASE)
PERF_ARGS ?=
PERF_MICRO_DIR ?= perf/baselines/micro
PERF_MICRO_LIMIT ?= median:25%
# The answer provider's cost per answer (USD) that fails perf and the gate; unset: [tool.testkit]
# perf_cost_ceiling. The service reports the cost on /metrics (testkit.perf.cost).
PERF_COST_CEILING ?=
# The server's environment; testkit fills in {postgres} {redis} {nats} {prefix} {secret}.
PERF_SERVER_ENV ?= APP_ENV=test APP_DATABASE_URL={postgres} APP_REDIS_URL={redis} \
	APP_REDIS_KEY_PREFIX={prefix}: APP_NATS_URL={nats} APP_NATS_SUBJECT_PREFIX={prefix} \
	APP_ADMIN_TOKEN={secret} APP_API_KEY_PEPPER=perf-pepper-{secret} \
	APP_RATE_LIMIT_PER_MINUTE=100000000
PERF_TESTKIT := $(VENV)/bin/testkit perf
PERF_COMMON = --profile '$(PROFILE)' --workers '$(PERF_WORKERS)' \
	$(if $(PERF_COST_CEILING),--cost-ceiling '$(PERF_COST_CEILING)') \
	$(if $(SERVICE_PACKAGE),--app $(SERVICE_PACKAGE).main:create_app --service-dir $(SERVICE_DIR) \
	--migrate '$(abspath $(VENV))/bin/alembic upgrade head' --server-env '$(PERF_SERVER_ENV)' \
	--admin-token-env APP_ADMIN_TOKEN --drop-env-prefix APP_ --health-path /readyz)

.PHONY: perf
perf: install ## Load test (PROFILE=smoke|baseline|stress|spike, PERF_SCALE, PERF_WORKERS=N) -> locust-reports/
	$(PERF_TESTKIT) run $(PERF_COMMON) $(PERF_ARGS)

.PHONY: perf-baseline
perf-baseline: install ## Record perf/baselines/<profile>.json: repeated rounds, machine and commit
	$(PERF_TESTKIT) baseline $(PERF_COMMON) $(PERF_ARGS)

.PHONY: performance-gate
performance-gate: install | $(REPORTS_DIR) ## Limits AND significance (exit 1 on regression): vs the baseline on its machine, else (or PERF_BASE=<ref>) perf-ab
	$(PERF_TESTKIT) gate $(PERF_COMMON) $(if $(PERF_BASE),--base '$(PERF_BASE)') $(PERF_ARGS)

.PHONY: perf-ab
perf-ab: install | $(REPORTS_DIR) ## BASE=<git ref> vs the working tree: both loaded at once, paired rounds and statistics
	$(PERF_TESTKIT) ab --base '$(BASE)' $(PERF_COMMON) $(PERF_ARGS)

.PHONY: perf-trends
perf-trends: install ## Change points in the recorded perf runs and test durations, with commit ranges
	$(PERF_TESTKIT) trends $(PERF_ARGS)

.PHONY: perf-micro
perf-micro: install ## Micro-benchmarks (pytest-benchmark) vs the saved ones: fail beyond PERF_MICRO_LIMIT
	$(PYTEST) tests/perf -p no:randomly -p no:cacheprovider --benchmark-enable --benchmark-only \
		--benchmark-storage='file://$(PERF_MICRO_DIR)' \
		$(if $(wildcard $(PERF_MICRO_DIR)/*/*.json),--benchmark-compare \
		--benchmark-compare-fail='$(PERF_MICRO_LIMIT)') $(ARGS)

.PHONY: perf-micro-baseline
perf-micro-baseline: install ## Save the micro-benchmarks under perf/baselines/micro (what perf-micro compares with)
	$(PYTEST) tests/perf -p no:randomly --benchmark-enable --benchmark-only \
		--benchmark-storage='file://$(PERF_MICRO_DIR)' --benchmark-save=baseline $(ARGS)

.PHONY: perf-instructions
perf-instructions: install | $(REPORTS_DIR) ## Instructions per call of the hot paths (callgrind) vs BASE=<ref> or the baseline: fail beyond perf_instructions_pct
	$(VENV)/bin/testkit perf instructions $(if $(BASE),--base '$(BASE)') \
		--report $(REPORTS_DIR)/$(PERF_INSTRUCTIONS_REPORT) $(ARGS)

.PHONY: perf-instructions-baseline
perf-instructions-baseline: install ## Record perf/baselines/instructions.json (what perf-instructions compares with without BASE)
	$(VENV)/bin/testkit perf instructions-baseline $(ARGS)

# --- analytics: history, durations, flakiness, quarantine, replay ---------------------------
# Every pytest run appends to .testkit/history.db (TESTKIT_HISTORY=off: no recording).
RUNS ?= 30
ALL ?=
RUN ?=
ANALYTICS_TESTKIT ?= $(VENV)/bin/testkit

.PHONY: history
history: install ## Recent test runs from .testkit/history.db (RUN=<id>: that run's results)
	$(ANALYTICS_TESTKIT) history $(if $(RUN),--run "$(RUN)")

.PHONY: durations
durations: install ## Duration regressions of the latest run, and the slowest tests
	$(ANALYTICS_TESTKIT) durations

.PHONY: flakiness-report
flakiness-report: install | $(REPORTS_DIR) ## Rerun suspects RUNS times (default 30; ALL=1: every test); reports/flakiness.md + .json
	$(ANALYTICS_TESTKIT) flaky report --runs $(RUNS) $(if $(filter 1 yes true,$(ALL)),--all) --output-dir $(REPORTS_DIR) $(if $(ARGS),-- $(ARGS))

.PHONY: flakiness-gate
flakiness-gate: install | $(REPORTS_DIR) ## Fail on an expired or unknown quarantine entry, or a flaky rate over flaky_budget_percent
	rm -f $(REPORTS_DIR)/$(FLAKINESS_GATE_REPORT)
	$(ANALYTICS_TESTKIT) flaky gate --output $(REPORTS_DIR)/$(FLAKINESS_GATE_REPORT)

# Order-dependent flakes: TEST fails after another test left state behind. find-polluter bisects
# the tests that ran before TEST (in RUN's order, else the newest run TEST failed in, else the
# collection order) with detect-test-pollution and names the polluter.
TEST ?=

.PHONY: find-polluter
find-polluter: install ## Bisect the tests that ran before TEST=<node id> (RUN=<id>: in that run's order) and name the one that makes it fail
	@test -n "$(TEST)" || { echo "find-polluter: give TEST=<node id> of the failing test" >&2; exit 2; }
	$(ANALYTICS_TESTKIT) find-polluter '$(TEST)' $(if $(RUN),--run '$(RUN)') $(if $(ARGS),-- $(ARGS))

# Early flake detection: the tests new or changed since BASE (default DIFF_BASE) run
# FLAKINESS_NEW_RUNS times in random orders (default [tool.testkit] flakiness_new_runs), then alone.
FLAKINESS_NEW_RUNS ?=

.PHONY: flakiness-new
flakiness-new: install ## Run the tests new or changed since BASE (default DIFF_BASE) FLAKINESS_NEW_RUNS times in random orders and alone; fail naming each unstable one
	$(ANALYTICS_TESTKIT) flakiness-new --base '$(or $(BASE),$(DIFF_BASE))' \
		$(if $(FLAKINESS_NEW_RUNS),--runs '$(FLAKINESS_NEW_RUNS)') $(if $(ARGS),-- $(ARGS))

.PHONY: quarantine-list
quarantine-list: install ## List tests/quarantine.toml: test, owner, expiry, reason
	$(ANALYTICS_TESTKIT) quarantine

.PHONY: replay
replay: install ## Re-run a recorded run's tests with its seed, order and mode (RUN=<run id>)
	@test -n "$(RUN)" || { $(ANALYTICS_TESTKIT) history --limit 10; echo "replay: give RUN=<run id> (recent runs above)" >&2; exit 2; }
	$(ANALYTICS_TESTKIT) replay "$(RUN)" $(if $(ARGS),-- $(ARGS))

# --- impact selection and the report dashboard ----------------------------------------------
# IMPACT_MAP: another map file (default: testkit's, `testkit options` shows it).
IMPACT_MAP ?=
IMPACT_MAP_ENV = $(if $(IMPACT_MAP),TESTKIT_IMPACT_MAP=$(IMPACT_MAP))
CHANGED_FILES ?=

.PHONY: impact-map
impact-map: install ## Record which tests execute which code and read which data files -> the impact map (.testkit/)
	$(IMPACT_MAP_ENV) $(PYTEST) --testkit-impact-record=1 -p no:randomly $(ARGS)

.PHONY: test-impact
test-impact: install | $(REPORTS_DIR) ## Run only the tests of the feedback suite CHANGED_FILES=a.py,b.py affect (impact map)
	@test -n "$(CHANGED_FILES)" || { echo "test-impact needs CHANGED_FILES=path[,path...]"; exit 2; }
	$(IMPACT_MAP_ENV) $(PYTEST) $(XDIST) $(FEEDBACK) --testkit-impact-changed="$(CHANGED_FILES)" \
		--junitxml=$(REPORTS_DIR)/$(JUNIT_REPORT) $(ARGS)

.PHONY: test-selective
test-selective: install | $(REPORTS_DIR) ## Run only the tests of the feedback suite affected by the changes since BASE (default HEAD)
	$(IMPACT_MAP_ENV) $(PYTEST) $(XDIST) $(FEEDBACK) --testkit-impact-base="$(or $(BASE),HEAD)" \
		--junitxml=$(REPORTS_DIR)/$(JUNIT_REPORT) $(ARGS)

.PHONY: report
report: install | $(REPORTS_DIR) ## Build reports/index.html: duration trends, flaky tests, coverage, perf vs baseline
	$(VENV)/bin/testkit report --output $(REPORTS_DIR)/$(DASHBOARD_REPORT)

# --- quality gates and test-all-enhanced ---
# Producers write the reports (security.xml, adversarial.json, coverage.xml, diff-coverage.json,
# flakiness-gate.json, performance-gate.json, mutation.json in reports/); `testkit gates` judges them and prints
# one table (also reports/gates.json, and the GitHub step summary in Actions). A failing producer
# never stops the others: its gate's row says what failed. A report that is missing fails its
# gate, so each recipe deletes the reports it is about to produce first (no stale pass).
TESTKIT ?= $(VENV)/bin/testkit
COVERAGE ?= $(VENV)/bin/coverage
DIFF_BASE ?= origin/main
# pytest under coverage.py rather than pytest-cov: coverage starts before pytest imports
# testkit's plugin (so its module-level lines count), and [tool.coverage.run] patch = subprocess
# measures the processes the tests start (the service under uvicorn, xdist workers) too.
COVERAGE_PYTEST = $(abspath $(COVERAGE)) run -m pytest
GATE_REPORTS := $(addprefix $(REPORTS_DIR)/,$(SECURITY_REPORT) $(ADVERSARIAL_REPORT) \
	$(FLAKINESS_GATE_REPORT) $(PERFORMANCE_GATE_REPORT) $(COVERAGE_REPORT) $(DIFF_COVERAGE_REPORT) \
	$(MUTATION_REPORT) $(GATES_REPORT))
SUBMAKE = $(MAKE) --no-print-directory
# The gates this project judges (`testkit gates` names); performance needs a service to load.
QUALITY_GATES ?= security flakiness quarantine $(if $(SERVICE_PACKAGE),performance) coverage \
	diff-coverage adversarial mutation

.PHONY: coverage-report
coverage-report: install | $(REPORTS_DIR) ## Combine the coverage data of the measured runs into reports/coverage.xml (+ HTML)
	rm -f $(REPORTS_DIR)/$(COVERAGE_REPORT)
	$(COVERAGE) combine --quiet
	$(COVERAGE) xml --quiet -o $(REPORTS_DIR)/$(COVERAGE_REPORT)
	$(COVERAGE) html --quiet -d $(REPORTS_DIR)/$(COVERAGE_HTML_REPORT)

.PHONY: diff-coverage
diff-coverage: install | $(REPORTS_DIR) ## Coverage of the lines changed since DIFF_BASE (origin/main, else HEAD): diff-cover -> reports/diff-coverage.json
	$(TESTKIT) diff-coverage --base '$(DIFF_BASE)' --coverage $(REPORTS_DIR)/$(COVERAGE_REPORT) \
		--output $(REPORTS_DIR)/$(DIFF_COVERAGE_REPORT)

# The mutation gate: mutmut mutates the functions changed since BASE (default DIFF_BASE) and
# scores the mutants on the changed lines; MUTATION_THRESHOLD overrides [tool.testkit]
# mutation_threshold. mutmut runs in .testkit/mutation; the last run's mutants stay there.
# MUTATION_TESTS chooses the test paths that decide (default: the unit and property tiers).
MUTATION_THRESHOLD ?=
MUTATION_TESTS ?=
MUTATION_ARGS = $(if $(MUTATION_THRESHOLD),--threshold '$(MUTATION_THRESHOLD)') \
	$(if $(MUTATION_TESTS),--tests $(MUTATION_TESTS)) --output $(REPORTS_DIR)/$(MUTATION_REPORT)

.PHONY: mutation-gate
mutation-gate: install | $(REPORTS_DIR) ## Mutate the lines changed since BASE (default DIFF_BASE) with mutmut; fail when fewer than MUTATION_THRESHOLD% are killed
	$(TESTKIT) mutation --base '$(or $(BASE),$(DIFF_BASE))' $(MUTATION_ARGS)

.PHONY: mutation-score
mutation-score: install | $(REPORTS_DIR) ## Mutation score of every service function (nightly; minutes), recorded in the history for the dashboard
	$(TESTKIT) mutation --all $(MUTATION_ARGS)

.PHONY: coverage-gate
coverage-gate: install | $(REPORTS_DIR) ## Suite under coverage (ARGS selects, e.g. -m unit), then coverage and diff coverage >= coverage_threshold
	$(COVERAGE) erase
	rm -f $(REPORTS_DIR)/$(COVERAGE_REPORT) $(REPORTS_DIR)/$(DIFF_COVERAGE_REPORT)
	status=0; $(COVERAGE_PYTEST) --junitxml=$(REPORTS_DIR)/$(JUNIT_REPORT) $(ARGS) || status=$$?; \
	$(SUBMAKE) coverage-report diff-coverage || true; \
	$(TESTKIT) gates coverage diff-coverage || exit 1; \
	if [ "$$status" -ne 0 ]; then echo "coverage-gate: the measured test run failed (pytest exit $$status)" >&2; exit 1; fi

.PHONY: gates-verdict
gates-verdict: install | $(REPORTS_DIR) ## Judge every gate from the runs already made: flakiness check, coverage, diff coverage, mutants of the changed lines, then the table
	-$(SUBMAKE) flakiness-gate
	-$(SUBMAKE) coverage-report
	-$(SUBMAKE) diff-coverage
	-$(SUBMAKE) mutation-gate
	$(TESTKIT) gates $(QUALITY_GATES)

.PHONY: quality-gates
quality-gates: install | $(REPORTS_DIR) ## Run every gate (security, flakiness, quarantine, performance, coverage, diff coverage, adversarial, mutation); exit 1 if any fails
	rm -f $(GATE_REPORTS)
	$(COVERAGE) erase
	-$(SUBMAKE) security-gate PYTEST='$(COVERAGE_PYTEST)'
	-$(SUBMAKE) adversarial-gate PYTEST='$(COVERAGE_PYTEST)'
	-$(COVERAGE_PYTEST) -m 'not security and not adversarial' $(ARGS)
	$(if $(SERVICE_PACKAGE),-$(SUBMAKE) performance-gate)
	$(SUBMAKE) gates-verdict

# test-all-enhanced: each tier once, then the gates. The tiers without a step of their own share
# one pytest run (test-tiers: one start-up, one pool of xdist workers, one coverage session, the
# summary breaks it down by tier from its JUnit XML); the others run in this order (those this
# project has). Security and adversarial run through their gate targets (the same tests, plus the
# reports their gates read); perf runs as the performance gate's smoke rounds. Every other step
# runs under coverage (perf excepted: a tracer would skew its timings), so the coverage gate
# judges these same runs instead of running the suite again.
ENHANCED_ORDER := unit property infrastructure contract integration e2e rag realtime security \
	adversarial observability chaos perf
ENHANCED_TARGET_security := security-gate
ENHANCED_TARGET_adversarial := adversarial-gate
ENHANCED_TARGET_chaos := chaos
ENHANCED_TARGET_perf := $(if $(SERVICE_PACKAGE),performance-gate,test-perf)
ENHANCED_TIERS := $(filter $(TIERS),$(ENHANCED_ORDER))
ENHANCED_SHARED := $(foreach tier,$(ENHANCED_TIERS),$(if $(ENHANCED_TARGET_$(tier)),,$(tier)))
ENHANCED_PLAN := $(if $(ENHANCED_SHARED),tiers:test-tiers) \
	$(foreach tier,$(ENHANCED_TIERS),$(if $(ENHANCED_TARGET_$(tier)),$(tier):$(ENHANCED_TARGET_$(tier)))) \
	quality-gates:gates-verdict
ENHANCED_SUMMARY := $(REPORTS_DIR)/$(ENHANCED_SUMMARY_REPORT)
TIERS_JUNIT := $(REPORTS_DIR)/$(TIERS_JUNIT_REPORT)
TIER_LIST ?= $(ENHANCED_SHARED)
space := $(subst ,, )

.PHONY: test-tiers
test-tiers: install | $(REPORTS_DIR) ## Several tiers in one pytest run on TEST_WORKERS workers (TIER_LIST="unit e2e ...", default: those test-all-enhanced runs together); JUnit XML in reports/
	$(if $(strip $(TIER_LIST)),,$(error TIER_LIST is empty: allowed values: $(TIERS)))
	$(if $(filter-out $(TIERS),$(TIER_LIST)),$(error TIER_LIST: unknown tier(s) $(filter-out $(TIERS),$(TIER_LIST)): allowed values: $(TIERS)))
	rm -f $(TIERS_JUNIT)
	$(PYTEST) $(XDIST) -m '$(subst $(space), or ,$(strip $(TIER_LIST)))' \
		$(foreach tier,$(TIER_LIST),$(call tier_paths,$(tier))) --junitxml=$(TIERS_JUNIT) $(ARGS)

.PHONY: test-all-enhanced
test-all-enhanced: install | $(REPORTS_DIR) ## Every tier (those without a gate step in one run), then the quality gates; a table of steps and tiers (result, duration); exit 1 if any failed
	rm -f $(GATE_REPORTS) $(ENHANCED_SUMMARY) $(TIERS_JUNIT)
	$(COVERAGE) erase
	@for step in $(ENHANCED_PLAN); do \
		name=$${step%%:*}; target=$${step#*:}; \
		case $$target in performance-gate|test-perf|gates-verdict) pytest='$(PYTEST)';; \
			*) pytest='$(COVERAGE_PYTEST)';; esac; \
		echo "==> test-all-enhanced: $$name (make $$target)"; start=$$(date +%s); \
		if $(SUBMAKE) $$target PYTEST="$$pytest"; then result=PASS; else result=FAIL; fi; \
		printf '%s\t%s\t%s\t%s\n' "$$name" "$$target" "$$result" "$$(($$(date +%s) - start))" \
			>> $(ENHANCED_SUMMARY); \
	done
	@echo
	@$(TESTKIT) enhanced-summary --steps $(ENHANCED_SUMMARY) --junit $(TIERS_JUNIT) \
		--tiers $(ENHANCED_SHARED)

# --- the seeds' target names: aliases where a target already does the work; the new behaviour
# lives in testkit (fix-quarantined, replay-batch: testkit.analytics; replay-frozen:
# testkit.replay_frozen; validate-test-data: tests/infrastructure/test_test_data.py).
.PHONY: test-performance
test-performance: ## The performance gate (alias of performance-gate; test-perf without a service)
	$(SUBMAKE) $(if $(SERVICE_PACKAGE),performance-gate,test-perf)

.PHONY: test-contracts
test-contracts: ## Alias of test-contract: OpenAPI breaking changes, schemathesis, consumer contracts
	$(SUBMAKE) test-contract

SCHEMA_TESTS = $(wildcard tests/contract/test_schemathesis.py tests/contract/test_openapi_snapshot.py) \
	tests/infrastructure/test_test_data.py

.PHONY: test-schemas
test-schemas: install ## Schemathesis against the live app's OpenAPI, its snapshot, and the committed data files against their schemas
	$(PYTEST) $(SCHEMA_TESTS) $(ARGS)

.PHONY: test-complete
test-complete: ## Alias of test-all-enhanced: every tier in order, then the quality gates
	$(SUBMAKE) test-all-enhanced

FIX_RUNS ?= 10

.PHONY: fix-quarantined
fix-quarantined: install ## Re-run the quarantined tests FIX_RUNS times (default 10); un-quarantine those that passed every run
	$(ANALYTICS_TESTKIT) fix-quarantined --runs $(FIX_RUNS) $(if $(ARGS),-- $(ARGS))

.PHONY: impact-analysis
impact-analysis: install ## The tests the impact map selects for CHANGED_FILES=a.py,b.py or the changes since BASE (default HEAD), not run
	$(ANALYTICS_TESTKIT) impact $(if $(IMPACT_MAP),--map $(IMPACT_MAP)) select \
		$(if $(CHANGED_FILES),--changed "$(CHANGED_FILES)",--base "$(or $(BASE),HEAD)") --list

.PHONY: validate-test-data
validate-test-data: install ## Factories, fixture and golden files, cassettes: validated against the current schemas
	$(PYTEST) tests/infrastructure/test_test_data.py $(ARGS)

# The provider and model a replay freezes; unset: the version the recordings were made with
# (testkit.cassettes), which tests/infrastructure/test_test_data.py keeps equal to the service's.
REPLAY_PROVIDER ?=
REPLAY_MODEL ?=

.PHONY: replay-frozen
replay-frozen: install ## Replay the cassettes (GOLDEN) at the recorded or given REPLAY_PROVIDER/REPLAY_MODEL; a recording of another version stops it
	$(VENV)/bin/testkit replay-frozen $(if $(REPLAY_PROVIDER),--provider '$(REPLAY_PROVIDER)') \
		$(if $(REPLAY_MODEL),--model '$(REPLAY_MODEL)') $(if $(ARGS),-- $(ARGS))

RUNS_FILE ?=

.PHONY: replay-batch
replay-batch: install ## Replay every recorded run RUNS_FILE lists (one run id a line): pass/fail per run
	$(ANALYTICS_TESTKIT) replay-batch '$(RUNS_FILE)' $(if $(ARGS),-- $(ARGS))
