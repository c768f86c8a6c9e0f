"""Faults for the impact-selection bench: one-line edits of a baked project, each reproducible
from a small spec (no copies of files).

- Python source (the service, testkit, the tests' helpers and factories, conftest.py): mutants
  from cosmic-ray's operators (comparison, arithmetic, boolean, number, decorator, loop and
  exception mutations), one (file, operator, occurrence) each;
- data files the tests read (tests/**/*.json, tests/quarantine.toml): one JSON leaf changed
  (a number moved, a string altered, a boolean flipped, a list's last item dropped) or one
  TOML value edited;
- configuration (Makefile, make/*.mk, pyproject.toml, uv.lock, CI workflows, alembic.ini,
  docker-compose.test.yml, the monitoring files): one line changed (a digit bumped, or a
  comment-free line given a trailing space where no digit exists).

`generate(project, seed, ...)` lists the faults (seeded, so the list is the same on every
machine for one bake); `apply(fault, project)` writes the faulted file and returns the original
text for the caller to restore.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# cosmic-ray operators left out: VariableInserter/VariableReplacer draw random names (not
# reproducible from the spec); the Delete_* unary operators only remove a sign.
SKIPPED_OPERATORS = ("core/VariableInserter", "core/VariableReplacer", "_Delete_")

# Each pool's files (tracked by git) and its share of the Python faults.
PYTHON_POOLS = {
    "service": (r"services/[^/]+/src/.+\.py$", 0.6),
    "testkit": (r"packages/testkit/src/testkit/.+\.py$", 0.25),
    "test helpers and factories": (r"tests/_(helpers|fixtures)/.+\.py$", 0.1),
    "conftest": (r"(.+/)?conftest\.py$", 0.05),
}
DATA_FILES = r"tests/.+\.(json|toml)$"
CONFIG_FILES = (
    "Makefile",
    "make/testing.mk",
    "pyproject.toml",
    "uv.lock",
    "services/api/pyproject.toml",
    "services/api/alembic.ini",
    "docker-compose.test.yml",
    ".github/workflows/ci.yml",
    ".github/workflows/nightly.yml",
    "monitoring/prometheus.yml",
    "monitoring/testkit-alerts.yml",
    "monitoring/grafana-testkit.json",
)


@dataclass(frozen=True)
class Fault:
    """One edit: ``kind`` python (operator, occurrence), data (a JSON pointer or a TOML line)
    or config (a line number)."""

    fault_id: str
    kind: str
    pool: str
    path: str
    operator: str = ""
    occurrence: int = 0
    pointer: str = ""
    line: int = 0
    source: str = ""  # sha256 (12 hex) of the file it was made from: a changed file, a new fault

    def describe(self) -> str:
        if self.kind == "python":
            return f"{self.path}: {self.operator.removeprefix('core/')} #{self.occurrence}"
        if self.pointer:
            return f"{self.path}: {self.pointer}"
        return f"{self.path}: line {self.line}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultNotApplicable(Exception):
    """The spec does not match the file any more (the bake changed since it was generated)."""


# --- python: cosmic-ray -------------------------------------------------------------------------


def _operators() -> list[tuple[str, Any]]:
    from cosmic_ray.plugins import get_operator, operator_names

    return [
        (name, get_operator(name)())
        for name in sorted(operator_names())
        if not any(skip in name for skip in SKIPPED_OPERATORS)
    ]


def python_candidates(text: str, operators: list[tuple[str, Any]]) -> list[tuple[str, int]]:
    """Every (operator, occurrence) cosmic-ray can apply to this source."""
    from cosmic_ray.ast import ast_nodes, get_ast

    nodes = list(ast_nodes(get_ast(text)))
    found: list[tuple[str, int]] = []
    for name, operator in operators:
        count = sum(len(list(operator.mutation_positions(node))) for node in nodes)
        found += [(name, occurrence) for occurrence in range(count)]
    return found


def _mutate_python(text: str, fault: Fault) -> str:
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator

    mutated = mutate_code(text, get_operator(fault.operator)(), fault.occurrence)
    if mutated is None or mutated == text:
        raise FaultNotApplicable(f"{fault.describe()}: no such occurrence")
    return str(mutated)


# --- data: a JSON leaf or a TOML value ----------------------------------------------------------


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")  # RFC 6901


def json_leaves(value: Any, pointer: str = "") -> list[str]:
    """JSON pointers of every leaf (and of every non-empty list, whose last item can go)."""
    if isinstance(value, dict):
        return [
            p for key, item in value.items() for p in json_leaves(item, f"{pointer}/{_escape(key)}")
        ]
    if isinstance(value, list):
        found = [f"{pointer}/-"] if value else []
        for index, item in enumerate(value):
            found += json_leaves(item, f"{pointer}/{index}")
        return found
    return [pointer]


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return round(value * 1.5 + 0.1, 6)
    if isinstance(value, str):
        return value[::-1] if len(set(value)) > 1 else value + "x"
    return "changed"  # null


def _mutate_json(text: str, fault: Fault) -> str:
    document = json.loads(text)
    *parents, last = [
        key.replace("~1", "/").replace("~0", "~") for key in fault.pointer.split("/")[1:]
    ]
    holder: Any = document
    for key in parents:
        holder = holder[int(key)] if isinstance(holder, list) else holder[key]
    if last == "-":
        holder.pop()
    elif isinstance(holder, list):
        holder[int(last)] = _changed(holder[int(last)])
    else:
        holder[last] = _changed(holder[last])
    indent = 2 if "\n " in text else None
    return json.dumps(document, indent=indent, ensure_ascii=False) + ("\n" if indent else "")


_DIGITS = re.compile(r"\d+")


def line_candidates(text: str) -> list[int]:
    """Lines (1-based) with something to change: not blank, not only a comment."""
    return [
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.strip().startswith("#")
    ]


def _mutate_line(text: str, fault: Fault) -> str:
    lines = text.splitlines(keepends=True)
    if not 0 < fault.line <= len(lines):
        raise FaultNotApplicable(f"{fault.describe()}: the file has {len(lines)} lines")
    line = lines[fault.line - 1]
    body = line.rstrip("\r\n")
    match = _DIGITS.search(body)
    if match:
        bumped = str(int(match.group()) + 1)
        body = body[: match.start()] + bumped + body[match.end() :]
    else:  # no number: the value's last character doubled (a typo in a name or a path)
        body = body + body[-1]
    lines[fault.line - 1] = body + line[len(line.rstrip("\r\n")) :]
    return "".join(lines)


# --- listing and applying -----------------------------------------------------------------------


SKIPPED_DIRS = {".git", ".venv", ".testkit", "reports", "build", "node_modules", "mutants"}


def project_files(project: Path) -> list[str]:
    """The bake's own files (relative, sorted): no virtualenv, caches or run outputs."""
    found: list[str] = []
    for directory, subdirectories, files in os.walk(project):
        subdirectories[:] = [
            d
            for d in subdirectories
            if d not in SKIPPED_DIRS
            and not d.startswith((".pytest", ".mypy", ".ruff", ".hyp"))
            and d != "__pycache__"
        ]
        base = Path(directory).relative_to(project)
        found += [(base / name).as_posix() for name in files if not name.startswith(".testmon")]
    return sorted(found)


