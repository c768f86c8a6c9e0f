"""A benchmark module, as `testkit perf instructions` reads it: its top-level ``bench_<name>()``
functions, found without importing it, and the source roots a revision's benchmarks import
from."""

from __future__ import annotations

import ast
from pathlib import Path

PREFIX = "bench_"


class BenchmarkError(RuntimeError):
    """A benchmark module or one benchmark could not be measured; the message names it."""


def discover(module: Path) -> tuple[str, ...]:
    """Names of the module's top-level ``def bench_<name>()`` functions, in file order."""
    try:
        tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
    except (OSError, UnicodeDecodeError) as error:
        raise BenchmarkError(f"cannot read the benchmark module {module}: {error}") from error
    except SyntaxError as error:
        raise BenchmarkError(
            f"{module}:{error.lineno}: the benchmark module is not valid Python: {error.msg}"
        ) from error
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith(PREFIX):
            arguments = node.args
            if arguments.args or arguments.posonlyargs or arguments.kwonlyargs:
                raise BenchmarkError(
                    f"{module}:{node.lineno}: {node.name}() must take no arguments "
                    "(set-up belongs at the module's top level)"
                )
            if node.name != PREFIX:
                names.append(node.name.removeprefix(PREFIX))
    return tuple(names)


def source_roots(project: Path) -> tuple[Path, ...]:
    """The ``src`` directories of the project's packages and services, then its ``tests`` (as
    pytest's ``pythonpath``): first on PYTHONPATH, so a revision's benchmarks import that
    revision's code."""
    roots = sorted(project.glob("packages/*/src")) + sorted(project.glob("services/*/src"))
    return tuple(roots + [path for path in [project / "tests"] if path.is_dir()])
