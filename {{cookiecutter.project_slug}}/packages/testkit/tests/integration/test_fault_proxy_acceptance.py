"""The `fault_proxy` fixture as users meet it: tiny suites run with pytester."""

from __future__ import annotations

import threading

import pytest

# Two tests sharing one proxy: the second sees the first's toxic gone, the proxy enabled and
# the same port (a URL handed to a long-lived server stays valid across tests).
SHARED_PROXY_SUITE = """
from testkit.chaos import InProcessProxy

PORTS = []


def test_first(fault_proxy):
    proxy = fault_proxy("dependency", ("127.0.0.1", 9))
    proxy.add_toxic("latency", latency=10)
    proxy.disable()
    PORTS.append(proxy.listen_port)
    assert isinstance(proxy, InProcessProxy)


def test_second(fault_proxy):
    proxy = fault_proxy("dependency", ("127.0.0.1", 9))
    assert proxy.toxics() == []
    assert proxy.enabled
    assert proxy.listen_port == PORTS[0]
"""


@pytest.fixture(autouse=True)
def _no_toxiproxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOXIPROXY_URL", raising=False)


def _proxy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("testkit-fault-proxy-")]


def test_the_header_line_names_the_in_process_backend_and_why(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")

    result = pytester.runpytest("-p", "no:randomly")

    header = [line for line in result.stdout.lines if line.startswith("testkit:")]
    assert len(header) == 1
    assert " fault_proxy=in-process(TOXIPROXY_URL not set)" in header[0]


def test_proxies_are_reset_after_each_test_and_closed_after_the_session(
    pytester: pytest.Pytester,
) -> None:
    before = _proxy_threads()
    pytester.makepyfile(test_shared=SHARED_PROXY_SUITE)

    result = pytester.runpytest("-p", "no:randomly")

    result.assert_outcomes(passed=2)
    assert _proxy_threads() == before


def test_the_fixture_works_in_each_xdist_worker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_shared=SHARED_PROXY_SUITE)

    result = pytester.runpytest("-p", "no:randomly", "-n", "2", "--dist", "loadfile")

    result.assert_outcomes(passed=2)


def test_a_malformed_toxiproxy_url_stops_the_run_with_one_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOXIPROXY_URL", "localhost:8474")
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")

    result = pytester.runpytest("-p", "no:randomly")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: TOXIPROXY_URL must be Toxiproxy's API as an http:// or https:// URL such as "
            "http://127.0.0.1:8474, got 'localhost:8474'"
        ]
    )
