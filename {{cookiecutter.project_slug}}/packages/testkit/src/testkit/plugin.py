"""testkit's pytest plugin: declares the options, resolves them once, registers the parts in use.

Each concern lives in its own module; this one only wires them: tiers (always), the network
guard (when the mode blocks the network), seeding, infrastructure fixtures and the header.
"""

from __future__ import annotations

from typing import cast

import pytest

from testkit import fixtures, golden, options
from testkit.analytics.wiring import register_analytics
from testkit.budget import AdversarialBudget, resolve_budget
from testkit.chaos import plugin as chaos_plugin
from testkit.header import format_header, template_version
from testkit.impact.plugin import register_impact
from testkit.infra import InfraManager, default_sources, installed_services
from testkit.infra.addresses import host_port
from testkit.modes import resolve_mode
from testkit.monitoring.wiring import register_monitoring
from testkit.network import NetworkGuard
from testkit.seeding import (
    SeedChoice,
    XdistSeedHooks,
    apply_seed,
    resolve_seed,
    seed_hypothesis_tests,
    worker_seed,
)
from testkit.state import STATE_KEY, TestkitState, get_state
from testkit.tiers import TierPlugin
from testkit.timeouts import configure_timeout


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_settings(parser)


def _source_name(config: pytest.Config, setting: options.Setting) -> str:
    """How to name a setting in an error: the way the user gave it."""
    if config.getoption(setting.dest, default=None):
        return setting.flag
    if config.getini(setting.dest):
        return f"ini {setting.dest}"
    return setting.env


def _resolve_seed(config: pytest.Config) -> SeedChoice | None:
    from_controller = worker_seed(config)
    if from_controller is not None:
        return SeedChoice(from_controller, "xdist controller")
    return resolve_seed(
        options.get_setting(config, options.SEED),
        testkit_source=_source_name(config, options.SEED),
        randomly_seed=config.getoption("randomly_seed", default="default"),
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # tryfirst: the seed must be in place before pytest-randomly's own pytest_configure reads it.
    urls = {service: options.get_setting(config, s) for service, s in options.URL_SETTINGS.items()}
    infrastructure_hosts = tuple(
        address[0] for url in urls.values() if url and (address := host_port(url)) is not None
    )
    mode = resolve_mode(
        options.get_setting(config, options.MODE),
        mode_source=_source_name(config, options.MODE),
        raw_allow_hosts=options.get_setting(config, options.ALLOW_HOSTS),
        infrastructure_hosts=infrastructure_hosts,
    )
    seed = _resolve_seed(config)
    if seed is not None:
        apply_seed(config, seed)
    require_infra = options.parse_flag(
        options.REQUIRE_INFRA, options.get_setting(config, options.REQUIRE_INFRA)
    )
    infra = InfraManager(default_sources(urls), installed_services())
    # Placeholder until pytest_sessionstart when pytest-randomly resolves --randomly-seed=last.
    state = TestkitState(mode, seed or SeedChoice(0, "--randomly-seed=last"), require_infra, infra)
    config.stash[STATE_KEY] = state

    if require_infra and not hasattr(config, "workerinput"):
        _fail_unless_infrastructure_available(infra)

    config.pluginmanager.register(TierPlugin(), "testkit-tiers")
    config.pluginmanager.register(fixtures, "testkit-fixtures")
    config.pluginmanager.register(golden, "testkit-golden")
    config.pluginmanager.register(golden.GoldenReporter(), "testkit-golden-reporter")
    config.pluginmanager.register(chaos_plugin, "testkit-chaos")
    # History (controller only), duration regressions, quarantine (every process).
    register_analytics(config)
    # Impact map recording (--testkit-impact-record) or selection (--testkit-impact-changed/base).
    register_impact(config)
    # TEST_TIMEOUT through pytest-timeout (every process); the run's metrics and spans.
    timeout = configure_timeout(config)
    register_monitoring(config, timeout.seconds if timeout is not None else None)
    if not hasattr(config, "workerinput"):
        # The controller sees every report (xdist workers forward theirs); silent without
        # adversarial tests, so it costs nothing in other runs.
        config.pluginmanager.register(AdversarialBudget(resolve_budget(config)), "testkit-budget")
    if mode.block_network:
        config.pluginmanager.register(NetworkGuard(mode), "testkit-network-guard")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistSeedHooks(state), "testkit-xdist-seed")


def _fail_unless_infrastructure_available(infra: InfraManager) -> None:
    """TESTKIT_REQUIRE_INFRA=1 (CI): a missing service stops the session with one line, up front."""
    missing = [r for r in infra.resolutions() if not r.available]
    if missing:
        reasons = "; ".join(f"{r.service} unavailable: {r.reason}" for r in missing)
        raise pytest.UsageError(f"TESTKIT_REQUIRE_INFRA=1 but {reasons}")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    state = get_state(session.config)
    if state.seed.source == "--randomly-seed=last":
        seed = session.config.getoption("randomly_seed", default=None)
        if isinstance(seed, int):
            state.seed = SeedChoice(seed, "--randomly-seed=last")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seed_hypothesis_tests(config, items, get_state(config).seed.seed)


def pytest_report_header(config: pytest.Config) -> str:
    state = get_state(config)
    template = template_version(config.rootpath)
    header = format_header(state.mode.name, state.seed.seed, state.infra.resolutions(), template)
    return f"{header} {chaos_plugin.header_part(config)}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE_KEY, None)
    if state is None:
        return
    errors = state.infra.stop_all()
    if errors:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            cast(pytest.TerminalReporter, reporter).write_line(
                "testkit: stopping services failed: " + "; ".join(errors)
            )


def pytest_unconfigure(config: pytest.Config) -> None:
    # Also covers runs that end before sessionfinish (e.g. an error during collection).
    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        state.infra.stop_all()
