"""testkit's settings: declared once, read from the command line, ini file or environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from testkit.impact.map import DEFAULT_MAP

if TYPE_CHECKING:  # the infra package reads URL_SETTINGS; a runtime import would be a cycle
    from testkit.infra.protocol import Service


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: a `--testkit-<name>` flag, a `testkit_<name>` ini key, an `env` variable."""

    name: str
    env: str
    help: str
    metavar: str = "VALUE"

    @property
    def flag(self) -> str:
        return "--testkit-" + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        return "testkit_" + self.name


MODE = Setting("mode", "TEST_MODE", "Test mode: MOCK (default), GOLDEN or LIVE_SMOKE.", "MODE")
SEED = Setting(
    "seed", "TEST_SEED", "Seed for order, random, faker, factory-boy and hypothesis.", "INT"
)
ALLOW_HOSTS = Setting(
    "allow_hosts",
    "TESTKIT_ALLOW_HOSTS",
    "Comma-separated hosts or CIDR networks MOCK mode lets tests connect to, besides loopback.",
    "HOSTS",
)
REQUIRE_INFRA = Setting(
    "require_infra",
    "TESTKIT_REQUIRE_INFRA",
    "1: fail the session when a service is unavailable instead of skipping its tests.",
    "0|1",
)
POSTGRES_URL = Setting(
    "postgres_url", "TEST_POSTGRES_URL", "PostgreSQL URL to use instead of starting one.", "URL"
)
REDIS_URL = Setting(
    "redis_url", "TEST_REDIS_URL", "Redis URL to use instead of starting one.", "URL"
)
NATS_URL = Setting("nats_url", "TEST_NATS_URL", "NATS URL to use instead of starting one.", "URL")

# GOLDEN mode and the adversarial budget (testkit.golden, testkit.budget).
RECORD = Setting(
    "record", "RECORD", "1: in GOLDEN mode, re-record cassettes (credentials scrubbed).", "0|1"
)
CASSETTE_DIR = Setting(
    "cassette_dir", "TESTKIT_CASSETTE_DIR", "GOLDEN cassettes, relative to the rootdir.", "DIR"
)
ADVERSARIAL_BUDGET = Setting(
    "adversarial_budget",
    "TESTKIT_ADVERSARIAL_BUDGET",
    "Failure rate (percent) the adversarial tier may reach; [tool.testkit] otherwise.",
    "PERCENT",
)

# The chaos tier's fault proxy: a real Toxiproxy when set, the in-process one otherwise.
TOXIPROXY_URL = Setting(
    "toxiproxy_url",
    "TOXIPROXY_URL",
    "Toxiproxy API (e.g. http://127.0.0.1:8474) for the fault proxy; in-process when unset.",
    "URL",
)

# The random-fault chaos soak (testkit.chaos.soak; `make chaos-soak`).
CHAOS_ENABLED = Setting(
    "chaos_enabled",
    "CHAOS_ENABLED",
    "1: run the random-fault chaos soak (make chaos-soak sets it); skipped otherwise.",
    "0|1",
)
CHAOS_PROBABILITY = Setting(
    "chaos_probability",
    "CHAOS_PROBABILITY",
    "Chaos soak: chance per second that a random fault starts on a random dependency (0.2).",
    "0..1",
)
CHAOS_DURATION = Setting(
    "chaos_duration", "CHAOS_DURATION", "Chaos soak: seconds of load under faults (30).", "SECONDS"
)
CHAOS_SEED = Setting(
    "chaos_seed",
    "CHAOS_SEED",
    "Chaos soak: seed of the fault schedule (default: the session's seed); replays a soak.",
    "INT",
)

# Impact selection (testkit.impact.selection): record the map, or run only affected tests.
IMPACT_CHANGED = Setting(
    "impact_changed",
    "TESTKIT_IMPACT_CHANGED",
    "Comma-separated changed files: run only the tests the impact map says they affect.",
    "FILES",
)
IMPACT_BASE = Setting(
    "impact_base",
    "TESTKIT_IMPACT_BASE",
    "Git ref: run only the tests affected by the changes since it (committed or not).",
    "REF",
)
IMPACT_RECORD = Setting(
    "impact_record",
    "TESTKIT_IMPACT_RECORD",
    "1: record which tests execute which code (coverage.py) and write the impact map.",
    "0|1",
)
IMPACT_MAP = Setting(
    "impact_map",
    "TESTKIT_IMPACT_MAP",
    f"Impact map file, relative to the rootdir (default {DEFAULT_MAP}).",
    "FILE",
)

