"""The answer provider as the service calls it: behind its circuit breaker, with its figures.

Every /ask call goes through ``GuardedProvider``: the breaker (circuit_breaker.py) decides
whether the provider is called at all, and each call is tallied by outcome, with the tokens
and the cost the provider reported. The tallies and the breaker's state are a Prometheus
collector on the app's registry, read at scrape time, so /metrics says whether the breaker is
open now and the perf gate reads the run's cost per answer from the same numbers
(testkit.perf.cost: PERF_COST_CEILING).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from {{ cookiecutter.package_name }}.answer_providers.circuit_breaker import (
    STATES,
    ProviderCircuitBreaker,
    ProviderUnavailableError,
)
from {{ cookiecutter.package_name }}.answer_providers.protocol import (
    AnswerProvider,
    ProviderAnswer,
    SourceDocument,
)

# Exposed with a _total suffix (answer_provider_calls_total, ...); testkit.perf.cost reads
# the calls and the cost by these names.
CIRCUIT_STATE = "answer_provider_circuit_state"
CALLS = "answer_provider_calls"
TOKENS = "answer_provider_tokens"
COST_USD = "answer_provider_cost_usd"
OUTCOMES = ("success", "failure", "rejected")


class GuardedProvider(Collector):
    """An ``AnswerProvider`` (the one in Resources) wrapping the configured provider."""

    def __init__(self, inner: AnswerProvider, breaker: ProviderCircuitBreaker) -> None:
        self.name = inner.name
        self.breaker = breaker
        self._inner = inner
        self.calls: Counter[str] = Counter({outcome: 0 for outcome in OUTCOMES})
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_usd = 0.0

    async def answer(
        self, *, question: str, documents: tuple[SourceDocument, ...]
    ) -> ProviderAnswer:
        try:
            answer = await self.breaker.call(
                lambda: self._inner.answer(question=question, documents=documents)
            )
        except ProviderUnavailableError:
            self.calls["rejected"] += 1
            raise
        except Exception:
            self.calls["failure"] += 1
            raise
        self.calls["success"] += 1
        self.input_tokens += answer.usage.input_tokens
        self.output_tokens += answer.usage.output_tokens
        self.cost_usd += answer.usage.cost_usd
        return answer

    async def aclose(self) -> None:
        await self._inner.aclose()

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            CIRCUIT_STATE,
            "The answer provider's circuit breaker: 1 for its current state, 0 for the others.",
            labels=("provider", "state"),
        )
        current = self.breaker.state
        for name in STATES:
            state.add_metric((self.name, name), 1.0 if name == current else 0.0)
        yield state
        calls = CounterMetricFamily(
            CALLS,
            "Answer provider calls by outcome (rejected: refused by the open breaker).",
            labels=("provider", "outcome"),
        )
        for outcome in OUTCOMES:
            calls.add_metric((self.name, outcome), float(self.calls[outcome]))
        yield calls
        tokens = CounterMetricFamily(
            TOKENS,
            "Tokens the answer provider reported, by direction.",
            labels=("provider", "direction"),
        )
        tokens.add_metric((self.name, "input"), float(self.input_tokens))
        tokens.add_metric((self.name, "output"), float(self.output_tokens))
        yield tokens
        cost = CounterMetricFamily(
            COST_USD,
            "What the answer provider's successful calls cost, in US dollars.",
            labels=("provider",),
        )
        cost.add_metric((self.name,), self.cost_usd)
        yield cost
