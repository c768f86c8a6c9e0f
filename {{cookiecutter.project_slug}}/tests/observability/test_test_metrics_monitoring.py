"""The test metrics in real monitoring: a run pushed to a real Pushgateway, scraped by a real
Prometheus that loaded monitoring/testkit-alerts.yml; every PromQL expression of the Grafana
dashboard and of the alert rules must return data.

The pushed run breaks every alert on purpose (a failing, a flaky, a quarantined and a slow
test, coverage under its threshold, a failed gate), so an alert whose expression names a
metric or label testkit does not write returns nothing and fails here.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from testkit import cli
from testkit.infra.server_processes import ServerUnavailable
from testkit.monitoring.servers import (
    PROMETHEUS_BINARIES,
    PUSHGATEWAY_BINARIES,
    MonitoringStack,
    find_binary,
    monitoring_stack,
)

SCRAPE_DEADLINE_S = 60.0
INNER_RUN = """
import pathlib
import time

import pytest


def test_passes():
    pass


def test_fails():
    assert 1 + 1 == 3


@pytest.mark.flaky(reruns=1)
def test_flaky():
    marker = pathlib.Path("flaky.marker")
    if not marker.exists():
        marker.write_text("failed once")
        raise AssertionError("first attempt fails")


def test_quarantined():
    pass


def test_slow():
    time.sleep(2.1)  # over half of TEST_TIMEOUT=4: TestkitTestNearTimeout
"""
QUARANTINE = """
[[quarantine]]
nodeid = "tests/unit/test_run.py::test_quarantined"
reason = "monitoring test"
owner = "testkit"
expires = "2999-12-31"
"""
# Half the lines covered, under the default coverage_threshold (80).
COVERAGE_XML = '<?xml version="1.0" ?>\n<coverage lines-valid="10" lines-covered="5"></coverage>\n'


def dashboard_expressions(dashboard: dict[str, Any]) -> list[str]:
    """Every target expression of every panel, rows' nested panels included."""
    found: list[str] = []
    for panel in dashboard["panels"]:
        for nested in [panel, *panel.get("panels", [])]:
            found += [target["expr"] for target in nested.get("targets", []) if "expr" in target]
    return found


@pytest.fixture(scope="module")
def stack(pytestconfig: pytest.Config) -> Iterator[MonitoringStack]:
    try:
        find_binary(PROMETHEUS_BINARIES)
        find_binary(PUSHGATEWAY_BINARIES)
    except ServerUnavailable as missing:
        pytest.skip(f"real Prometheus and Pushgateway needed: {missing}")
    rules = pytestconfig.rootpath / "monitoring" / "testkit-alerts.yml"
    with monitoring_stack([rules]) as running:
        yield running


def push_broken_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """A real pytest run and a real `testkit gates`, both pushing to the Pushgateway."""
    for variable in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "TESTKIT_RUN_ID", "TESTKIT_METRICS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("TESTKIT_PUSHGATEWAY_URL", url)
    monkeypatch.setenv("TESTKIT_HISTORY", "off")
    monkeypatch.setenv("TESTKIT_QUARANTINE", "quarantine.toml")
    monkeypatch.setenv("TEST_TIMEOUT", "4")  # the others stay far below it on a busy machine
    pytester.makefile(".toml", pyproject="[tool.pytest.ini_options]\n")
    pytester.makefile(".toml", quarantine=QUARANTINE)
    pytester.makepyfile(**{"tests/unit/test_run.py": INNER_RUN})
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider")
    assert result.parseoutcomes() == {"passed": 4, "failed": 1, "rerun": 1}
    assert "pushing metrics" not in result.stdout.str()
    reports = pytester.path / "reports"
    (reports / "coverage.xml").write_text(COVERAGE_XML, encoding="utf-8")
    gates = ["gates", "coverage", "--root", str(pytester.path), "--reports", str(reports)]
    assert cli.main(gates) == 1  # the coverage gate fails, as intended


def wait_for_scrape(stack: MonitoringStack) -> None:
    deadline = time.monotonic() + SCRAPE_DEADLINE_S
    while time.monotonic() < deadline:
        if stack.query("testkit_tests") and stack.query("testkit_gate_passed"):
            return
        time.sleep(0.2)
    pytest.fail(f"Prometheus did not scrape the pushed metrics within {SCRAPE_DEADLINE_S}s")


def test_every_dashboard_and_alert_expression_returns_data_for_a_pushed_run(
    stack: MonitoringStack,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    pytestconfig: pytest.Config,
) -> None:
    monitoring = pytestconfig.rootpath / "monitoring"
    dashboard = json.loads((monitoring / "grafana-testkit.json").read_text(encoding="utf-8"))
    declared_alerts = set(
        re.findall(r"- alert: (\w+)", (monitoring / "testkit-alerts.yml").read_text())
    )

    push_broken_run(pytester, monkeypatch, stack.pushgateway_url)
    wait_for_scrape(stack)

    rules = stack.rules()
    assert {rule["name"] for rule in rules} == declared_alerts
    assert all(rule["health"] != "err" for rule in rules), rules
    expressions = dashboard_expressions(dashboard) + [rule["query"] for rule in rules]
    assert len(expressions) >= 20
    empty = [expression for expression in expressions if not stack.query(expression)]
    assert not empty, "no data for:\n" + "\n".join(empty)
