"""`[tool.testkit]` in pyproject.toml: the one schema (key, kind, range, default, description)
and the one reader, `read_project_settings`, that every gate, command and plugin part uses.

A key the schema does not know is refused (a typo would otherwise leave a default silently in
force), and so is a value outside its range; each error is one line naming the key, the file and
what is allowed. The template's pre-generation hook checks the cookiecutter answers that become
these keys; a template test compares its ranges with this table.

Standard library only, and no import of the rest of testkit: the template's tests load this file
on its own.
"""

from __future__ import annotations

import argparse
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

SECTION = "[tool.testkit]"
DEFAULT_ALWAYS_RUN = (
    "**/migrations/**",
    "*.sql",
    "tests/_fixtures/**",
    "conftest.py",
    "pyproject.toml",
    "uv.lock",
    "alembic.ini",
    "pytest.ini",
    "setup.cfg",
    "tox.ini",
    # How the tests are run: make's variables and recipes, the CI jobs.
    "Makefile",
    "*.mk",
    ".github/workflows/**",
)
DEFAULT_IGNORE = ("*.md", "docs/**", "LICENSE")
DEFAULT_IMPACT_SOURCES = ("packages/*/src", "packages/*/tests", "services/*/src", "tests")


@dataclass(frozen=True, slots=True)
class ProjectSetting:
    """One key: a percentage in (low, high] or [low, high], or a list of glob patterns."""

    key: str
    kind: Literal["percent", "seconds", "usd", "count", "globs"]
    default: float | tuple[str, ...]
    description: str
    low: float = 0.0
    high: float = 100.0
    low_included: bool = True

    @property
    def allowed(self) -> str:
        if self.kind == "globs":
            return "a list of glob strings"
        if self.kind == "count":
            return f"a whole number from {self.low:g} to {self.high:g}"
        low = f"from {self.low:g}" if self.low_included else f"above {self.low:g}"
        return f"a number {low} to {self.high:g}"

    def accepts(self, value: float) -> bool:
        above_low = value >= self.low if self.low_included else value > self.low
        return above_low and value <= self.high


def _limit(key: str, default: float, description: str, high: float = 100.0) -> ProjectSetting:
    """A gate limit that must be above 0 (a limit of 0 would fail every run)."""
    return ProjectSetting(key, "percent", default, description, 0.0, high, low_included=False)


SCHEMA: tuple[ProjectSetting, ...] = (
    ProjectSetting("coverage_threshold", "percent", 80.0, "coverage gate: line coverage floor"),
    ProjectSetting("flaky_budget_percent", "percent", 5.0, "flakiness gate: flaky tests allowed"),
    ProjectSetting(
        "adversarial_budget_percent", "percent", 15.0, "adversarial tier: failure budget"
    ),
    ProjectSetting(
        "mutation_threshold", "percent", 80.0, "mutation gate: changed-line mutants killed"
    ),
    _limit("perf_p50_pct", 10.0, "performance gate: p50 may grow by", high=1000.0),
    _limit("perf_p95_pct", 15.0, "performance gate: p95 may grow by", high=1000.0),
    _limit("perf_p99_pct", 20.0, "performance gate: p99 may grow by", high=1000.0),
    _limit("perf_throughput_pct", 5.0, "performance gate: throughput may drop by"),
    _limit("perf_instructions_pct", 2.0, "instruction gate: instructions per call may grow by"),
    ProjectSetting(
        "perf_cost_ceiling",
        "usd",
        0.01,
        "performance gate: answer provider cost per answer, USD (PERF_COST_CEILING overrides)",
        0.0,
        100.0,
    ),
    ProjectSetting(
        "test_timeout",
        "seconds",
        300.0,
        "seconds one test may run (TEST_TIMEOUT overrides); 0: no limit",
        0.0,
        86400.0,
    ),
    ProjectSetting(
        "flakiness_new_runs",
        "count",
        10.0,
        "flakiness-new: random-order runs of each new test (FLAKINESS_NEW_RUNS overrides)",
        1.0,
        1000.0,
    ),
    ProjectSetting(
        "impact_always_run", "globs", DEFAULT_ALWAYS_RUN, "impact: a change here runs everything"
    ),
    ProjectSetting("impact_ignore", "globs", DEFAULT_IGNORE, "impact: changes here run nothing"),
    ProjectSetting(
        "impact_sources", "globs", DEFAULT_IMPACT_SOURCES, "impact map: the roots to measure"
    ),
)
BY_KEY: Mapping[str, ProjectSetting] = {setting.key: setting for setting in SCHEMA}


