"""Schemathesis against the live server: every operation, positive and negative inputs.

Checks: schemathesis' defaults (no 5xx, documented status codes, content types and headers,
response bodies valid against their schemas, invalid input rejected with a 4xx) minus the two
in EXCLUDED_CHECKS. Cases are generated from the app's OpenAPI at collection time (one test per
operation) and sent to the uvicorn server; test_the_server_serves_this_document proves the
server publishes exactly that document.
"""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from testkit.server import RunningServer

from {{ cookiecutter.package_name }}.main import (
    create_app,
)
from {{ cookiecutter.package_name }}.settings import (
    Settings,
)

# - positive_data_acceptance: the service checks more than a schema can say (a query that
#   is all spaces or too long once normalised, NUL characters, cursors only it issued) and
#   answers 422 with a message; schema-valid is not the same as acceptable.
# - allow_header_conformance and unsupported_method: FastAPI routes per path *and* method,
#   so a 405's Allow lists only the first matching route's methods, and a method a path
#   lacks can match a sibling template instead (PATCH /documents/ingest reaches
#   PATCH /documents/{document_id} and answers 422 for the id, not 405).
EXCLUDED_CHECKS = [
    checks.positive_data_acceptance,
    checks.allow_header_conformance,
    checks.unsupported_method,
]

# Per operation and phase; keeps the whole tier well under 30 seconds on two cores.
MAX_EXAMPLES = 8


def _openapi() -> dict[str, Any]:
    # Development settings whatever the shell says: only the routes matter, and building
    # the app opens no connection.
    document: dict[str, Any] = create_app(Settings(env="development")).openapi()
    return document


OPENAPI = _openapi()
# Ingest fetches the URL it is given: generated URLs would send DNS lookups for made-up hosts
# off this machine. Ingest's contract is tested against loopback servers in tests/security
# and tests/integration instead.
schema = schemathesis.openapi.from_dict(OPENAPI).exclude(path="/documents/ingest")


def test_the_server_serves_this_document(contract_server: RunningServer) -> None:
    served = httpx.get(contract_server.base_url + "/openapi.json", timeout=10.0)

    assert served.status_code == 200
    assert served.json() == OPENAPI


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_live_api_conforms_to_its_openapi(
    case: schemathesis.Case, contract_server: RunningServer, contract_headers: dict[str, str]
) -> None:
    case.call_and_validate(
        base_url=contract_server.base_url,
        headers=contract_headers,
        excluded_checks=EXCLUDED_CHECKS,
    )
