"""Breaking changes between two OpenAPI 3 documents, named down to the field.

A client written against ``old`` keeps working against ``new`` unless an operation it calls
is gone, a response field it reads is gone or changed type, or a request it sends now lacks
a required field. Additions (new paths, new optional fields, new response fields) are fine.

Hand-written: the maintained diff tools (oasdiff, openapi-diff) are Go/Java programs, and a
test needs the changes as data with field paths, not a report to parse. Only what FastAPI
emits is covered: JSON bodies, ``$ref`` to ``#/components/schemas``, anyOf/oneOf/allOf,
arrays and nested objects.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_REF_PREFIX = "#/components/schemas/"
JSON = Mapping[str, Any]


class ChangeKind(enum.Enum):
    REMOVED_PATH = "removed path"
    REMOVED_OPERATION = "removed operation"
    REMOVED_RESPONSE_FIELD = "removed response field"
    NEW_REQUIRED_REQUEST_FIELD = "new required request field"
    CHANGED_FIELD_TYPE = "changed field type"


@dataclass(frozen=True, slots=True)
class BreakingChange:
    kind: ChangeKind
    operation: str
    """``METHOD /path`` (just ``/path`` for a removed path)."""
    location: str
    """Where in the operation: ``response 200 field items[].title``, ``query parameter q``..."""
    detail: str = ""

    def __str__(self) -> str:
        where = f"{self.operation} {self.location}".strip()
        return f"{self.kind.value}: {where}" + (f" ({self.detail})" if self.detail else "")


def breaking_changes(old: JSON, new: JSON) -> list[BreakingChange]:
    """Every change from ``old`` to ``new`` that can break an existing client, in path order."""
    return list(_Differ(old, new).run())


def format_breaking_changes(changes: list[BreakingChange]) -> str:
    """One line per change, for an assertion message."""
    return "\n".join(f"  - {change}" for change in changes)


class _Differ:
    def __init__(self, old: JSON, new: JSON) -> None:
        self.old = old
        self.new = new

    def run(self) -> Iterator[BreakingChange]:
        old_paths: JSON = self.old.get("paths", {})
        new_paths: JSON = self.new.get("paths", {})
        for path in sorted(old_paths):
            if path not in new_paths:
                yield BreakingChange(ChangeKind.REMOVED_PATH, path, "")
                continue
            for method in HTTP_METHODS:
                old_op = old_paths[path].get(method)
                if old_op is None:
                    continue
                operation = f"{method.upper()} {path}"
                new_op = new_paths[path].get(method)
                if new_op is None:
                    yield BreakingChange(ChangeKind.REMOVED_OPERATION, operation, "")
                    continue
                yield from self._parameters(operation, old_op, new_op)
                yield from self._request_body(operation, old_op, new_op)
                yield from self._responses(operation, old_op, new_op)

    # --- requests: what the client sends ---------------------------------------------------

    def _parameters(self, operation: str, old_op: JSON, new_op: JSON) -> Iterator[BreakingChange]:
        old_params = {(p["in"], p["name"]): p for p in old_op.get("parameters", [])}
        for param in new_op.get("parameters", []):
            key = (param["in"], param["name"])
            location = f"{param['in']} parameter {param['name']}"
            previous = old_params.get(key)
            if param.get("required") and (previous is None or not previous.get("required")):
                yield BreakingChange(ChangeKind.NEW_REQUIRED_REQUEST_FIELD, operation, location)
            if previous is not None:
                yield from self._type_change(
                    operation, location, previous.get("schema", {}), param.get("schema", {})
                )

    def _request_body(self, operation: str, old_op: JSON, new_op: JSON) -> Iterator[BreakingChange]:
        new_schema = _json_schema(new_op.get("requestBody"))
        if new_schema is None:
            return
        old_schema = _json_schema(old_op.get("requestBody"))
        if old_schema is None:
            if new_op["requestBody"].get("required"):
                yield BreakingChange(
                    ChangeKind.NEW_REQUIRED_REQUEST_FIELD, operation, "request body"
                )
            return
        yield from self._request_fields(operation, "request body field ", old_schema, new_schema)

    def _request_fields(
        self, operation: str, prefix: str, old_schema: JSON, new_schema: JSON, depth: int = 0
    ) -> Iterator[BreakingChange]:
        old_schema, new_schema = _items_of_arrays(self.old, old_schema, self.new, new_schema)
        old_props, old_required = _object_shape(self.old, old_schema)
        new_props, new_required = _object_shape(self.new, new_schema)
        for name in sorted(new_props):
            location = f"{prefix}{name}"
            if name in new_required and (name not in old_props or name not in old_required):
                yield BreakingChange(ChangeKind.NEW_REQUIRED_REQUEST_FIELD, operation, location)
            if name in old_props:
                yield from self._type_change(operation, location, old_props[name], new_props[name])
                if depth < _MAX_DEPTH:
                    yield from self._request_fields(
                        operation, location + ".", old_props[name], new_props[name], depth + 1
                    )

    # --- responses: what the client reads --------------------------------------------------

    def _responses(self, operation: str, old_op: JSON, new_op: JSON) -> Iterator[BreakingChange]:
        old_responses: JSON = old_op.get("responses", {})
        new_responses: JSON = new_op.get("responses", {})
        for status in sorted(old_responses):
            # Success bodies are what clients parse; error bodies are read loosely if at all.
            if not str(status).startswith("2"):
                continue
            old_schema = _json_schema(old_responses[status])
            if old_schema is None:
                continue
            new_schema = _json_schema(new_responses.get(status))
            if new_schema is None:
                yield BreakingChange(
                    ChangeKind.CHANGED_FIELD_TYPE,
                    operation,
                    f"response {status}",
                    "the JSON body is gone",
                )
                continue
            top = "[]." if "array" in _types(self.old, old_schema) else ""
            yield from self._response_fields(
                operation, f"response {status} field {top}", old_schema, new_schema
            )

    def _response_fields(
        self, operation: str, prefix: str, old_schema: JSON, new_schema: JSON, depth: int = 0
    ) -> Iterator[BreakingChange]:
        old_schema, new_schema = _items_of_arrays(self.old, old_schema, self.new, new_schema)
        old_props, _ = _object_shape(self.old, old_schema)
        new_props, _ = _object_shape(self.new, new_schema)
        added = sorted(set(new_props) - set(old_props))
        for name in sorted(old_props):
            location = f"{prefix}{name}"
            if name not in new_props:
                hint = f"renamed to {added[0]!r}?" if len(added) == 1 else ""
                yield BreakingChange(ChangeKind.REMOVED_RESPONSE_FIELD, operation, location, hint)
                continue
            yield from self._type_change(operation, location, old_props[name], new_props[name])
            if depth < _MAX_DEPTH:
                suffix = "[]." if "array" in _types(self.old, old_props[name]) else "."
                yield from self._response_fields(
                    operation, location + suffix, old_props[name], new_props[name], depth + 1
                )

    def _type_change(
        self, operation: str, location: str, old_schema: JSON, new_schema: JSON
    ) -> Iterator[BreakingChange]:
        old_types = _types(self.old, old_schema)
        new_types = _types(self.new, new_schema)
        if old_types != new_types and "any" not in old_types:
            yield BreakingChange(
                ChangeKind.CHANGED_FIELD_TYPE,
                operation,
                location,
                f"{_show(old_types)} -> {_show(new_types)}",
            )


# Deep enough for any real API; stops recursive schemas (a tree of nodes) from looping.
_MAX_DEPTH = 8


def _json_schema(holder: JSON | None) -> JSON | None:
    """The application/json schema of a request body or response object, if it has one."""
    if not holder:
        return None
    content: JSON = holder.get("content", {})
    media = content.get("application/json")
    if media is None:
        return None
    schema: JSON | None = media.get("schema")
    return schema


def _resolve(document: JSON, schema: JSON) -> JSON:
    seen: set[str] = set()
    while "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith(_REF_PREFIX) or ref in seen:
            raise ValueError(f"unsupported or cyclic $ref {ref!r}; expected {_REF_PREFIX}<Name>")
        seen.add(ref)
        schema = document["components"]["schemas"][ref.removeprefix(_REF_PREFIX)]
    return schema


def _variants(document: JSON, schema: JSON) -> list[JSON]:
    """The schema's alternatives (anyOf/oneOf/allOf members), each resolved, flattened."""
    schema = _resolve(document, schema)
    members = [*schema.get("anyOf", []), *schema.get("oneOf", []), *schema.get("allOf", [])]
    if not members:
        return [schema]
    return [variant for member in members for variant in _variants(document, member)]


