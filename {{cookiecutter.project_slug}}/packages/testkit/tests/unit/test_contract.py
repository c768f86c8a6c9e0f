"""testkit.contract.breaking_changes on small OpenAPI documents shaped like FastAPI's."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from testkit.contract import BreakingChange, ChangeKind, breaking_changes, format_breaking_changes


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def base_document() -> dict[str, Any]:
    """Two endpoints: create/list items, and read one, with $refs and an Optional field."""
    return {
        "openapi": "3.1.0",
        "paths": {
            "/items": {
                "post": {
                    "requestBody": {"required": True, **_json({"$ref": "#/components/schemas/In"})},
                    "responses": {"201": _json({"$ref": "#/components/schemas/Out"})},
                },
                "get": {
                    "parameters": [
                        {
                            "in": "query",
                            "name": "limit",
                            "required": False,
                            "schema": {"type": "integer"},
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {"type": "array", "items": {"$ref": "#/components/schemas/Out"}}
                        )
                    },
                },
            },
            "/items/{item_id}": {
                "get": {
                    "parameters": [
                        {
                            "in": "path",
                            "name": "item_id",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Out"}),
                        "404": _json({"$ref": "#/components/schemas/Error"}),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "In": {
                    "type": "object",
                    "properties": {"title": {"type": "string"}, "tags": {"type": "array"}},
                    "required": ["title"],
                },
                "Out": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "title": {"type": "string"},
                        "owner": {
                            "anyOf": [{"$ref": "#/components/schemas/Owner"}, {"type": "null"}]
                        },
                    },
                    "required": ["id", "title"],
                },
                "Owner": {"type": "object", "properties": {"name": {"type": "string"}}},
                "Error": {"type": "object", "properties": {"detail": {"type": "string"}}},
            }
        },
    }


def test_identical_documents_have_no_breaking_changes() -> None:
    assert breaking_changes(base_document(), base_document()) == []


def test_additions_are_not_breaking() -> None:
    new = base_document()
    new["paths"]["/other"] = {"get": {"responses": {}}}
    new["paths"]["/items/{item_id}"]["delete"] = {"responses": {"204": {}}}
    new["components"]["schemas"]["Out"]["properties"]["extra"] = {"type": "integer"}
    new["components"]["schemas"]["In"]["properties"]["note"] = {"type": "string"}
    new["paths"]["/items"]["get"]["parameters"].append(
        {"in": "query", "name": "sort", "required": False, "schema": {"type": "string"}}
    )

    assert breaking_changes(base_document(), new) == []


def test_a_removed_path_and_a_removed_operation_are_named() -> None:
    new = base_document()
    del new["paths"]["/items/{item_id}"]
    del new["paths"]["/items"]["get"]

    assert breaking_changes(base_document(), new) == [
        BreakingChange(ChangeKind.REMOVED_OPERATION, "GET /items", ""),
        BreakingChange(ChangeKind.REMOVED_PATH, "/items/{item_id}", ""),
    ]


def test_a_renamed_response_field_is_reported_as_removed_with_a_rename_hint() -> None:
    new = base_document()
    out = new["components"]["schemas"]["Out"]
    out["properties"]["name"] = out["properties"].pop("title")

    changes = breaking_changes(base_document(), new)

    # Out is used by three responses; each is a place a client reads "title".
    assert [str(change) for change in changes] == [
        "removed response field: GET /items response 200 field [].title (renamed to 'name'?)",
        "removed response field: POST /items response 201 field title (renamed to 'name'?)",
        "removed response field: GET /items/{item_id} response 200 field title "
        "(renamed to 'name'?)",
    ]


def test_a_nested_response_field_removed_behind_an_optional_ref_is_found() -> None:
    new = base_document()
    del new["components"]["schemas"]["Owner"]["properties"]["name"]

    changes = breaking_changes(base_document(), new)

    assert "GET /items/{item_id} response 200 field owner.name" in format_breaking_changes(changes)
    assert {change.kind for change in changes} == {ChangeKind.REMOVED_RESPONSE_FIELD}


def test_error_response_bodies_are_not_compared() -> None:
    new = base_document()
    new["components"]["schemas"]["Error"]["properties"] = {"message": {"type": "string"}}

    assert breaking_changes(base_document(), new) == []


def test_a_new_required_body_field_and_a_newly_required_parameter_are_breaking() -> None:
    new = base_document()
    new["components"]["schemas"]["In"]["properties"]["owner"] = {"type": "string"}
    new["components"]["schemas"]["In"]["required"] = ["title", "owner", "tags"]
    new["paths"]["/items"]["get"]["parameters"][0]["required"] = True

    assert [str(change) for change in breaking_changes(base_document(), new)] == [
        "new required request field: GET /items query parameter limit",
        "new required request field: POST /items request body field owner",
        "new required request field: POST /items request body field tags",
    ]


def test_a_changed_field_type_names_both_types() -> None:
    new = base_document()
    new["components"]["schemas"]["Out"]["properties"]["id"] = {"type": "integer"}
    new["paths"]["/items"]["get"]["parameters"][0]["schema"] = {"type": "string"}

    changes = [str(change) for change in breaking_changes(base_document(), new)]

    assert "changed field type: GET /items query parameter limit (integer -> string)" in changes
    assert "changed field type: POST /items response 201 field id (string -> integer)" in changes
    assert len(changes) == 4  # the id of three responses, and the parameter


def test_making_a_response_field_nullable_is_a_type_change() -> None:
    new = base_document()
    new["components"]["schemas"]["Out"]["properties"]["title"] = {
        "anyOf": [{"type": "string"}, {"type": "null"}]
    }

    changes = breaking_changes(base_document(), new)

    assert changes[0].detail == "string -> null | string"


def test_a_dropped_json_response_body_is_breaking() -> None:
    new = base_document()
    new["paths"]["/items/{item_id}"]["get"]["responses"]["200"] = {"description": "empty"}

    assert [str(change) for change in breaking_changes(base_document(), new)] == [
        "changed field type: GET /items/{item_id} response 200 (the JSON body is gone)"
    ]


def test_a_ref_outside_components_is_refused_by_name() -> None:
    new = copy.deepcopy(base_document())
    new["paths"]["/items"]["post"]["responses"]["201"] = _json({"$ref": "other.json#/X"})

    with pytest.raises(ValueError, match=r"unsupported or cyclic \$ref 'other.json#/X'"):
        breaking_changes(base_document(), new)
