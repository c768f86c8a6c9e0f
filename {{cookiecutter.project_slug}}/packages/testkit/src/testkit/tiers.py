"""Tier markers: a test's tier comes from its folder (tests/unit/... is `unit`), not by hand."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath

import pytest

TIERS: dict[str, str] = {
    "unit": "pure logic, no I/O",
    "integration": "real Postgres / Redis / NATS",
    "e2e": "the service as a real process, driven over HTTP and WebSocket",
    "property": "hypothesis on real invariants",
    "contract": "API schema, snapshots and client contracts",
    "chaos": "faults injected between the service and its dependencies",
    "perf": "load profiles and micro-benchmarks against baselines",
    "rag": "retrieval isolation, recall and citations",
    "realtime": "WebSocket fan-out, ordering and reconnects",
    "security": "authn/authz, injection, SSRF, secrets in logs",
    "adversarial": "hostile inputs, gated by a failure budget",
    "observability": "metrics and SLO checks",
}


def tier_of(path: PurePath) -> str | None:
    """The first component after a `tests` directory that names a tier, or None."""
    parts: Sequence[str] = path.parts
    for index, part in enumerate(parts[:-1]):
        if part == "tests" and parts[index + 1] in TIERS:
            return parts[index + 1]
    return None


def broken_tier_line(module: str, tier: str | None) -> str:
    """The summary line for a module that failed to collect: which tier it takes down."""
    if tier is None:
        return f"{module}: failed to collect (outside the tier folders: every run that collects it)"
    return f"{module}: failed to collect, breaks tier {tier} (make test-{tier}) and full runs"


class TierPlugin:
    """Registers the tier markers and puts each collected test's folder tier on it as a marker;
    names the tier of each module that fails to collect."""

    def __init__(self) -> None:
        self.broken: dict[str, str | None] = {}

    def pytest_configure(self, config: pytest.Config) -> None:
        for name, description in TIERS.items():
            config.addinivalue_line(
                "markers", f"{name}: {description} (set from the tests/{name}/ folder)"
            )

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # tryfirst: `-m <tier>` deselects in a later implementation of this hook.
        for item in items:
            tier = tier_of(item.path)
            if tier is not None:
                item.add_marker(getattr(pytest.mark, tier))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        # xdist workers forward failed collect reports, so the controller sees each once.
        if report.failed and report.nodeid:
            module = report.nodeid.split("::")[0]
            self.broken[module] = tier_of(PurePath(module))

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.broken:
            return
        terminalreporter.section("testkit: collection errors by tier")
        for module, tier in sorted(self.broken.items()):
            terminalreporter.write_line(broken_tier_line(module, tier))