def _types(document: JSON, schema: JSON) -> frozenset[str]:
    """The JSON types a value of ``schema`` may have ("any" when unconstrained)."""
    types: set[str] = set()
    for variant in _variants(document, schema):
        declared = variant.get("type")
        if isinstance(declared, str):
            types.add(declared)
        elif isinstance(declared, list):
            types.update(str(item) for item in declared)
        elif "properties" in variant:
            types.add("object")
        elif "const" in variant or "enum" in variant:
            types.add("enum")
        else:
            types.add("any")
    return frozenset(types)


def _object_shape(document: JSON, schema: JSON) -> tuple[dict[str, JSON], set[str]]:
    """Properties and required names over every object alternative of ``schema``."""
    properties: dict[str, JSON] = {}
    required: set[str] = set()
    for variant in _variants(document, schema):
        properties.update(variant.get("properties", {}))
        required.update(variant.get("required", []))
    return properties, required


def _items_of_arrays(
    old_doc: JSON, old_schema: JSON, new_doc: JSON, new_schema: JSON
) -> tuple[JSON, JSON]:
    """Look through arrays on both sides to the item schemas (fields of list elements)."""
    old_items = [v["items"] for v in _variants(old_doc, old_schema) if "items" in v]
    new_items = [v["items"] for v in _variants(new_doc, new_schema) if "items" in v]
    if old_items and new_items:
        return old_items[0], new_items[0]
    return old_schema, new_schema


def _show(types: frozenset[str]) -> str:
    return " | ".join(sorted(types))
