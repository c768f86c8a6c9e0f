"""`make fix-quarantined`: re-run each quarantined test N times; un-quarantine the ones that
passed every time, printing the evidence, and keep the others.

The reruns are the flakiness report's (fresh pytest processes, fresh seeds, retries off, each
recorded in the history), so a pass here is a pass without help. The quarantine file is edited
as text: the other entries, their order and every comment stay as they were.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from testkit.analytics.quarantine import QuarantineEntry


@dataclass(frozen=True, slots=True)
class FixVerdict:
    """One quarantine entry after the reruns: the evidence, and whether it leaves quarantine."""

    nodeid: str
    runs: int
    cases: int
    passes: int
    failures: int
    unquarantine: bool

    @property
    def evidence(self) -> str:
        if self.cases == 0:
            return f"{self.nodeid}: not run (pytest no longer collects it); stays quarantined"
        verdict = "passed every run: un-quarantined" if self.unquarantine else "stays quarantined"
        cases = f" over {self.cases} cases" if self.cases > 1 else ""
        return (
            f"{self.nodeid}: {self.passes} passed, {self.failures} failed in {self.runs} "
            f"reruns{cases}; {verdict}"
        )


def decide(
    entries: Sequence[QuarantineEntry], tally: Mapping[str, tuple[int, int]], runs: int
) -> list[FixVerdict]:
    """An entry leaves quarantine only when each of its cases passed in every one of the runs."""
    verdicts: list[FixVerdict] = []
    for entry in entries:
        cases = {nodeid: counts for nodeid, counts in tally.items() if entry.matches(nodeid)}
        passes = sum(passed for passed, _ in cases.values())
        failures = sum(failed for _, failed in cases.values())
        consistent = bool(cases) and all(
            passed == runs and failed == 0 for passed, failed in cases.values()
        )
        verdicts.append(FixVerdict(entry.nodeid, runs, len(cases), passes, failures, consistent))
    return verdicts


def remove_entries(text: str, nodeids: Sequence[str]) -> str:
    """The quarantine file without the entries of ``nodeids``; every other line kept as it was.

    An entry is its `[[quarantine]]` table plus the comment lines right above its header (no
    blank line between), which are taken to be about it.
    """
    lines = text.splitlines(keepends=True)
    headers = [index for index, line in enumerate(lines) if line.strip() == "[[quarantine]]"]
    starts = []
    for header in headers:
        start = header
        while start > 0 and lines[start - 1].lstrip().startswith("#"):
            start -= 1
        starts.append(start)
    ends = [*starts[1:], len(lines)]
    removed: set[int] = set()
    for header, start, end in zip(headers, starts, ends, strict=True):
        entry = tomllib.loads("".join(lines[header:end])).get("quarantine", [{}])[0]
        if str(entry.get("nodeid", "")).strip() in nodeids:
            removed.update(range(start, end))
    return "".join(line for index, line in enumerate(lines) if index not in removed)
