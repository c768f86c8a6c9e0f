"""The shape of a Python source file that impact selection compares: its functions and the rest.

Each function (method, nested function) is a scope with a line range (decorators included) and a
digest of its AST, so moving code or editing comments changes nothing while any edit to the body,
signature or decorators does. Everything outside function bodies (imports, constants, class
attributes) has one digest of its own: a change there may reach any importer of the module.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True, slots=True)
class Scope:
    """One function: qualified name (``Class.method``), first and last line, AST digest."""

    name: str
    start: int
    end: int
    digest: str


@dataclass(frozen=True, slots=True)
class SourceOutline:
    """A module's function scopes, the digest of its module-level code, and what it imports."""

    scopes: tuple[Scope, ...]
    module_digest: str
    imports: tuple[str, ...]

    def scope_at(self, line: int) -> Scope | None:
        """The innermost function holding ``line``; None when the line is module-level."""
        holding = [s for s in self.scopes if s.start <= line <= s.end]
        return min(holding, key=lambda s: s.end - s.start) if holding else None

    def digests(self) -> dict[str, str]:
        return {scope.name: scope.digest for scope in self.scopes}


def _digest(node: ast.AST) -> str:
    dumped = ast.dump(node, annotate_fields=False, include_attributes=False)
    return hashlib.sha256(dumped.encode()).hexdigest()[:16]


class _WithoutFunctions(ast.NodeTransformer):
    """Drops every function: what remains is the code that runs when the module is imported."""

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        return None

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        return None


def _collect_scopes(tree: ast.Module) -> list[Scope]:
    scopes: list[Scope] = []
    seen: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, FunctionNode):
                name = f"{prefix}{child.name}"
                # A property's getter and setter share a name: number the repeats.
                seen[name] = seen.get(name, 0) + 1
                unique = name if seen[name] == 1 else f"{name}#{seen[name]}"
                start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                end = child.end_lineno or child.lineno
                scopes.append(Scope(unique, start, end, _digest(child)))
                visit(child, f"{unique}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return scopes


def _imported_modules(tree: ast.Module, module: str, is_package: bool) -> list[str]:
    """Absolute names of every module an import statement may load (parents included)."""
    package = module if is_package else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                base_parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            if base:
                names.append(base)
            # `from package import name` may load the submodule package.name.
            names.extend(f"{base}.{alias.name}" if base else alias.name for alias in node.names)
    expanded: set[str] = set()
    for name in names:
        parts = name.split(".")
        expanded.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(expanded)


def outline_source(text: str, *, module: str = "", is_package: bool = False) -> SourceOutline:
    """Parse ``text`` (raises SyntaxError) into its scopes, module digest and imports."""
    tree = ast.parse(text)
    module_level = _WithoutFunctions().visit(ast.parse(text))
    return SourceOutline(
        scopes=tuple(_collect_scopes(tree)),
        module_digest=_digest(module_level),
        imports=tuple(_imported_modules(tree, module, is_package)),
    )


def file_digest(text: str) -> str:
    """The content hash a map records per file (stale-map detection)."""
    return hashlib.sha256(text.encode()).hexdigest()
