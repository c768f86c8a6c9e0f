"""Test metrics in real monitoring: every run's results as Prometheus text (reports/metrics.prom),
pushed to a Pushgateway when TESTKIT_PUSHGATEWAY_URL is set, and OpenTelemetry spans when
TESTKIT_OTEL=1. The project's Grafana dashboard and alert rules (monitoring/) query these
`testkit_*` metrics; the observability tier checks every one of their expressions against a real
Prometheus.

prometheus_client is imported when a run ends, OpenTelemetry only when spans are on: a run pays
a few dictionary updates per test for them.
"""
