"""TESTKIT_OTEL=1: the run's spans reach an OTLP/HTTP endpoint named by OTEL_EXPORTER_OTLP_ENDPOINT.

The endpoint is a real HTTP server on loopback that decodes what arrives with the OTLP protobuf
definitions: a session span and one child span per test, with outcome and tier.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("opentelemetry.sdk", reason="testkit's otel extra is not installed")
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

pytestmark = pytest.mark.usefixtures("clean_testkit_environment")


class _Collector(BaseHTTPRequestHandler):
    received: list[ExportTraceServiceRequest]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.received.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet


@pytest.fixture
def otlp_endpoint() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    received: list[ExportTraceServiceRequest] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_each_test_is_a_span_under_the_session_span_with_its_outcome_and_tier(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    otlp_endpoint: tuple[str, list[ExportTraceServiceRequest]],
) -> None:
    url, received = otlp_endpoint
    monkeypatch.setenv("TESTKIT_OTEL", "1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "acme-tests")
    monkeypatch.setenv("TESTKIT_METRICS", "off")
    suite = "def test_ok():\n    pass\n\n\ndef test_bad():\n    assert 0\n"
    pytester.makepyfile(**{"tests/unit/test_spans.py": suite})

    # In a subprocess: the exporter's HTTP client (requests) must not meet the copies of its
    # modules an in-process run would leave beside the ones this process imported.
    pytester.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=1, failed=1)

    spans = [
        span
        for request in received
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    by_name = {span.name: span for span in spans}
    session = by_name["pytest session"]
    ok = by_name["tests/unit/test_spans.py::test_ok"]
    bad = by_name["tests/unit/test_spans.py::test_bad"]
    assert ok.parent_span_id == session.span_id == bad.parent_span_id
    assert ok.trace_id == session.trace_id
    attributes = {item.key: item.value.string_value for item in bad.attributes}
    assert attributes["test.outcome"] == "failed"
    assert attributes["test.tier"] == "unit"
    assert session.start_time_unix_nano <= ok.start_time_unix_nano < ok.end_time_unix_nano
    service = {
        item.key: item.value.string_value
        for item in received[0].resource_spans[0].resource.attributes
    }
    assert service["service.name"] == "acme-tests"
