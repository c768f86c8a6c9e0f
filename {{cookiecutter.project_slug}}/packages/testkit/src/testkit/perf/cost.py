"""The answer provider's cost per answer over a perf run, judged against PERF_COST_CEILING.

The service reports what its answer provider spends as Prometheus counters on /metrics:
``answer_provider_calls_total{outcome="success"}`` (answers), ``answer_provider_cost_usd_total``
and ``answer_provider_tokens_total{direction="input"|"output"}`` (the sample service's
answer_providers/guarded.py; a provider without a model reports zero cost). The perf commands
read them before and after the load, so the run's figures are the difference: setup traffic
and earlier runs against the same server do not count. ``check_cost`` is the decision: over
the ceiling ([tool.testkit] perf_cost_ceiling, or PERF_COST_CEILING) fails the gate; a service
that exposes no such counters, or a run with no answers, is SKIPPED, saying why.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from testkit.perf.gate import TOTAL, MetricCheck, PerfVerdict

ANSWERS_SAMPLE = "answer_provider_calls_total"
COST_SAMPLE = "answer_provider_cost_usd_total"
TOKENS_SAMPLE = "answer_provider_tokens_total"
METRIC = "cost_usd_per_answer"
SCRAPE_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class ProviderSpend:
    """Answers and what they cost, summed over the service's providers."""

    answers: float
    cost_usd: float
    input_tokens: float = 0.0
    output_tokens: float = 0.0

    def since(self, earlier: ProviderSpend) -> ProviderSpend:
        """What was spent between ``earlier`` and this reading (a restart resets: negative
        differences are impossible for counters, so they are refused as zero)."""
        return ProviderSpend(
            answers=max(0.0, self.answers - earlier.answers),
            cost_usd=max(0.0, self.cost_usd - earlier.cost_usd),
            input_tokens=max(0.0, self.input_tokens - earlier.input_tokens),
            output_tokens=max(0.0, self.output_tokens - earlier.output_tokens),
        )


def _samples(exposition: str) -> Iterable[Sample]:
    for family in text_string_to_metric_families(exposition):
        yield from family.samples


def provider_spend(exposition: str) -> ProviderSpend | None:
    """The spend in Prometheus text; None when it holds no answer provider counters."""
    answers = cost = input_tokens = output_tokens = 0.0
    found = set()
    for sample in _samples(exposition):
        if sample.name == ANSWERS_SAMPLE and sample.labels.get("outcome") == "success":
            answers += sample.value
        elif sample.name == COST_SAMPLE:
            cost += sample.value
        elif sample.name == TOKENS_SAMPLE:
            if sample.labels.get("direction") == "input":
                input_tokens += sample.value
            else:
                output_tokens += sample.value
        else:
            continue
        found.add(sample.name)
    if not {ANSWERS_SAMPLE, COST_SAMPLE} <= found:
        return None
    return ProviderSpend(answers, cost, input_tokens, output_tokens)


def scrape_spend(base_url: str) -> ProviderSpend | None:
    """The service's spend so far, from its /metrics; None when that cannot be read."""
    try:
        # The perf target's own URL, http(s) by construction.
        with urllib.request.urlopen(
            f"{base_url.rstrip('/')}/metrics", timeout=SCRAPE_TIMEOUT_S
        ) as response:
            text = response.read().decode("utf-8")
    except (OSError, urllib.error.URLError, UnicodeDecodeError):
        return None
    try:
        return provider_spend(text)
    except ValueError:  # not Prometheus text
        return None


def spend_between(
    before: ProviderSpend | None, after: ProviderSpend | None
) -> ProviderSpend | None:
    """The run's spend: after minus before, when both readings exist."""
    if before is None or after is None:
        return None
    return after.since(before)


@dataclass(frozen=True, slots=True)
class CostCheck:
    """The verdict on the run's cost per answer against the ceiling."""

    verdict: PerfVerdict
    ceiling_usd: float
    per_answer_usd: float | None
    spend: ProviderSpend | None
    note: str

    @property
    def over(self) -> bool:
        return self.verdict is PerfVerdict.REGRESSION

    def line(self) -> str:
        """One line for the console: the figures and the verdict."""
        if self.per_answer_usd is None or self.spend is None:
            return f"perf: answer provider cost: {self.verdict.value} ({self.note})"
        return (
            f"perf: answer provider cost: ${self.per_answer_usd:.6f} per answer over "
            f"{self.spend.answers:.0f} answers (${self.spend.cost_usd:.4f}; tokens "
            f"{self.spend.input_tokens:.0f} in, {self.spend.output_tokens:.0f} out), ceiling "
            f"${self.ceiling_usd:g}: {self.verdict.value}"
            + (f" ({self.note})" if self.over else "")
        )

    def metric_check(self) -> MetricCheck:
        """The row the gate's table and report hold for it."""
        return MetricCheck(
            scope=TOTAL,
            metric=METRIC,
            baseline=None,
            current=self.per_answer_usd,
            change_pct=None,
            limit_pct=self.ceiling_usd,
            p_value=None,
            verdict=self.verdict,
            note=self.note,
        )


def check_cost(spend: ProviderSpend | None, ceiling_usd: float) -> CostCheck:
    """Pure: over the ceiling is a REGRESSION (the gate fails); nothing to judge is SKIPPED."""
    if spend is None:
        return CostCheck(
            PerfVerdict.SKIPPED, ceiling_usd, None, None, "the service reports no provider cost"
        )
    if spend.answers <= 0:
        return CostCheck(PerfVerdict.SKIPPED, ceiling_usd, None, spend, "no answers in the run")
    per_answer = spend.cost_usd / spend.answers
    if per_answer > ceiling_usd:
        return CostCheck(
            PerfVerdict.REGRESSION,
            ceiling_usd,
            per_answer,
            spend,
            f"over the ceiling of ${ceiling_usd:g} per answer",
        )
    return CostCheck(PerfVerdict.PASS, ceiling_usd, per_answer, spend, "USD per answer")
