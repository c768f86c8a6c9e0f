"""Quarantine: known-flaky tests that still run, whose failures are reported but do not block.

tests/quarantine.toml lists `[[quarantine]]` entries (nodeid, reason, owner, expires). A listed
test (or, for a function nodeid, each of its parametrized cases) is retried twice through
pytest-rerunfailures' `flaky` marker; a failure that survives the retries is reported as
QUARANTINED (pytest_report_teststatus), is not counted as a failure, and is recorded in the
history with quarantined=1. Expired entries keep protecting the run but fail
`make flakiness-gate`, so someone has to fix the test or extend the date on purpose.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testkit.analytics.recorder import QUARANTINE_PROPERTY

DEFAULT_PATH = Path("tests") / "quarantine.toml"
FIELDS = ("nodeid", "reason", "owner", "expires")
RERUNS = 2
CATEGORY = "quarantined"


class QuarantineError(Exception):
    """The quarantine file is malformed; the message names the file, entry and field."""


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    nodeid: str
    reason: str
    owner: str
    expires: dt.date

    def expired(self, today: dt.date) -> bool:
        return self.expires < today

    def matches(self, nodeid: str) -> bool:
        """The entry's own nodeid, or one parametrized case of it."""
        return nodeid == self.nodeid or (
            nodeid.startswith(self.nodeid) and nodeid[len(self.nodeid)] == "["
        )


def _entry_name(index: int, raw: dict[str, Any]) -> str:
    nodeid = raw.get("nodeid")
    return f"entry {index}" + (f" ({nodeid})" if isinstance(nodeid, str) else "")


def _parse_date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise QuarantineError(f"{where}: expires must be a date YYYY-MM-DD, got {value!r}")


def parse_quarantine(text: str, *, source: str) -> tuple[QuarantineEntry, ...]:
    """The entries of a quarantine file's text; QuarantineError names the first problem."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise QuarantineError(f"{source}: not valid TOML ({error})") from None
    unknown_tables = sorted(set(document) - {"quarantine"})
    if unknown_tables:
        raise QuarantineError(
            f"{source}: unknown key {unknown_tables[0]!r}; "
            "the file holds only [[quarantine]] entries"
        )
    raw_entries = document.get("quarantine", [])
    if not isinstance(raw_entries, list):
        raise QuarantineError(f"{source}: quarantine must be an array of tables ([[quarantine]])")
    entries: list[QuarantineEntry] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_entries, start=1):
        if not isinstance(raw, dict):
            raise QuarantineError(f"{source}: entry {index} must be a table ([[quarantine]])")
        where = f"{source}: {_entry_name(index, raw)}"
        unknown = sorted(set(raw) - set(FIELDS))
        if unknown:
            raise QuarantineError(
                f"{where}: unknown field {unknown[0]!r}; allowed fields: {', '.join(FIELDS)}"
            )
        for name in ("nodeid", "reason", "owner"):
            value = raw.get(name)
            if not isinstance(value, str) or not value.strip():
                raise QuarantineError(
                    f"{where}: {name} must be a non-empty string, got {value!r}"
                    + (
                        " (a pytest node id, e.g. tests/unit/test_x.py::test_y)"
                        if name == "nodeid"
                        else ""
                    )
                )
        if "expires" not in raw:
            raise QuarantineError(f"{where}: expires must be a date YYYY-MM-DD, got nothing")
        nodeid = raw["nodeid"].strip()
        if "::" not in nodeid:
            raise QuarantineError(f"{where}: nodeid must name a test (path::test), got {nodeid!r}")
        if nodeid in seen:
            raise QuarantineError(f"{where}: nodeid {nodeid!r} is listed twice")
        seen.add(nodeid)
        entries.append(
            QuarantineEntry(
                nodeid=nodeid,
                reason=raw["reason"].strip(),
                owner=raw["owner"].strip(),
                expires=_parse_date(raw["expires"], where),
            )
        )
    return tuple(entries)


def load_quarantine(path: Path) -> tuple[QuarantineEntry, ...]:
    """The file's entries; none when it does not exist."""
    if not path.is_file():
        return ()
    return parse_quarantine(path.read_text(encoding="utf-8"), source=str(path))


def entry_for(entries: Sequence[QuarantineEntry], nodeid: str) -> QuarantineEntry | None:
    for entry in entries:
        if entry.matches(nodeid):
            return entry
    return None


def expired_entries(
    entries: Sequence[QuarantineEntry], today: dt.date
) -> tuple[QuarantineEntry, ...]:
    return tuple(entry for entry in entries if entry.expired(today))


def missing_entries(
    entries: Sequence[QuarantineEntry], collected: Sequence[str]
) -> tuple[QuarantineEntry, ...]:
    """Entries that match no collected test (the test was renamed or removed)."""
    return tuple(
        entry for entry in entries if not any(entry.matches(nodeid) for nodeid in collected)
    )


class QuarantinePlugin:
    """Registered in every process: marks the listed tests and turns their failures aside."""

    def __init__(self, entries: Sequence[QuarantineEntry], *, retry: bool) -> None:
        self.entries = tuple(entries)
        self._retry = retry
        self._failures: list[tuple[str, str]] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            entry = entry_for(self.entries, item.nodeid)
            if entry is None:
                continue
            item.user_properties.append((QUARANTINE_PROPERTY, entry.reason))
            if self._retry and item.get_closest_marker("flaky") is None:
                item.add_marker(pytest.mark.flaky(reruns=RERUNS))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Iterator[None]:
        # A wrapper runs before every implementation (pytest's failure count, the terminal,
        # xdist's forwarding to the controller), so they all see the quarantined outcome.
        if report.failed and any(name == QUARANTINE_PROPERTY for name, _ in report.user_properties):
            report.outcome = CATEGORY  # type: ignore[assignment]
            self._failures.append((report.nodeid, report.when or "call"))
        return (yield)

    def pytest_report_teststatus(
        self, report: pytest.TestReport
    ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
        if report.outcome == CATEGORY:
            return CATEGORY, "Q", ("QUARANTINED", {"yellow": True})
        return None

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        reports = terminalreporter.stats.get(CATEGORY, [])
        today = dt.date.today()
        expired = expired_entries(self.entries, today)
        if not reports and not expired:
            return
        terminalreporter.section("testkit quarantine", sep="-", yellow=True)
        for report in reports:
            entry = entry_for(self.entries, report.nodeid)
            reason = entry.reason if entry else "quarantined"
            terminalreporter.write_line(
                f"QUARANTINED {report.nodeid} ({report.when}): {reason} - not failing the run"
            )
            longrepr = getattr(report, "longreprtext", "")
            last = [line for line in longrepr.splitlines() if line.strip()][-1:] if longrepr else []
            for line in last:
                terminalreporter.write_line(f"    {line.strip()}")
        for entry in expired:
            terminalreporter.write_line(
                f"EXPIRED quarantine entry {entry.nodeid} (expired {entry.expires}, owner "
                f"{entry.owner}): fix the test or extend the date; make flakiness-gate fails"
            )
