"""provider_outage: the OpenAI-compatible answer provider turns slow, then fails, then returns.

The provider is the loopback stub (tests/_helpers/openai_stub.py) over real HTTP: the one true
external boundary of /ask, and the one a test may fake. The service is a real uvicorn process
with APP_ANSWER_PROVIDER=openai pointed at it.

Proves: while the provider hangs, each /ask ends at the provider timeout (502), never at the
provider's pace; after APP_ANSWER_BREAKER_FAILURES of them the breaker opens, /metrics says so,
and /ask answers 503 with Retry-After at once without calling the provider; after the cool-down
one trial call goes through (a failing provider opens the breaker again); when the provider is
back the trial succeeds, the breaker closes, and /ask answers from the model again.
"""

from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from _fixtures.chaos import (
    Dependencies,
    ServiceStarter,
    Tenant,
    client_for,
    concurrently,
    create_tenant,
    wait_until,
    write_documents,
)
from _fixtures.service import OPENAI_TEST_KEY
from _helpers.openai_stub import StubFaults, openai_stub_server

FAILURES = 3
COOLDOWN_SECONDS = 1.5
PROVIDER_TIMEOUT_SECONDS = 0.5
# The stub's pace while it hangs: far beyond the timeout, so waiting on it would show.
HANG_SECONDS = 5.0
# What one /ask may take while the provider hangs: its timeout plus the service's own work
# on a busy CI machine; well under HANG_SECONDS.
BOUNDED_SECONDS = PROVIDER_TIMEOUT_SECONDS + 1.5


def breaker_state(client: httpx.Client) -> str:
    """The state /metrics reports for the answer provider's breaker."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        if family.name == "answer_provider_circuit_state":
            current = [s.labels["state"] for s in family.samples if s.value == 1.0]
            assert len(current) == 1, family.samples
            return current[0]
    raise AssertionError("/metrics has no answer_provider_circuit_state")


def timed_ask(client: httpx.Client, tenant: Tenant) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.post("/ask", json={"question": "breaker notes"}, headers=tenant.headers)
    return response, time.monotonic() - started


def test_provider_outage(chaos_dependencies: Dependencies, chaos_service: ServiceStarter) -> None:
    faults = StubFaults()
    with (
        openai_stub_server(faults) as stub_url,
        chaos_service(
            chaos_dependencies,
            RELAY_ENABLED="false",
            ANSWER_PROVIDER="openai",
            OPENAI_BASE_URL=stub_url,
            OPENAI_API_KEY=OPENAI_TEST_KEY,
            OPENAI_TIMEOUT_SECONDS=str(PROVIDER_TIMEOUT_SECONDS),
            ANSWER_BREAKER_FAILURES=str(FAILURES),
            ANSWER_BREAKER_COOLDOWN_SECONDS=str(COOLDOWN_SECONDS),
        ) as server,
        client_for(server) as client,
    ):
        tenant = create_tenant(client)
        write_documents(client, tenant, ["breaker notes"])
        healthy, _ = timed_ask(client, tenant)
        assert (healthy.status_code, healthy.json()["provider"]) == (200, "openai"), healthy.text
        assert breaker_state(client) == "closed"

        # The provider hangs: each call ends at the provider timeout, then the breaker opens.
        faults.delay_seconds = HANG_SECONDS
        for attempt in range(FAILURES):
            response, seconds = timed_ask(client, tenant)
            assert response.status_code == 502, (attempt, response.text)
            assert seconds < BOUNDED_SECONDS, f"/ask took {seconds:.2f}s on a hung provider"
        assert breaker_state(client) == "open"

        # Open: refused at once, with Retry-After, and the provider is not called at all.
        calls_before = faults.requests
        refused = concurrently([lambda: timed_ask(client, tenant)[0] for _ in range(8)])
        assert {r.status_code for r in refused} == {503}, [r.text for r in refused]
        assert all(1 <= int(r.headers["Retry-After"]) <= 2 for r in refused)
        assert "circuit open" in refused[0].json()["detail"]
        assert faults.requests == calls_before
        _, seconds = timed_ask(client, tenant)
        assert seconds < PROVIDER_TIMEOUT_SECONDS, f"a refused /ask took {seconds:.2f}s"

        # Still down (failing fast now): the trial after the cool-down fails and reopens it.
        faults.delay_seconds, faults.status = 0.0, 500
        wait_until(lambda: breaker_state(client) == "half_open", what="breaker half-open")
        trial, _ = timed_ask(client, tenant)
        assert trial.status_code == 502, trial.text
        assert faults.requests == calls_before + 1
        assert breaker_state(client) == "open"

        # The provider is back: the next trial closes the breaker and answers flow again.
        faults.status = None
        wait_until(lambda: breaker_state(client) == "half_open", what="breaker half-open again")
        for _ in range(3):
            response, _ = timed_ask(client, tenant)
            assert (response.status_code, response.json()["provider"]) == (200, "openai")
        assert breaker_state(client) == "closed"
