"""MOCK mode's network guard: a test may connect to loopback and the allowlist, nothing else.

The connect guard is pytest-socket's (`socket_allow_hosts`, which understands hosts and CIDR
networks and refuses before the connect syscall, so no packet leaves). pytest-socket leaves name
resolution open, which would still send DNS queries off the machine, so resolving a host that is
not allowed is refused here too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Generator
from typing import Any

import pytest
from pytest_socket import SocketConnectBlockedError, socket_allow_hosts

from testkit.modes import ModeConfig

BLOCKED_HINT = (
    "TEST_MODE=MOCK allows outbound connections only to loopback and the allowlist "
    "(testkit_allow_hosts / TESTKIT_ALLOW_HOSTS); mark the test `enable_socket` or run with "
    "TEST_MODE=LIVE_SMOKE to reach other hosts."
)

# pytest-socket warns as well as raising; under filterwarnings=error the warning would replace
# the clearer exception, so it is ignored (the exception still fails the test).
_PYTEST_SOCKET_WARNING = "ignore:A test tried to use socket:UserWarning"


class NetworkBlockedError(RuntimeError):
    """A MOCK-mode test tried to resolve a host outside the allowlist."""

    def __init__(self, host: str, allowed: tuple[str, ...]) -> None:
        self.host = host
        super().__init__(
            f'TEST_MODE=MOCK blocked resolving host "{host}" (allowed: "{",".join(allowed)}")'
        )


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def resolution_allowed(host: object, allowed: tuple[str, ...], own_names: frozenset[str]) -> bool:
    """Whether getaddrinfo may go ahead: IP literals, the machine's names, allowlisted names."""
    if host is None:
        return True
    name = host.decode() if isinstance(host, bytes) else str(host)
    return _is_ip_literal(name) or name in own_names or name in allowed


class NetworkGuard:
    """Installed around each test when the mode blocks the network.

    The guarded `connect` and `getaddrinfo` are built once, when the plugin is configured (the
    allowlist is resolved then, by pytest-socket's own `socket_allow_hosts`); each test only
    swaps them in and back, two attribute assignments, instead of rebuilding them per test.
    """

    def __init__(self, mode: ModeConfig) -> None:
        self._allowed = mode.allowed_hosts
        self._own_names = frozenset({"localhost", socket.gethostname()})
        self._guarded_connect, self._guarded_getaddrinfo = self._build_guards()

    def _build_guards(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        real_connect = socket.socket.connect
        try:
            socket_allow_hosts(list(self._allowed), allow_unix_socket=True, resolution_cache={})
            guarded_connect = socket.socket.connect
        finally:
            socket.socket.connect = real_connect  # type: ignore[method-assign]
        return guarded_connect, self._guard_resolution(socket.getaddrinfo)

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("filterwarnings", _PYTEST_SOCKET_WARNING)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        if _socket_explicitly_enabled(item):
            return (yield)
        original_connect = socket.socket.connect
        original_getaddrinfo = socket.getaddrinfo
        socket.socket.connect = self._guarded_connect  # type: ignore[method-assign]
        socket.getaddrinfo = self._guarded_getaddrinfo
        try:
            return (yield)
        finally:
            socket.socket.connect = original_connect  # type: ignore[method-assign]
            socket.getaddrinfo = original_getaddrinfo

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        excinfo = call.excinfo
        if excinfo is not None and excinfo.errisinstance(
            (SocketConnectBlockedError, NetworkBlockedError)
        ):
            report.sections.append(("testkit", BLOCKED_HINT))
        return report

    def _guard_resolution(self, real: Callable[..., Any]) -> Callable[..., Any]:
        allowed = self._allowed
        own_names = self._own_names

        def guarded_getaddrinfo(host: object, *args: Any, **kwargs: Any) -> Any:
            if not resolution_allowed(host, allowed, own_names):
                raise NetworkBlockedError(str(host), allowed)
            return real(host, *args, **kwargs)

        return guarded_getaddrinfo


def _socket_explicitly_enabled(item: pytest.Item) -> bool:
    """pytest-socket's own opt-outs: the enable_socket marker or the socket_enabled fixture."""
    fixturenames: tuple[str, ...] = tuple(getattr(item, "fixturenames", ()))
    return item.get_closest_marker("enable_socket") is not None or "socket_enabled" in fixturenames
