"""Validate every option before cookiecutter renders a single file.

Each invalid option gets one line on stderr naming the option, its value and what is
allowed; then the hook exits 1 and cookiecutter deletes the project directory it made.

cookiecutter renders this file with Jinja first. Option values come in through the
`py_str` filter (local_extensions.py), which emits a complete Python string literal, so
no value can break out of its string. The placeholders are written so that the
unrendered file is also valid Python for ruff (a double-brace placeholder parses as a
set display); hence the F821 exemption below for the names only Jinja knows.

Only the standard library is used: the hook runs in whatever interpreter runs
cookiecutter, so the small checks below (email shape, slug pattern) are hand-written.
"""
# ruff: noqa: F821

from __future__ import annotations

import keyword
import re
import sys
import tempfile
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

OPTIONS: dict[str, str] = {
    "project_name": {{cookiecutter.project_name | py_str}},
    "project_slug": {{cookiecutter.project_slug | py_str}},
    "package_name": {{cookiecutter.package_name | py_str}},
    "description": {{cookiecutter.description | py_str}},
    "author_name": {{cookiecutter.author_name | py_str}},
    "author_email": {{cookiecutter.author_email | py_str}},
    "python_version": {{cookiecutter.python_version | py_str}},
    "include_sample_service": {{cookiecutter.include_sample_service | py_str}},
    "use_redis": {{cookiecutter.use_redis | py_str}},
    "use_nats": {{cookiecutter.use_nats | py_str}},
    "ci_provider": {{cookiecutter.ci_provider | py_str}},
    "coverage_threshold": {{cookiecutter.coverage_threshold | py_str}},
    "flaky_budget_percent": {{cookiecutter.flaky_budget_percent | py_str}},
    "perf_p50_pct": {{cookiecutter.perf_p50_pct | py_str}},
    "perf_p95_pct": {{cookiecutter.perf_p95_pct | py_str}},
    "perf_p99_pct": {{cookiecutter.perf_p99_pct | py_str}},
    "perf_throughput_pct": {{cookiecutter.perf_throughput_pct | py_str}},
    "adversarial_budget_percent": {{cookiecutter.adversarial_budget_percent | py_str}},
    "license": {{cookiecutter.license | py_str}},
    # Private (never prompted), but cookiecutter and cruft accept it as extra context.
    "_uv_exclude_newer": {{cookiecutter._uv_exclude_newer | py_str}},
}

# project_slug's default in cookiecutter.json, so a message can say where a bad slug came
# from. '-' stands in when project_name has nothing to slugify: an empty directory name
# would make cookiecutter stop before this hook with "directory already exists".
SLUG_FROM_PROJECT_NAME: str = {{(cookiecutter.project_name | slugify or "-") | py_str}}

# PEP 503-normalised distribution name: lowercase, single '-' between alphanumeric runs.
SLUG = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
MAX_SLUG_LENGTH = 64
PACKAGE = re.compile(r"[a-z][a-z0-9_]*")
# A pragmatic address check (no quoted local parts, no IP literals); the value only
# lands in pyproject metadata, so rejecting exotic-but-valid forms is acceptable.
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL = re.compile(rf"[A-Za-z0-9._%+-]+@{LABEL}(?:\.{LABEL})+")
WHOLE_NUMBER = re.compile(r"0|[1-9][0-9]{0,5}")  # no sign, no leading zero (TOML forbids it)

# Import names the generated project already uses; a service package with one of these
# names would shadow that library in the shared virtualenv.
TAKEN_IMPORT_NAMES = frozenset(
    {
        "testkit",
        "pytest",
        "hypothesis",
        "factory",
        "faker",
        "fastapi",
        "starlette",
        "anyio",
        "prometheus_client",
        "schemathesis",
        "websockets",
        "vcr",
        "yaml",
        "wrapt",
        "uvicorn",
        "pydantic",
        "pydantic_settings",
        "sqlalchemy",
        "alembic",
        "psycopg",
        "redis",
        "nats",
        "httpx",
    }
)

# Characters that must not reach rendered files: control characters (incl. tab, CR,
# LF, NEL), line/paragraph separators, lone surrogates (not encodable as UTF-8), and
# bidirectional overrides/isolates, which can disguise rendered source ("Trojan Source").
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})


def is_clean_text(value: str) -> bool:
    return not any(
        unicodedata.category(char) in FORBIDDEN_CATEGORIES or char in BIDI_CONTROLS
        for char in value
    )


def is_utc_time(value: str) -> bool:
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False
    return True


def is_whole_number(low: int, high: int) -> Callable[[str], bool]:
    return lambda value: WHOLE_NUMBER.fullmatch(value) is not None and low <= int(value) <= high


@dataclass(frozen=True)
class Rule:
    allowed: str  # what the user is told is allowed when the check fails
    accepts: Callable[[str], bool]


