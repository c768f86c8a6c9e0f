"""The live OpenAPI document against the committed snapshot: breaking changes fail, named.

Additions pass (rewrite the snapshot to protect them too); a removed path or operation, a
removed or renamed response field, a new required request field or a changed field type
fails with one line per change. Accept a change on purpose with `make contract-snapshot`,
which rewrites tests/contract/openapi.snapshot.json; commit it with the API change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from testkit.contract import breaking_changes, format_breaking_changes
from testkit.server import RunningServer

SNAPSHOT = Path(__file__).with_name("openapi.snapshot.json")
UPDATE_VARIABLE = "CONTRACT_SNAPSHOT_UPDATE"


def render(document: dict[str, Any]) -> str:
    # Sorted keys and a trailing newline: stable diffs in review.
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.fixture
def live_document(contract_server: RunningServer) -> dict[str, Any]:
    response = httpx.get(contract_server.base_url + "/openapi.json", timeout=10.0)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_the_openapi_document_has_no_breaking_change_from_the_snapshot(
    live_document: dict[str, Any],
) -> None:
    if os.environ.get(UPDATE_VARIABLE) == "1":
        SNAPSHOT.write_text(render(live_document), encoding="utf-8")
        return
    if not SNAPSHOT.exists():
        pytest.fail(f"{SNAPSHOT} is missing: run `make contract-snapshot` and commit it")
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))

    changes = breaking_changes(snapshot, live_document)

    assert not changes, (
        f"the API broke its contract ({SNAPSHOT.name}):\n{format_breaking_changes(changes)}\n"
        "If the change is intended, run `make contract-snapshot` and commit the snapshot."
    )