class ProjectSettingsError(ValueError):
    """pyproject.toml cannot be read, or a key of [tool.testkit] is unknown or out of range."""


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    """Every key's value, and where it came from ("default" or the pyproject.toml's path)."""

    values: Mapping[str, float | tuple[str, ...]]
    sources: Mapping[str, str]

    def number(self, key: str) -> float:
        value = self.values[key]
        assert isinstance(value, float), key  # the schema's kind, checked when read
        return value

    def globs(self, key: str) -> tuple[str, ...]:
        value = self.values[key]
        assert isinstance(value, tuple), key
        return value

    def source(self, key: str) -> str:
        return self.sources[key]


DEFAULTS = ProjectSettings({s.key: s.default for s in SCHEMA}, {s.key: "default" for s in SCHEMA})


def _checked(setting: ProjectSetting, raw: object, where: str) -> float | tuple[str, ...]:
    if setting.kind == "globs":
        if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            return tuple(raw)
    elif setting.kind == "count":
        if isinstance(raw, int) and not isinstance(raw, bool) and setting.accepts(raw):
            return float(raw)
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
        if not math.isnan(value) and setting.accepts(value):
            return value
    raise ProjectSettingsError(
        f"{SECTION} {setting.key} in {where} must be {setting.allowed}, got {raw!r}"
    )


def project_settings_from(table: Mapping[str, object], where: str) -> ProjectSettings:
    """Pure: the settings of a parsed [tool.testkit] table (`where` names it in errors)."""
    unknown = sorted(set(table) - set(BY_KEY))
    if unknown:
        raise ProjectSettingsError(
            f"{SECTION} in {where} has no setting {unknown[0]!r}; "
            f"the settings are: {', '.join(BY_KEY)}"
        )
    values = dict(DEFAULTS.values)
    sources = dict(DEFAULTS.sources)
    for key, raw in table.items():
        values[key] = _checked(BY_KEY[key], raw, where)
        sources[key] = where
    return ProjectSettings(values, sources)


def read_project_settings(pyproject: Path) -> ProjectSettings:
    """[tool.testkit] of ``pyproject``; every default when the file or the table is absent."""
    if not pyproject.is_file():
        return DEFAULTS
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ProjectSettingsError(f"{pyproject} is not readable TOML: {error}") from None
    table = document.get("tool", {}).get("testkit", {})
    if not isinstance(table, dict):
        raise ProjectSettingsError(f"{SECTION} in {pyproject} must be a table")
    return project_settings_from(table, str(pyproject))


def _shown(default: float | tuple[str, ...], code: str = "") -> str:
    if isinstance(default, tuple):
        return ", ".join(f"{code}{pattern}{code}" for pattern in default)
    return f"{default:g}"


def markdown_table() -> str:
    """The settings table docs/testing.md holds (a test compares the two)."""
    rows = ["| setting | default | allowed | what it sets |", "|---|---|---|---|"]
    rows += [
        f"| `{s.key}` | {_shown(s.default, '`')} | {s.allowed} | {s.description} |" for s in SCHEMA
    ]
    return "\n".join(rows) + "\n"


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "options",
        help="every setting: [tool.testkit] (value, source, range) and the run's flags/env",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", type=Path, default=Path(), help="project root (pyproject.toml)")
    parser.add_argument("--markdown", action="store_true", help="the schema as a Markdown table")
    parser.set_defaults(handler=_run_settings)


def _run_settings(arguments: argparse.Namespace) -> int:
    if arguments.markdown:
        print(markdown_table(), end="")
        return 0
    settings = read_project_settings(arguments.root / "pyproject.toml")
    print(f"{SECTION} in pyproject.toml (the gates' limits, impact selection):")
    rows = [("setting", "from", "allowed", "value")]
    rows += [
        (s.key, settings.source(s.key), s.allowed, _shown(settings.values[s.key])) for s in SCHEMA
    ]
    _print_rows(rows)
    # The run's own settings (pytest flags, ini keys, environment): testkit.options.
    from testkit import options

    print("\nper run: --testkit-<name> flag, testkit_<name> ini key, or environment variable:")
    rows = [("flag", "environment", "set here", "what it sets")]
    rows += [(o.flag, o.env, options.env_setting(o) or "-", o.help) for o in options.SETTINGS]
    _print_rows(rows)
    return 0


def _print_rows(rows: list[tuple[str, str, str, str]]) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[3]]))