def one_of(*choices: str) -> Rule:
    return Rule(", ".join(repr(choice) for choice in choices), lambda value: value in choices)


def percent(high: int, low: int = 0) -> Rule:
    return Rule(f"a whole number from {low} to {high}", is_whole_number(low, high))


TEXT = "text without control characters, tabs or line breaks"
YES_NO = one_of("yes", "no")

RULES: dict[str, Rule] = {
    "project_name": Rule(f"non-empty {TEXT}", lambda v: bool(v.strip()) and is_clean_text(v)),
    "project_slug": Rule(
        "a distribution name: lowercase letters, digits and single '-', starting with a"
        f" letter, at most {MAX_SLUG_LENGTH} characters, not 'testkit'",
        lambda v: SLUG.fullmatch(v) is not None and len(v) <= MAX_SLUG_LENGTH and v != "testkit",
    ),
    "package_name": Rule(
        "a lowercase Python identifier (a-z, 0-9, '_', starting with a letter) that is not a"
        " keyword, a standard-library module or a library the project imports ("
        + ", ".join(sorted(TAKEN_IMPORT_NAMES))
        + ")",
        lambda v: (
            PACKAGE.fullmatch(v) is not None
            and not keyword.iskeyword(v)
            and v not in sys.stdlib_module_names
            and v not in TAKEN_IMPORT_NAMES
        ),
    ),
    "description": Rule(TEXT, is_clean_text),
    "author_name": Rule(TEXT, is_clean_text),
    "author_email": Rule(
        "an email address like jane@example.com", lambda v: EMAIL.fullmatch(v) is not None
    ),
    "python_version": one_of("3.11", "3.12", "3.13"),
    "include_sample_service": YES_NO,
    "use_redis": YES_NO,
    "use_nats": YES_NO,
    "ci_provider": one_of("github", "none"),
    "coverage_threshold": percent(100),
    "flaky_budget_percent": percent(100),
    "perf_p50_pct": percent(1000, low=1),  # the perf gate needs a limit above 0
    "perf_p95_pct": percent(1000, low=1),  # the perf gate needs a limit above 0
    "perf_p99_pct": percent(1000, low=1),  # the perf gate needs a limit above 0
    "perf_throughput_pct": percent(100, low=1),  # the perf gate needs a limit above 0
    "adversarial_budget_percent": percent(100),
    "license": one_of("MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary"),
    "_uv_exclude_newer": Rule(
        "a UTC time like 2026-12-06T00:00:00Z (the date the bake's dependencies resolve at)",
        is_utc_time,
    ),
}

# The reference service stores its cache and rate limits in Redis and publishes its
# events to NATS, so it cannot be baked without either.
SERVICE_NEEDS = {"use_redis": "Redis", "use_nats": "NATS"}


def shown(value: str) -> str:
    """repr() keeps the line single (escapes line breaks); long values are cut."""
    return repr(value) if len(value) <= 80 else f"{value[:60]!r}... ({len(value)} characters)"


def problems(options: Mapping[str, str]) -> list[str]:
    """One message per invalid option, in cookiecutter.json order."""
    invalid = {name for name, value in options.items() if not RULES[name].accepts(value)}
    slug, package = options["project_slug"], options["package_name"]
    package_is_derived = package == slug.replace("-", "_")
    if "project_slug" in invalid and package_is_derived:
        invalid.discard("package_name")  # only a consequence of the slug; fixing it fixes both

    lines = []
    for name, value in options.items():
        if name not in invalid:
            continue
        line = f"ERROR: {name}={shown(value)} is invalid: {RULES[name].allowed}"
        if name == "project_slug" and slug == SLUG_FROM_PROJECT_NAME:
            line += " (derived from project_name; set project_slug explicitly)"
        elif name == "package_name" and package_is_derived:
            line += " (derived from project_slug; set package_name explicitly)"
        lines.append(line)

    if options["include_sample_service"] == "yes":
        for name, service in SERVICE_NEEDS.items():
            if options[name] == "no":
                lines.append(
                    f"ERROR: {name}={shown(options[name])} is invalid with"
                    f" include_sample_service='yes': the reference service needs {service};"
                    f" set {name}=yes or include_sample_service=no"
                )
    return lines


def remove_rendered_copy_of_this_hook() -> None:
    """cookiecutter runs a rendered copy of this hook from a temporary file it never deletes.

    That copy holds every option value; remove it so a bake leaves nothing behind.
    """
    script = Path(__file__).resolve()
    if script.parent == Path(tempfile.gettempdir()).resolve():
        script.unlink(missing_ok=True)


def main() -> int:
    remove_rendered_copy_of_this_hook()
    lines = problems(OPTIONS)
    for line in lines:
        print(line, file=sys.stderr)
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
