"""/metrics reports the answer provider's breaker state, calls, tokens and cost, in the names
the perf gate reads: its PERF_COST_CEILING decision, fed this service's real exposition, fails
a ceiling under the measured cost per answer and passes one above it."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from _fixtures.factories import Persist
from _fixtures.service import OPENAI_TEST_KEY, ServiceFactory
from _helpers.openai_stub import openai_stub_server
from testkit.perf.cost import check_cost, provider_spend
from testkit.perf.gate import PerfVerdict

pytestmark = pytest.mark.anyio

ANSWERS = 3


def sample_values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "provider"))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("answer_provider_")
    }


async def test_the_provider_figures_on_metrics_are_what_the_cost_ceiling_judges(
    service_factory: ServiceFactory, persist: Persist
) -> None:
    with openai_stub_server() as base_url:
        service = await service_factory(
            answer_provider="openai", openai_base_url=base_url, openai_api_key=OPENAI_TEST_KEY
        )
        tenant = await persist.tenant()
        key = await persist.api_key(tenant=tenant)
        await persist.document(tenant=tenant, title="Payroll", body="Payroll runs on Fridays.")
        for _ in range(ANSWERS):
            response = await service.client.post(
                "/ask", json={"question": "When does payroll run?"}, headers=key.headers
            )
            assert response.status_code == 200, response.text
        metrics = await service.client.get("/metrics")
    assert metrics.status_code == 200
    values = sample_values(metrics.text)
    assert values[("answer_provider_circuit_state", (("state", "closed"),))] == 1.0
    assert values[("answer_provider_circuit_state", (("state", "open"),))] == 0.0
    assert values[("answer_provider_calls_total", (("outcome", "success"),))] == ANSWERS
    assert values[("answer_provider_calls_total", (("outcome", "failure"),))] == 0.0
    input_tokens = values[("answer_provider_tokens_total", (("direction", "input"),))]
    output_tokens = values[("answer_provider_tokens_total", (("direction", "output"),))]
    assert output_tokens == 20 * ANSWERS  # the stub's completion_tokens
    # The default prices (gpt-4o-mini's): USD 0.15 and 0.60 per million tokens.
    cost = values[("answer_provider_cost_usd_total", ())]
    assert cost == pytest.approx((input_tokens * 0.15 + output_tokens * 0.60) / 1_000_000)

    spend = provider_spend(metrics.text)
    assert spend is not None
    assert spend.answers == ANSWERS
    per_answer = cost / ANSWERS
    assert check_cost(spend, per_answer * 0.9).verdict is PerfVerdict.REGRESSION
    assert check_cost(spend, per_answer * 1.1).verdict is PerfVerdict.PASS
