"""Reading what mutmut reports: each mutant's status (`mutmut results --all true`) and its diff
(`mutmut show NAME`), and the source line a diff changes. Pure: text in, records out.

mutmut's diff is of one function's source (its first line is line 1), so a mutant's line in
the file is the function's first line plus the hunk's offset; testkit.mutation.scope knows
where each function starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RESULT = re.compile(r"^\s+(?P<name>\S+__mutmut_\d+): (?P<status>.+?)\s*$")
_SHOWN = re.compile(r"^# (?P<name>\S+__mutmut_\d+): (?P<status>.+?)\s*$")
_HUNK = re.compile(r"^@@ -(?P<start>\d+)(?:,\d+)? \+\d+(?:,\d+)? @@")

# mutmut's statuses, by whether a test noticed the mutant.
DETECTED = frozenset({"killed", "timeout", "caught by type check", "segfault"})
UNDETECTED = frozenset({"survived", "no tests", "suspicious"})


@dataclass(frozen=True, slots=True)
class LineChange:
    """The line a mutant changes, relative to its function (1 = the function's first line)."""

    offset: int
    original: str
    mutated: str


def parse_results(text: str) -> dict[str, str]:
    """`mutmut results --all true`: mutant name -> status."""
    return {m["name"]: m["status"] for m in map(_RESULT.match, text.splitlines()) if m}


def parse_shown(text: str) -> dict[str, str]:
    """Several `mutmut show` outputs one after another: mutant name -> its diff."""
    diffs: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if match := _SHOWN.match(line):
            current = diffs.setdefault(match["name"], [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in diffs.items()}


def line_change(diff: str) -> LineChange | None:
    """The first line the diff removes (and what replaces it); None for an empty diff."""
    offset = 0
    original: tuple[int, str] | None = None
    for line in diff.splitlines():
        if match := _HUNK.match(line):
            offset = int(match["start"])
        elif line.startswith(("---", "+++")) and offset == 0:
            continue
        elif line.startswith("-") and original is None:
            original = (offset, line[1:])
            offset += 1
        elif line.startswith("+") and original is not None:
            return LineChange(original[0], original[1].strip(), line[1:].strip())
        elif line.startswith(" ") or line == "":
            if original is not None:  # a removal with nothing in its place
                return LineChange(original[0], original[1].strip(), "")
            offset += 1
    if original is not None:
        return LineChange(original[0], original[1].strip(), "")
    return None
