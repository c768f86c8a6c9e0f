"""Contract tier: a live uvicorn server of its own, with a rate limit the fuzzer cannot reach."""

from __future__ import annotations

import httpx
import pytest

from _fixtures.service import TEST_ADMIN_TOKEN, LiveServerFactory
from testkit.server import RunningServer

# Schemathesis sends hundreds of requests with one key inside a minute.
CONTRACT_RATE_LIMIT_PER_MINUTE = "1000000"
# A schema-violating body (one character over maxLength) can take several MB once JSON-escaped;
# it must reach validation (422), not stop at the request-size limit (413, which schemathesis
# does not count as rejecting negative data). The limit itself is tested in tests/security.
CONTRACT_MAX_REQUEST_BYTES = str(64 * 1024 * 1024)


@pytest.fixture(scope="session")
def contract_server(live_server_factory: LiveServerFactory) -> RunningServer:
    return live_server_factory(
        rate_limit_per_minute=CONTRACT_RATE_LIMIT_PER_MINUTE,
        max_request_bytes=CONTRACT_MAX_REQUEST_BYTES,
    )


@pytest.fixture(scope="session")
def contract_headers(contract_server: RunningServer) -> dict[str, str]:
    """A tenant API key and the admin token: every operation is reachable, none skipped."""
    response = httpx.post(
        contract_server.base_url + "/admin/tenants",
        json={"name": "contract"},
        headers={"X-Admin-Token": TEST_ADMIN_TOKEN},
        timeout=10.0,
    )
    assert response.status_code == 201, response.text
    return {"X-API-Key": response.json()["api_key"]["key"], "X-Admin-Token": TEST_ADMIN_TOKEN}
