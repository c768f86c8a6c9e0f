"""CI workflow files: each parses, and every `make <target>` they run is a target make knows.

The targets come from make itself (`make -pRrq`, its database of rules), not from a list: a
target renamed in make/testing.mk but still called by a workflow fails here, not in CI.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# make's options that take the next word as their argument.
_OPTIONS_WITH_ARGUMENT = frozenset({"-C", "-f", "-I", "-o", "-W", "--file", "--directory"})
_SHELL_SEPARATORS = frozenset({"&&", "||", ";", "|", "&", "(", ")", ";;"})
_RULE = re.compile(r"^([^\s#:=%][^:=%]*?):(?![=:])")
_SERVICES = ("postgres", "redis", "nats")


class WorkflowError(ValueError):
    """A workflow file is not valid YAML or has no jobs (one line naming the file)."""


@dataclass(frozen=True, slots=True)
class MakeCall:
    """One `make ...` in a workflow step: the targets it asks for, and where."""

    where: str
    targets: tuple[str, ...]


def parse_workflow(text: str, *, source: str) -> dict[str, Any]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise WorkflowError(f"{source}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(document, dict) or not isinstance(document.get("jobs"), dict):
        raise WorkflowError(f"{source}: no jobs: mapping")
    return document


def make_targets_in(script: str) -> list[tuple[str, ...]]:
    """The targets of each `make` command in a shell script (variables and options skipped)."""
    words: list[str] = []
    for line in script.replace("\\\n", " ").splitlines():  # a new line ends a command
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            words += [*lexer, ";"]
        except ValueError:  # a quote that closes on a later line: not a make command line
            words.append(";")
    calls: list[tuple[str, ...]] = []
    index = 0
    while index < len(words):
        if words[index] not in {"make", "$(MAKE)"} and not words[index].endswith("/make"):
            index += 1
            continue
        index += 1
        targets: list[str] = []
        while index < len(words) and words[index] not in _SHELL_SEPARATORS:
            word = words[index]
            index += 1
            if word in _OPTIONS_WITH_ARGUMENT:
                index += 1
            elif not (word.startswith("-") or "=" in word or "$" in word or word.isdigit()):
                targets.append(word)
        calls.append(tuple(targets))
    return calls


def _steps(workflow: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for job_name, job in workflow["jobs"].items():
        for number, step in enumerate((job or {}).get("steps") or (), start=1):
            if isinstance(step, dict):
                yield f"job {job_name} step {step.get('name') or number}", step


def make_calls(workflow: Mapping[str, Any], *, source: str) -> list[MakeCall]:
    """Every make invocation in the workflow's `run:` steps."""
    return [
        MakeCall(f"{source}: {where}", targets)
        for where, step in _steps(workflow)
        if isinstance(step.get("run"), str)
        for targets in make_targets_in(step["run"])
    ]


def service_images(workflow: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(service, image) of the job service containers and of `docker run` steps."""
    found: list[tuple[str, str]] = []
    for job in workflow["jobs"].values():
        for name, service in ((job or {}).get("services") or {}).items():
            if isinstance(service, dict) and isinstance(service.get("image"), str):
                found.append((name, service["image"]))
    for _, step in _steps(workflow):
        for image in re.findall(r"\b((?:postgres|redis|nats):[\w.-]+)", str(step.get("run", ""))):
            found.append((image.split(":")[0], image))
    return [(service, image) for service, image in found if service in _SERVICES]


def targets_from_database(database: str) -> set[str]:
    """The targets in `make -pRrq` output (files make merely considered are left out)."""
    targets: set[str] = set()
    not_a_target = False
    for line in database.splitlines():
        if line.startswith("# Not a target"):
            not_a_target = True
            continue
        match = _RULE.match(line)
        if match is not None:
            if not not_a_target:
                targets.update(name for name in match.group(1).split() if not name.startswith("."))
            not_a_target = False
    return targets


def make_targets(project: Path) -> set[str]:
    """Every target of the project's Makefile, as make reads it (nothing is run)."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}
    }
    completed = subprocess.run(
        ["make", "-pRrq", "-C", str(project), ":"],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=60,
    )
    if not completed.stdout:
        raise WorkflowError(f"make -pRrq in {project} printed nothing: {completed.stderr.strip()}")
    return targets_from_database(completed.stdout)
