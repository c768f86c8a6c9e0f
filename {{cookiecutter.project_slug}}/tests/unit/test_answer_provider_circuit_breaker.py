"""The answer provider's circuit breaker, on a clock the test moves: closed, open after N
failures in a row, half-open after the cool-down, closed by a good trial, open again by a bad
one; and the figures it exposes to /metrics."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from _helpers.clock import FrozenClock

from {{ cookiecutter.package_name }}.answer_providers.circuit_breaker import (
    ProviderCircuitBreaker,
    ProviderUnavailableError,
)
from {{ cookiecutter.package_name }}.answer_providers.guarded import (
    GuardedProvider,
)
from {{ cookiecutter.package_name }}.answer_providers.protocol import (
    AnswerProviderError,
    ProviderAnswer,
    SourceDocument,
    Usage,
)

pytestmark = pytest.mark.anyio

FAILURES = 3
COOLDOWN = 10.0
DOCUMENTS = (SourceDocument(id="d1", title="t", body="b"),)
PAID = Usage(input_tokens=1_000, output_tokens=200, cost_usd=0.25)


class ScriptedProvider:
    """The provider's network boundary, faked: answers, or fails while ``down``."""

    name = "scripted"

    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    async def answer(
        self, *, question: str, documents: tuple[SourceDocument, ...]
    ) -> ProviderAnswer:
        self.calls += 1
        if self.down:
            raise AnswerProviderError("provider unreachable (ConnectError)")
        return ProviderAnswer(text="answer", citations=("d1",), usage=PAID)

    async def aclose(self) -> None:
        return None


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_000.0)


@pytest.fixture
def provider() -> ScriptedProvider:
    return ScriptedProvider()


@pytest.fixture
def guarded(provider: ScriptedProvider, clock: FrozenClock) -> GuardedProvider:
    breaker = ProviderCircuitBreaker(failures=FAILURES, cooldown_seconds=COOLDOWN, clock=clock)
    return GuardedProvider(provider, breaker)


async def ask(guarded: GuardedProvider) -> ProviderAnswer:
    return await guarded.answer(question="q", documents=DOCUMENTS)


async def fail_times(guarded: GuardedProvider, count: int) -> None:
    for _ in range(count):
        with pytest.raises(AnswerProviderError) as caught:
            await ask(guarded)
        # Failures before the breaker opens are the provider's own errors (a 502), not 503s.
        assert not isinstance(caught.value, ProviderUnavailableError)


async def test_n_failures_in_a_row_open_it_and_calls_are_then_refused_without_the_provider(
    guarded: GuardedProvider, provider: ScriptedProvider, clock: FrozenClock
) -> None:
    provider.down = True
    await fail_times(guarded, FAILURES - 1)
    assert guarded.breaker.state == "closed"
    await fail_times(guarded, 1)
    assert guarded.breaker.state == "open"
    clock.advance(2.5)
    with pytest.raises(ProviderUnavailableError) as refused:
        await ask(guarded)
    assert provider.calls == FAILURES  # the refused call never reached the provider
    assert refused.value.retry_after_seconds == 8  # 7.5 s of the cool-down left, rounded up
    assert "circuit open after 3 failures" in str(refused.value)


async def test_a_success_between_failures_starts_the_count_again(
    guarded: GuardedProvider, provider: ScriptedProvider
) -> None:
    provider.down = True
    await fail_times(guarded, FAILURES - 1)
    provider.down = False
    await ask(guarded)
    provider.down = True
    await fail_times(guarded, FAILURES - 1)
    assert guarded.breaker.state == "closed"


async def test_after_the_cooldown_it_is_half_open_and_a_good_trial_closes_it(
    guarded: GuardedProvider, provider: ScriptedProvider, clock: FrozenClock
) -> None:
    provider.down = True
    await fail_times(guarded, FAILURES)
    clock.advance(COOLDOWN - 0.5)
    assert guarded.breaker.state == "open"
    assert guarded.breaker.retry_after_seconds() == 1
    clock.advance(0.5)
    assert guarded.breaker.state == "half_open"
    assert guarded.breaker.retry_after_seconds() == 0
    provider.down = False
    assert (await ask(guarded)).text == "answer"
    assert guarded.breaker.state == "closed"
    assert provider.calls == FAILURES + 1


async def test_a_failed_trial_opens_it_again_for_a_whole_cooldown(
    guarded: GuardedProvider, provider: ScriptedProvider, clock: FrozenClock
) -> None:
    provider.down = True
    await fail_times(guarded, FAILURES)
    clock.advance(COOLDOWN)
    assert guarded.breaker.state == "half_open"
    await fail_times(guarded, 1)  # the trial: one failure is enough
    assert guarded.breaker.state == "open"
    assert guarded.breaker.retry_after_seconds() == int(COOLDOWN)
    with pytest.raises(ProviderUnavailableError):
        await ask(guarded)
    assert provider.calls == FAILURES + 1


async def test_metrics_show_the_state_the_outcomes_and_the_cost(
    guarded: GuardedProvider, provider: ScriptedProvider
) -> None:
    registry = CollectorRegistry()
    registry.register(guarded)
    await ask(guarded)
    await ask(guarded)
    provider.down = True
    await fail_times(guarded, FAILURES)
    with pytest.raises(ProviderUnavailableError):
        await ask(guarded)

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"provider": "scripted", **labels})

    assert sample("answer_provider_circuit_state", state="open") == 1.0
    assert sample("answer_provider_circuit_state", state="closed") == 0.0
    assert sample("answer_provider_circuit_state", state="half_open") == 0.0
    assert sample("answer_provider_calls_total", outcome="success") == 2.0
    assert sample("answer_provider_calls_total", outcome="failure") == FAILURES
    assert sample("answer_provider_calls_total", outcome="rejected") == 1.0
    assert sample("answer_provider_tokens_total", direction="input") == 2_000.0
    assert sample("answer_provider_tokens_total", direction="output") == 400.0
    assert sample("answer_provider_cost_usd_total") == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("failures", "cooldown", "message"),
    [(0, 1.0, "failures must be at least 1"), (1, 0.0, "cooldown_seconds must be above 0")],
)
def test_impossible_settings_are_refused(failures: int, cooldown: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProviderCircuitBreaker(failures=failures, cooldown_seconds=cooldown)
