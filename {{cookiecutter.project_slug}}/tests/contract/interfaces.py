"""Static interface checks of the service's code against the libraries it calls.

Finds, by reading the source (ast), every call ``x.method(...)`` where ``x`` is known to hold
a collaborator from redis, SQLAlchemy, nats or httpx: a parameter, ``self`` attribute or
dataclass field annotated with such a class, or a name bound by ``with``/``=`` to a call of
one. Each call is checked against the installed library: the method exists, and the call's
positional and keyword arguments bind to its signature (inspect.signature). Also finds
``SomeEnum.MEMBER`` references to the service's own enums and checks each member exists.
A typo or an upgrade that renamed a method or keyword fails here, before a rarely taken
code path meets it in production. Hand-written: no maintained tool checks calls into
untyped or partially typed libraries this way (mypy sees through ``Any`` in some of them).
"""

from __future__ import annotations

import ast
import enum
import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path

COLLABORATOR_PACKAGES = ("redis", "sqlalchemy", "nats", "httpx")


@dataclass(frozen=True, slots=True)
class CallSite:
    path: Path
    line: int
    owner: type
    method: str
    positional: int
    keywords: tuple[str, ...]
    unpacked: bool

    def __str__(self) -> str:
        owner = f"{self.owner.__module__}.{self.owner.__qualname__}"
        return f"{self.path.name}:{self.line} {owner}.{self.method}"


@dataclass(slots=True)
class _Module:
    path: Path
    tree: ast.Module
    imports: dict[str, str] = field(default_factory=dict)


