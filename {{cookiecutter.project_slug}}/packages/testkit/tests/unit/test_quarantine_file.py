"""tests/quarantine.toml: valid entries load; each mistake is named with the allowed values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from testkit.analytics.quarantine import QuarantineError, load_quarantine, parse_quarantine

VALID = """
[[quarantine]]
nodeid = "tests/unit/test_x.py::test_y"
reason = "races with the cache warmer"
owner = "jane@example.com"
expires = "2026-12-31"

[[quarantine]]
nodeid = "tests/unit/test_x.py::test_z"
reason = "slow DNS"
owner = "joe"
expires = 2027-01-15
"""


def test_entries_load_with_string_or_toml_dates() -> None:
    entries = parse_quarantine(VALID, source="q.toml")

    assert [(e.nodeid, e.expires) for e in entries] == [
        ("tests/unit/test_x.py::test_y", dt.date(2026, 12, 31)),
        ("tests/unit/test_x.py::test_z", dt.date(2027, 1, 15)),
    ]
    assert entries[0].matches("tests/unit/test_x.py::test_y[case-1]")
    assert not entries[0].matches("tests/unit/test_x.py::test_y2")


def test_the_template_file_with_its_commented_example_is_valid() -> None:
    template = Path(__file__).parents[4] / "tests" / "quarantine.toml"
    if not template.is_file():
        pytest.skip("not inside a generated project")

    assert load_quarantine(template) is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[quarantine]]\nnodeid = "t.py::a"\nreason = "r"\nowner = "o"\nexpires = "31/12/2026"',
            "q.toml: entry 1 (t.py::a): expires must be a date YYYY-MM-DD, got '31/12/2026'",
        ),
        (
            '[[quarantine]]\nnodeid = "t.py::a"\nreason = ""\nowner = "o"\nexpires = "2026-01-01"',
            "q.toml: entry 1 (t.py::a): reason must be a non-empty string, got ''",
        ),
        (
            '[[quarantine]]\nnodeid = "t.py::a"\nreason = "r"\nowner = "o"\nexpires = "2026-01-01"'
            '\nticket = "X-1"',
            "q.toml: entry 1 (t.py::a): unknown field 'ticket'; "
            "allowed fields: nodeid, reason, owner, expires",
        ),
        (
            '[[quarantine]]\nnodeid = "t.py"\nreason = "r"\nowner = "o"\nexpires = "2026-01-01"',
            "q.toml: entry 1 (t.py): nodeid must name a test (path::test), got 't.py'",
        ),
        ("[quarantine\n", "q.toml: not valid TOML"),
        ('[[skip]]\nnodeid = "t.py::a"', "q.toml: unknown key 'skip'"),
    ],
)
def test_a_malformed_file_names_the_entry_the_field_and_what_is_allowed(
    text: str, message: str
) -> None:
    with pytest.raises(QuarantineError) as raised:
        parse_quarantine(text, source="q.toml")

    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value).split(" (", 1)[0]


def test_a_nodeid_listed_twice_is_rejected() -> None:
    entry = (
        '[[quarantine]]\nnodeid = "t.py::a"\nreason = "r"\nowner = "o"\nexpires = "2026-01-01"\n'
    )

    with pytest.raises(QuarantineError, match=r"entry 2 \(t\.py::a\): nodeid 't\.py::a' is listed"):
        parse_quarantine(entry + entry, source="q.toml")
