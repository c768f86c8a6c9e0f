"""The environment variables docs/testing.md documents are exactly those the code reads.

Both lists are derived (testkit.consistency.environment): a new setting or knob without a line
in the guide fails here, and so does a documented variable nothing reads any more.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.consistency.environment import (
    documented,
    drift,
    literal_variables,
    make_knobs,
    section,
{%- if cookiecutter.include_sample_service == 'yes' %}
    settings_variables,
{%- endif %}
)
{%- if cookiecutter.include_sample_service == 'yes' %}

from {{ cookiecutter.package_name }}.settings import Settings
{%- endif %}

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
# Where testkit's TEST_*/TESTKIT_* variables are read: the framework, its tests, shared helpers.
SOURCES = ("packages/testkit/src", "packages/testkit/tests", "tests/_fixtures", "tests/_helpers")


@pytest.fixture(scope="module")
def read_variables() -> set[str]:
    """Parsed once for the module: walking every source file is this tier's slowest read."""
    python = [path for source in SOURCES for path in (ROOT / source).rglob("*.py")]
    makefiles = [ROOT / "Makefile", *sorted((ROOT / "make").glob("*.mk"))]
    knobs = set().union(*(make_knobs(path.read_text(encoding="utf-8")) for path in makefiles))
    found = literal_variables([*python, ROOT / "tests" / "conftest.py"]) | knobs
{%- if cookiecutter.include_sample_service == 'yes' %}
    found |= settings_variables(Settings)
{%- endif %}
    return found


def test_the_table_lists_exactly_the_variables_the_code_reads(read_variables: set[str]) -> None:
    table = documented(section(GUIDE))
    assert table, "docs/testing.md has no '## Environment variables' table"
    problems = drift(table, read_variables).problems
    assert problems == [], "\n".join(problems)


def test_the_guide_mentions_no_variable_the_code_does_not_read(read_variables: set[str]) -> None:
    stale = drift(documented(GUIDE), read_variables).stale
    assert stale == (), f"docs/testing.md mentions variables nothing reads: {', '.join(stale)}"
