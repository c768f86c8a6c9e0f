"""Document the errors every route of a kind answers with, in the OpenAPI of each such route.

FastAPI documents a route's success and its 422, but not what the shared machinery answers:
the guards' 401 and the rate limit's 429 (routes with a ``security`` entry), 404 for an id in
the path that is not the caller's, 400 for a body that is not JSON at all, 413 for a body over
the request-size limit, and 422 with a
plain-string ``detail`` from the service's own checks (FastAPI's schema only allows its list).
A client generated from the document would not know them, and the contract tier
(schemathesis) rightly reports them as undocumented. Operations are found by their shape, so
a router added later is covered too. Done with FastAPI's documented hook for extending the
schema (replacing ``app.openapi``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

# The API-key guard also applies the per-tenant rate limit; the admin guard does not.
RATE_LIMITED_SCHEMES = frozenset({"ApiKey"})
_ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_ERROR_REF = {"$ref": "#/components/schemas/ErrorDetail"}


def _error(description: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ERROR_REF}},
    }
    if headers:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return response


UNAUTHORIZED = _error("Missing, invalid or revoked credentials.")
NOT_FOUND = _error("No such resource for the caller's tenant (another tenant's ids included).")
MALFORMED_BODY = _error("The request body is not valid JSON.")
BODY_TOO_LARGE = _error("The request body is larger than APP_MAX_REQUEST_BYTES allows.")
TOO_MANY_REQUESTS = _error(
    "The tenant's rate limit is exhausted for this minute.",
    {"Retry-After": "Seconds until the next window opens."},
)


def add_common_error_responses(document: dict[str, Any]) -> None:
    """Add the shared errors to every operation they apply to (idempotent)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorDetail", {**_ERROR_BODY, "title": "ErrorDetail"})
    for path, path_item in document.get("paths", {}).items():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            schemes = {name for req in operation.get("security", []) for name in req}
            if schemes:
                responses.setdefault("401", UNAUTHORIZED)
            if schemes & RATE_LIMITED_SCHEMES:
                responses.setdefault("429", TOO_MANY_REQUESTS)
            if "{" in path and schemes:
                responses.setdefault("404", NOT_FOUND)
            if "requestBody" in operation:
                responses.setdefault("400", MALFORMED_BODY)
                responses.setdefault("413", BODY_TOO_LARGE)
            _allow_string_detail(responses.get("422"))


def _allow_string_detail(response: dict[str, Any] | None) -> None:
    """422 bodies: FastAPI's validation list, or the service's own one-line message."""
    if response is None:
        return
    media = response.get("content", {}).get("application/json")
    if media is None or "anyOf" in media.get("schema", {}):
        return
    media["schema"] = {"anyOf": [media["schema"], _ERROR_REF]}


def document_common_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the document with the shared errors added."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()  # FastAPI caches it; adding is idempotent (setdefault)
        add_common_error_responses(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