# Per-test time limit (testkit.timeouts, through pytest-timeout) and the run's metrics and
# spans (testkit.monitoring).
TIMEOUT = Setting(
    "timeout",
    "TEST_TIMEOUT",
    "Seconds one test may run before it fails (every tier, every xdist worker); 0: no limit. "
    "Default: [tool.testkit] test_timeout (300).",
    "SECONDS",
)
METRICS = Setting(
    "metrics",
    "TESTKIT_METRICS",
    "Prometheus metrics of the run, relative to the rootdir (default reports/metrics.prom); "
    "off: none.",
    "PATH|off",
)
PUSHGATEWAY_URL = Setting(
    "pushgateway_url",
    "TESTKIT_PUSHGATEWAY_URL",
    "Prometheus Pushgateway (e.g. http://127.0.0.1:9091) the run's metrics are pushed to.",
    "URL",
)
OTEL = Setting(
    "otel",
    "TESTKIT_OTEL",
    "1: export a span per run and per test over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT.",
    "0|1",
)

# The explicit-URL setting of each service (infrastructure source 1).
URL_SETTINGS: dict[Service, Setting] = {
    "postgres": POSTGRES_URL,
    "redis": REDIS_URL,
    "nats": NATS_URL,
}

# Test analytics (testkit.analytics): the run history and the quarantine file.
HISTORY = Setting(
    "history",
    "TESTKIT_HISTORY",
    "Run history file, relative to the rootdir (default .testkit/history.db); off: no history.",
    "PATH|off",
)
QUARANTINE = Setting(
    "quarantine",
    "TESTKIT_QUARANTINE",
    "Quarantine file, relative to the rootdir (default tests/quarantine.toml).",
    "FILE",
)

SETTINGS: tuple[Setting, ...] = (
    MODE,
    SEED,
    ALLOW_HOSTS,
    REQUIRE_INFRA,
    POSTGRES_URL,
    REDIS_URL,
    NATS_URL,
    RECORD,
    CASSETTE_DIR,
    ADVERSARIAL_BUDGET,
    HISTORY,
    QUARANTINE,
    IMPACT_CHANGED,
    IMPACT_BASE,
    IMPACT_RECORD,
    IMPACT_MAP,
    TOXIPROXY_URL,
    TIMEOUT,
    METRICS,
    PUSHGATEWAY_URL,
    OTEL,
    CHAOS_ENABLED,
    CHAOS_PROBABILITY,
    CHAOS_DURATION,
    CHAOS_SEED,
)


def add_settings(parser: pytest.Parser) -> None:
    """Declare each setting as a `--testkit-*` option and `testkit_*` ini key, one help text."""
    group = parser.getgroup("testkit", "testkit: tiers, modes, seeds and test infrastructure")
    for setting in SETTINGS:
        group.addoption(
            setting.flag,
            dest=setting.dest,
            default=None,
            metavar=setting.metavar,
            help=f"{setting.help} Also ini {setting.dest}, env {setting.env}.",
        )
        parser.addini(setting.dest, help=f"{setting.help} (env {setting.env})")


def get_setting(config: pytest.Config, setting: Setting) -> str | None:
    """The setting's value: command line, then ini, then environment; None when unset or empty."""
    cli_value = config.getoption(setting.dest, default=None)
    if isinstance(cli_value, str) and cli_value.strip():
        return cli_value.strip()
    ini_value = config.getini(setting.dest)
    if isinstance(ini_value, str) and ini_value.strip():
        return ini_value.strip()
    return env_setting(setting)


def env_setting(setting: Setting, environ: dict[str, str] | None = None) -> str | None:
    """The setting from the environment alone (what the CLI, which has no pytest config, uses)."""
    source = os.environ if environ is None else environ
    value = source.get(setting.env, "").strip()
    # Make exports unset variables as empty strings: treat empty as unset.
    return value or None


def parse_flag(setting: Setting, raw: str | None) -> bool:
    """A 0/1-style switch; anything else is a usage error naming the setting."""
    if raw is None:
        return False
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise pytest.UsageError(f"{setting.env} must be 1 or 0 (true/false, yes/no), got {raw!r}")
