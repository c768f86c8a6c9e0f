"""What an answer costs: the openai provider prices the reply's usage field; the extractive
provider is free. The perf gate caps these figures (PERF_COST_CEILING)."""

from __future__ import annotations

import httpx
import pytest

from _helpers.openai_stub import FakeOpenAI

from {{ cookiecutter.package_name }}.answer_providers.extractive import (
    ExtractiveProvider,
)
from {{ cookiecutter.package_name }}.answer_providers.openai import (
    OpenAIProvider,
    Pricing,
    usage_of,
)
from {{ cookiecutter.package_name }}.answer_providers.protocol import (
    FREE,
    SourceDocument,
)

pytestmark = pytest.mark.anyio

PRICING = Pricing(input_usd=0.15, output_usd=0.60)
DOCUMENTS = (SourceDocument(id="d1", title="Keys", body="Rotate the API keys every month."),)


def test_usage_is_priced_per_million_tokens() -> None:
    payload = {"usage": {"prompt_tokens": 2_000, "completion_tokens": 500, "total_tokens": 2_500}}
    usage = usage_of(payload, PRICING)
    assert (usage.input_tokens, usage.output_tokens) == (2_000, 500)
    assert usage.cost_usd == pytest.approx((2_000 * 0.15 + 500 * 0.60) / 1_000_000)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"usage": None},
        {"usage": {"prompt_tokens": -5, "completion_tokens": "many"}},
        {"usage": {"prompt_tokens": True}},
        [],
    ],
)
def test_missing_or_malformed_usage_counts_no_tokens(payload: object) -> None:
    assert usage_of(payload, PRICING) == FREE


async def test_the_openai_provider_reports_the_usage_of_each_reply() -> None:
    fake = FakeOpenAI()
    client = httpx.AsyncClient(
        base_url="https://api.test/v1",
        headers={"Authorization": "Bearer sk-test"},
        transport=fake.transport(),
    )
    provider = OpenAIProvider(client=client, model="m", pricing=PRICING)
    try:
        answer = await provider.answer(question="How often are keys rotated?", documents=DOCUMENTS)
    finally:
        await provider.aclose()
    # The fake's usage: a quarter token per request byte in, 20 out.
    expected_in = len(fake.requests[0].content) // 4
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (expected_in, 20)
    assert answer.usage.cost_usd == pytest.approx((expected_in * 0.15 + 20 * 0.60) / 1_000_000)


async def test_the_extractive_provider_is_free() -> None:
    answer = await ExtractiveProvider().answer(question="rotate keys", documents=DOCUMENTS)
    assert answer.citations == ("d1",)
    assert answer.usage == FREE