def _load(path: Path) -> _Module:
    module = _Module(path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                module.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                module.imports[alias.asname or alias.name] = alias.name
    return module


def _import_dotted(dotted: str) -> object | None:
    """The object at a dotted path (module, then attributes), None when there is none."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute, None)
            if obj is None:
                return None
        return obj
    return None


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _resolve_type(node: ast.expr | None, module: _Module) -> type | None:
    """A collaborator class named by an annotation or constructor expression, else None."""
    if node is None:
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        # "X | None" holds an X when it holds anything; "str | X" may not hold an X at all.
        sides = [side for side in (node.left, node.right) if not _is_none(side)]
        kinds = {_resolve_type(side, module) for side in sides}
        return kinds.pop() if len(kinds) == 1 else None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _resolve_type(ast.parse(node.value, mode="eval").body, module)
    name = _dotted(node)
    if name is None:
        return None
    head, _, rest = name.partition(".")
    qualified = module.imports.get(head, head) + (f".{rest}" if rest else "")
    if not qualified.startswith(tuple(f"{package}." for package in COLLABORATOR_PACKAGES)):
        return None
    obj = _import_dotted(qualified)
    return obj if isinstance(obj, type) else None


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _class_fields(modules: list[_Module]) -> dict[str, dict[str, type]]:
    """Per service class: attributes holding a collaborator (fields and ``self.x``)."""
    fields: dict[str, dict[str, type]] = {}
    for module in modules:
        for cls in (n for n in ast.walk(module.tree) if isinstance(n, ast.ClassDef)):
            found = fields.setdefault(cls.name, {})
            for node in ast.walk(cls):
                if isinstance(node, ast.AnnAssign):
                    target = _dotted(node.target)
                    kind = _resolve_type(node.annotation, module)
                    if target and kind:
                        found[target.removeprefix("self.")] = kind
                elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    params = _parameters(node, module)
                    for assign in (n for n in ast.walk(node) if isinstance(n, ast.Assign)):
                        value = _dotted(assign.value)
                        for assigned in assign.targets:
                            name = _dotted(assigned)
                            if name and name.startswith("self.") and value in params:
                                found[name.removeprefix("self.")] = params[value]
    return fields


def _parameters(
    function: ast.FunctionDef | ast.AsyncFunctionDef, module: _Module
) -> dict[str, type]:
    args = function.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    return {
        arg.arg: kind
        for arg in every
        if (kind := _resolve_type(arg.annotation, module)) is not None
    }


def _local_bindings(function: ast.AST, module: _Module) -> dict[str, type]:
    """Names bound to a collaborator constructor: ``x = httpx.AsyncClient(...)``, ``with``."""
    bound: dict[str, type] = {}
    for node in ast.walk(function):
        pairs: list[tuple[ast.expr, ast.expr | None]] = []
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            pairs = [(target, node.value) for target in node.targets]
        elif isinstance(node, ast.With | ast.AsyncWith):
            pairs = [
                (item.optional_vars, item.context_expr)
                for item in node.items
                if item.optional_vars is not None
            ]
        for target, value in pairs:
            if isinstance(target, ast.Name) and isinstance(value, ast.Call):
                kind = _resolve_type(value.func, module)
                if kind is not None:
                    bound[target.id] = kind
    return bound


def collaborator_calls(source_root: Path) -> list[CallSite]:
    modules = [_load(path) for path in sorted(source_root.rglob("*.py"))]
    fields = _class_fields(modules)
    # Service classes by name, so `resources.redis` resolves through Resources.redis.
    calls: list[CallSite] = []
    for module in modules:
        for function in (
            n
            for n in ast.walk(module.tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ):
            known: dict[str, type] = {
                **_parameters(function, module),
                **_local_bindings(function, module),
            }
            service_typed = {
                arg.arg: _dotted(arg.annotation)
                for arg in [*function.args.args, *function.args.kwonlyargs]
                if arg.annotation is not None and _dotted(arg.annotation) in fields
            }
            enclosing = _enclosing_class(module.tree, function)
            for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
                if not isinstance(call.func, ast.Attribute):
                    continue
                receiver = _dotted(call.func.value)
                if receiver is None:
                    continue
                owner = known.get(receiver)
                head, _, attribute = receiver.partition(".")
                if owner is None and attribute and "." not in attribute:
                    if head == "self" and enclosing is not None:
                        owner = fields.get(enclosing, {}).get(attribute)
                    elif head in service_typed:
                        owner = fields.get(service_typed[head] or "", {}).get(attribute)
                if owner is None:
                    continue
                calls.append(
                    CallSite(
                        path=module.path,
                        line=call.lineno,
                        owner=owner,
                        method=call.func.attr,
                        positional=len(call.args),
                        keywords=tuple(k.arg for k in call.keywords if k.arg is not None),
                        unpacked=any(isinstance(a, ast.Starred) for a in call.args)
                        or any(k.arg is None for k in call.keywords),
                    )
                )
    return calls


def _enclosing_class(tree: ast.Module, function: ast.AST) -> str | None:
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        if any(node is function for node in ast.walk(cls)):
            return cls.name
    return None


def call_problem(call: CallSite) -> str | None:
    """Why the call cannot work against the installed library, or None when it can."""
    if not hasattr(call.owner, call.method):
        return f"{call}: no such method"
    raw = inspect.getattr_static(call.owner, call.method)
    if isinstance(raw, property) or call.unpacked:
        return None  # nothing to bind: a property's result, or *args/**kwargs at the call
    try:
        signature = inspect.signature(getattr(call.owner, call.method))
    except (TypeError, ValueError):
        return None  # a builtin without an introspectable signature: existence is all we know
    takes_self = not isinstance(raw, staticmethod | classmethod)
    placeholders = [object()] * (call.positional + (1 if takes_self else 0))
    try:
        signature.bind(*placeholders, **dict.fromkeys(call.keywords, object()))
    except TypeError as error:
        return f"{call}{signature}: {error}"
    return None


def enum_references(
    source_root: Path, package: str
) -> list[tuple[Path, int, type[enum.Enum], str]]:
    """Every ``EnumClass.NAME`` in the service where EnumClass is one of its own enums."""
    references = []
    for path in sorted(source_root.rglob("*.py")):
        module = _load(path)
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Attribute) or not node.attr.isupper():
                continue
            owner_name = _dotted(node.value)
            if owner_name is None:
                continue
            head, _, rest = owner_name.partition(".")
            qualified = module.imports.get(
                head, f"{_module_name(path, source_root, package)}.{head}"
            )
            owner = _import_dotted(qualified + (f".{rest}" if rest else ""))
            if isinstance(owner, type) and issubclass(owner, enum.Enum):
                references.append((path, node.lineno, owner, node.attr))
    return references


def _module_name(path: Path, source_root: Path, package: str) -> str:
    relative = path.relative_to(source_root).with_suffix("")
    parts = [part for part in relative.parts if part != "__init__"]
    return ".".join([package, *parts])
