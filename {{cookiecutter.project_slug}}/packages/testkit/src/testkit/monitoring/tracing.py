"""TESTKIT_OTEL=1: the run as OpenTelemetry spans, exported over OTLP/HTTP.

One root span for the session ("pytest session") and one child per test, named by its node id,
from the start of its setup to the end of its teardown, with its outcome, tier and xdist worker.
The spans are built in the controlling process from the reports (their start and stop times), so
xdist workers need nothing. The exporter reads the standard variables: OTEL_EXPORTER_OTLP_ENDPOINT
(or ..._TRACES_ENDPOINT, default http://localhost:4318), OTEL_EXPORTER_OTLP_HEADERS,
OTEL_SERVICE_NAME (default "testkit"). This module is imported only when the switch is on.
"""

from __future__ import annotations

import os
import time
from pathlib import PurePath

import pytest

try:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
except ImportError as missing:  # pragma: no cover - depends on the installed extras
    raise pytest.UsageError(
        f"TESTKIT_OTEL=1 needs testkit's otel extra (opentelemetry-sdk, "
        f"opentelemetry-exporter-otlp-proto-http): {missing}"
    ) from None

from testkit.monitoring.results import NO_TIER
from testkit.tiers import tier_of

PLUGIN_NAME = "testkit-otel"
DEFAULT_SERVICE_NAME = "testkit"


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


class SpanExporter:
    """Turns the session and each test's reports into spans; flushes them when the run ends."""

    def __init__(self) -> None:
        service = os.environ.get("OTEL_SERVICE_NAME", "").strip() or DEFAULT_SERVICE_NAME
        self.provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self.tracer = self.provider.get_tracer("testkit")
        self.session_span = self.tracer.start_span("pytest session", start_time=time.time_ns())
        self._context = trace.set_span_in_context(self.session_span)
        self._started: dict[str, float] = {}
        self._outcome: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        if report.when == "setup":
            self._started[nodeid] = report.start
        if report.outcome != "passed" and self._outcome.get(nodeid, "passed") == "passed":
            self._outcome[nodeid] = report.outcome
        if report.when != "teardown":
            return
        start = self._started.pop(nodeid, report.start)
        outcome = self._outcome.pop(nodeid, "passed")
        span = self.tracer.start_span(
            nodeid,
            context=self._context,
            start_time=_ns(start),
            attributes={
                "test.nodeid": nodeid,
                "test.outcome": outcome,
                "test.tier": tier_of(PurePath(nodeid.partition("::")[0])) or NO_TIER,
                "test.worker": str(getattr(report, "worker_id", "master")),
            },
        )
        if outcome == "failed":
            span.set_status(trace.Status(trace.StatusCode.ERROR))
        span.end(end_time=_ns(report.stop))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.session_span.set_attribute("pytest.exit_status", int(session.exitstatus))
        self.session_span.end(end_time=time.time_ns())
        self.provider.shutdown()  # flushes the batch: every span is sent before pytest exits
