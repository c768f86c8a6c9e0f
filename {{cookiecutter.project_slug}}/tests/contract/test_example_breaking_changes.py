"""Example contract tests: testkit.contract names what a new OpenAPI document breaks for clients.

With a service, the old document is the committed snapshot and the new one is what the running
app serves. Here both are small documents written inline, so each rule is visible on its own.
"""

from __future__ import annotations

import copy
from typing import Any

from testkit.contract import (
    BreakingChange,
    ChangeKind,
    breaking_changes,
    format_breaking_changes,
)

NOTE = "#/components/schemas/Note"

OLD: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Notes", "version": "1"},
    "paths": {
        "/notes/{note_id}": {
            "get": {
                "parameters": [
                    {
                        "in": "path",
                        "name": "note_id",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "responses": {
                    "200": {"content": {"application/json": {"schema": {"$ref": NOTE}}}},
                    "404": {"description": "no such note"},
                },
            }
        },
        "/notes": {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"text": {"type": "string"}},
                                "required": ["text"],
                            }
                        }
                    },
                },
                "responses": {"201": {"content": {"application/json": {"schema": {"$ref": NOTE}}}}},
            }
        },
    },
    "components": {
        "schemas": {
            "Note": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "text": {"type": "string"},
                    "created_at": {"type": "string"},
                },
                "required": ["id", "text", "created_at"],
            }
        }
    },
}


def _changed(**edits: Any) -> dict[str, Any]:
    """A deep copy of OLD; each edit is a function applied to it (documents are nested dicts)."""
    new = copy.deepcopy(OLD)
    for edit in edits.values():
        edit(new)
    return new


def _note(document: dict[str, Any]) -> dict[str, Any]:
    note: dict[str, Any] = document["components"]["schemas"]["Note"]
    return note


def _post_body(document: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = document["paths"]["/notes"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    return schema


def test_an_unchanged_document_breaks_nothing() -> None:
    assert breaking_changes(OLD, copy.deepcopy(OLD)) == []


def test_a_removed_response_field_is_reported_and_named_for_every_operation_returning_it() -> None:
    def drop_created_at(doc: dict[str, Any]) -> None:
        del _note(doc)["properties"]["created_at"]
        _note(doc)["required"].remove("created_at")

    changes = breaking_changes(OLD, _changed(drop=drop_created_at))

    assert changes == [
        BreakingChange(
            ChangeKind.REMOVED_RESPONSE_FIELD, "POST /notes", "response 201 field created_at"
        ),
        BreakingChange(
            ChangeKind.REMOVED_RESPONSE_FIELD,
            "GET /notes/{note_id}",
            "response 200 field created_at",
        ),
    ]
    assert "removed response field: GET /notes/{note_id} response 200 field created_at" in (
        format_breaking_changes(changes)
    )


def test_added_optional_fields_and_new_paths_break_nothing() -> None:
    def add_tags(doc: dict[str, Any]) -> None:
        _note(doc)["properties"]["tags"] = {"type": "array", "items": {"type": "string"}}
        _post_body(doc)["properties"]["tags"] = {"type": "array", "items": {"type": "string"}}
        doc["paths"]["/healthz"] = {"get": {"responses": {"200": {"description": "ok"}}}}

    assert breaking_changes(OLD, _changed(add=add_tags)) == []


def test_a_new_required_request_field_and_a_changed_type_are_reported() -> None:
    def require_title(doc: dict[str, Any]) -> None:
        _post_body(doc)["properties"]["title"] = {"type": "string"}
        _post_body(doc)["required"].append("title")

    def id_becomes_a_string(doc: dict[str, Any]) -> None:
        _note(doc)["properties"]["id"] = {"type": "string"}

    changes = breaking_changes(OLD, _changed(title=require_title, id=id_becomes_a_string))

    assert {(c.kind, c.operation, c.location) for c in changes} == {
        (ChangeKind.NEW_REQUIRED_REQUEST_FIELD, "POST /notes", "request body field title"),
        (ChangeKind.CHANGED_FIELD_TYPE, "POST /notes", "response 201 field id"),
        (ChangeKind.CHANGED_FIELD_TYPE, "GET /notes/{note_id}", "response 200 field id"),
    }
    assert all(
        "integer -> string" in c.detail for c in changes if c.kind is ChangeKind.CHANGED_FIELD_TYPE
    )


def test_a_removed_operation_is_reported() -> None:
    def drop_post(doc: dict[str, Any]) -> None:
        del doc["paths"]["/notes"]["post"]

    assert [str(c) for c in breaking_changes(OLD, _changed(drop=drop_post))] == [
        "removed operation: POST /notes"
    ]
