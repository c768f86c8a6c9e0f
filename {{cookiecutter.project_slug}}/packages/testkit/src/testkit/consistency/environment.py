"""Environment variables: those docs/testing.md names against those the code reads.

Both sides are derived, never listed by hand: the documented ones are every `APP_*`, `TEST_*`
and `TESTKIT_*` name in the guide; the read ones are the service settings' fields (prefix plus
field name, as pydantic-settings reads them), every string literal naming a TEST_*/TESTKIT_*
variable in testkit and the shared test helpers, and the TEST_* knobs the Makefiles accept.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VARIABLE = re.compile(r"\b(?:APP|TEST|TESTKIT)_[A-Z0-9]+(?:_[A-Z0-9]+)*\b")
TESTKIT_VARIABLE = re.compile(r"^(?:TEST|TESTKIT)_[A-Z0-9]+(?:_[A-Z0-9]+)*$")
_MAKE_KNOB = re.compile(r"^((?:TEST|TESTKIT)_[A-Z0-9_]+)\s*\?=", re.MULTILINE)
TABLE_HEADING = "## Environment variables"


@dataclass(frozen=True, slots=True)
class EnvDrift:
    """Read but not documented, and documented but read nowhere."""

    undocumented: tuple[str, ...]
    stale: tuple[str, ...]

    @property
    def problems(self) -> list[str]:
        return [
            *(f"{name} is read by the code but not documented" for name in self.undocumented),
            *(f"{name} is documented but nothing reads it" for name in self.stale),
        ]


def documented(markdown: str) -> set[str]:
    return set(VARIABLE.findall(markdown))


def section(markdown: str, heading: str = TABLE_HEADING) -> str:
    """The text of one `## ` section (empty when the heading is missing)."""
    start = markdown.find(heading + "\n")
    if start < 0:
        return ""
    end = markdown.find("\n## ", start + len(heading))
    return markdown[start : end if end >= 0 else len(markdown)]


def settings_variables(settings_class: Any) -> set[str]:
    """APP_* names a pydantic-settings class reads: env_prefix plus each field, upper case."""
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    return {(prefix + name).upper() for name in settings_class.model_fields}


def literal_variables(paths: Iterable[Path]) -> set[str]:
    """Whole string literals that name a TEST_*/TESTKIT_* variable, in these Python files."""
    found: set[str] = set()
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if "TEST" not in text:  # no such name in the file: skip the parse, the slow part
            continue
        tree = ast.parse(text, filename=str(path))
        found.update(
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and TESTKIT_VARIABLE.match(node.value)
        )
    return found


def make_knobs(makefile_text: str) -> set[str]:
    """TEST_* variables a Makefile lets the environment set (`NAME ?= default`)."""
    return set(_MAKE_KNOB.findall(makefile_text))


def drift(documented_names: set[str], read_names: set[str]) -> EnvDrift:
    return EnvDrift(
        undocumented=tuple(sorted(read_names - documented_names)),
        stale=tuple(sorted(documented_names - read_names)),
    )
