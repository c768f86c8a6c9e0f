"""Which functions a change touches, named the way mutmut 3 names their mutants.

mutmut mutates function bodies (module-level code is left alone) and names each mutant after
its module and function: `pkg.mod.x_func__mutmut_3`, or `pkg.mod.xǁClassǁmethod__mutmut_3` for a
method. The module is the file's path below its source root (`services/api/src`,
`packages/testkit/src`), as Python imports it. Pure: sources in, names and lines out.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

# Where the project's importable code lives (src layouts); tests are never mutated.
SOURCE_ROOT_GLOBS = ("services/*/src", "packages/*/src")
CLASS_SEPARATOR = "ǁ"  # mutmut's separator in a method's mangled name


@dataclass(frozen=True, slots=True)
class FunctionSpan:
    """A function mutmut mutates: its mangled name and the lines its source text covers (from
    the comments right above it, which mutmut's diffs include, to its last line)."""

    name: str
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class Target:
    """A changed function: where it is, how mutmut names it, and its changed lines."""

    path: str  # relative to the project root, '/'-separated
    module: str
    function: FunctionSpan
    changed: tuple[int, ...]

    @property
    def prefix(self) -> str:
        """Every mutant of this function is named `<prefix><number>`."""
        return f"{self.module}.{self.function.name}__mutmut_"


@dataclass(frozen=True, slots=True)
class Scope:
    """The functions to mutate, and the changed source lines no mutable function holds."""

    targets: tuple[Target, ...]
    outside: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(target.path for target in self.targets))


def source_root(path: str, roots: Sequence[str]) -> str | None:
    """The source root (one of `roots`) that holds the Python file `path`, if any."""
    pure = PurePosixPath(path)
    if pure.suffix != ".py":
        return None
    return next((root for root in roots if pure.is_relative_to(root)), None)


def module_of(path: str, root: str) -> str:
    """`services/api/src/pkg/mod.py` below `services/api/src` -> `pkg.mod` (a package's
    `__init__.py` is the package itself, as mutmut names it)."""
    parts = PurePosixPath(path).relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _first_line(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: Sequence[str]) -> int:
    """The function's first line as mutmut's diff shows it: decorators, and the comment lines
    between the previous statement and the function (libcst's leading lines)."""
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    top = first
    line = first - 1
    while line >= 1 and (not lines[line - 1].strip() or lines[line - 1].lstrip().startswith("#")):
        if lines[line - 1].strip():
            top = line
        line -= 1
    return top


def _is_code(lines: Sequence[str], number: int) -> bool:
    """A line with code on it (not blank, not only a comment)."""
    stripped = lines[number - 1].strip() if 0 < number <= len(lines) else ""
    return bool(stripped) and not stripped.startswith("#")


def function_spans(source: str) -> list[FunctionSpan]:
    """Module-level functions and the methods of module-level classes: what mutmut mutates."""
    tree = ast.parse(source)
    lines = source.splitlines()
    spans: list[FunctionSpan] = []

    def add(node: ast.AST, name: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            last = node.end_lineno or node.lineno
            spans.append(FunctionSpan(name, _first_line(node, lines), last))

    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for child in node.body:
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                    sep = CLASS_SEPARATOR
                    add(child, f"x{sep}{node.name}{sep}{child.name}")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            add(node, f"x_{node.name}")
    return spans


def scope_of(
    changed: Mapping[str, Sequence[int]],
    sources: Mapping[str, str],
    roots: Sequence[str],
) -> Scope:
    """The changed functions of the changed source files (`sources`: their current text).

    A changed line inside a function marks that function; one outside every function (imports,
    constants, class bodies) is listed in `outside`: mutmut does not mutate it."""
    targets: list[Target] = []
    outside: dict[str, tuple[int, ...]] = {}
    for path, lines in sorted(changed.items()):
        root = source_root(path, roots)
        if root is None or path not in sources:
            continue
        spans = function_spans(sources[path])
        held: set[int] = set()
        for span in spans:
            inside = tuple(n for n in lines if span.first <= n <= span.last)
            if inside:
                targets.append(Target(path, module_of(path, root), span, inside))
                held.update(inside)
        text = sources[path].splitlines()
        code = [n for n in lines if n not in held and _is_code(text, n)]
        if code:
            outside[path] = tuple(code)
    return Scope(tuple(targets), outside)


def whole_files(sources: Mapping[str, str], roots: Sequence[str]) -> Scope:
    """Every function of every file: the nightly run over the whole code base."""
    every_line = {path: range(1, len(text.splitlines()) + 1) for path, text in sources.items()}
    scope = scope_of({p: tuple(lines) for p, lines in every_line.items()}, sources, roots)
    return Scope(scope.targets)