def generate(
    project: Path, *, seed: int = 2026, python: int = 240, data: int = 40, config: int = 25
) -> list[Fault]:
    """The bench's faults for this bake: ``python`` mutants spread over the pools (each pool's
    files drawn evenly, then a mutant within), ``data`` data-file edits and ``config`` line
    edits of the configuration files."""
    rng = random.Random(seed)
    tracked = project_files(project)
    faults: list[Fault] = []
    operators = _operators()
    candidates: dict[str, list[tuple[str, int]]] = {}
    for pool, (pattern, share) in PYTHON_POOLS.items():
        files = [p for p in tracked if re.fullmatch(pattern, p) and not p.endswith("__init__.py")]
        wanted = round(python * share)
        taken: set[tuple[str, str, int]] = set()
        while wanted and files:
            path = rng.choice(files)
            if path not in candidates:
                candidates[path] = python_candidates((project / path).read_text(), operators)
            free = [c for c in candidates[path] if (path, *c) not in taken]
            if not free:
                files.remove(path)
                continue
            operator, occurrence = rng.choice(free)
            taken.add((path, operator, occurrence))
            text = (project / path).read_text()
            name = f"py{len(faults):03d}"
            fault = Fault(name, "python", pool, path, operator, occurrence, source=_sha(text))
            if not _compiles(faulted_text(fault, text), path):
                continue  # cosmic-ray took a `*` marker for a product: not a fault, a typo
            faults.append(fault)
            wanted -= 1
    data_files = [
        p
        for p in tracked
        if re.fullmatch(DATA_FILES, p)
        and (p.endswith(".json") or line_candidates((project / p).read_text()))
    ]
    for index in range(data):
        # Every data file once, then drawn at random.
        path = data_files[index] if index < len(data_files) else rng.choice(data_files)
        text = (project / path).read_text()
        name, source = f"data{index:03d}", _sha(text)
        if path.endswith(".json"):
            pointer = rng.choice(json_leaves(json.loads(text)))
            faults.append(Fault(name, "data", "data", path, pointer=pointer, source=source))
        else:
            line = rng.choice(line_candidates(text))
            faults.append(Fault(name, "data", "data", path, line=line, source=source))
    configs = [p for p in CONFIG_FILES if p in tracked]
    for index in range(config):
        path = configs[index % len(configs)]
        text = (project / path).read_text()
        line = rng.choice(line_candidates(text))
        faults.append(
            Fault(f"cfg{index:03d}", "config", "config", path, line=line, source=_sha(text))
        )
    return faults


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _compiles(text: str, path: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # `x is not 0`: a fault all the same
        try:
            compile(text, path, "exec")
        except SyntaxError:
            return False
    return True


def faulted_text(fault: Fault, text: str) -> str:
    if fault.kind == "python":
        return _mutate_python(text, fault)
    if fault.pointer:
        return _mutate_json(text, fault)
    return _mutate_line(text, fault)


def apply(fault: Fault, project: Path) -> str:
    """Write the faulted file; return the original text (the caller restores it)."""
    target = project / fault.path
    original = target.read_text()
    changed = faulted_text(fault, original)
    if changed == original:
        raise FaultNotApplicable(f"{fault.describe()}: the edit changes nothing")
    target.write_text(changed)
    return original
