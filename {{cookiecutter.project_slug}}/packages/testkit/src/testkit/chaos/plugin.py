"""The fault proxy's pytest side: the `fault_proxy` fixture, its header part, the final close.

Registered by testkit.plugin. Proxies live for the session (one per name, so a URL handed to a
long-lived server stays valid); every proxy a test touched is reset when the test ends (toxics
removed, enabled), and all are closed at the end of the session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from testkit import options
from testkit.chaos.backend import BackendChoice, choose_backend, make_proxy
from testkit.chaos.proxy import Proxy

CHOICE_KEY = pytest.StashKey[BackendChoice]()

FaultProxyFactory = Callable[[str, tuple[str, int]], Proxy]


def pytest_configure(config: pytest.Config) -> None:
    setting = options.TOXIPROXY_URL
    # Name the setting the way the user gave it, in the header and in errors.
    if config.getoption(setting.dest, default=None):
        source = setting.flag
    elif config.getini(setting.dest):
        source = f"ini {setting.dest}"
    else:
        source = setting.env
    try:
        choice = choose_backend(options.get_setting(config, setting), source=source)
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[CHOICE_KEY] = choice


def header_part(config: pytest.Config) -> str:
    """The fault proxy's part of testkit's one header line, e.g. `fault_proxy=in-process(...)`."""
    return f"fault_proxy={config.stash[CHOICE_KEY].describe()}"


class ProxyPool:
    """The session's proxies by name: made on first use, closed by `close_all`."""

    def __init__(self, choice: BackendChoice, seed: int | None = None) -> None:
        self.choice = choice
        self._seed = seed
        self._proxies: dict[str, Proxy] = {}

    def get(self, name: str, upstream: tuple[str, int]) -> Proxy:
        """The proxy called `name` in front of `upstream`; a new upstream replaces it."""
        existing = self._proxies.get(name)
        if existing is not None:
            if existing.upstream == upstream:
                return existing
            existing.close()
        proxy = make_proxy(self.choice, name, upstream, seed=self._seed)
        self._proxies[name] = proxy
        return proxy

    def close_all(self) -> None:
        proxies, self._proxies = list(self._proxies.values()), {}
        errors: list[str] = []
        for proxy in proxies:
            try:
                proxy.close()
            except Exception as error:  # close the others anyway; report them all
                errors.append(f"{proxy.name}: {error}")
        if errors:
            raise RuntimeError("closing fault proxies failed: " + "; ".join(errors))


@pytest.fixture(scope="session")
def fault_proxy_pool(pytestconfig: pytest.Config, test_seed: int) -> Iterator[ProxyPool]:
    """The session's fault proxies (for session-scoped fixtures; tests use `fault_proxy`)."""
    pool = ProxyPool(pytestconfig.stash[CHOICE_KEY], seed=test_seed)
    yield pool
    pool.close_all()


@pytest.fixture
def fault_proxy(fault_proxy_pool: ProxyPool) -> Iterator[FaultProxyFactory]:
    """`fault_proxy(name, (host, port)) -> Proxy`; each proxy used is reset after the test."""
    used: dict[str, Proxy] = {}

    def make(name: str, upstream: tuple[str, int]) -> Proxy:
        used[name] = fault_proxy_pool.get(name, upstream)
        return used[name]

    yield make
    for proxy in used.values():
        proxy.reset()
