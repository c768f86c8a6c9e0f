"""The Toxiproxy backend against a small fake of Toxiproxy's HTTP API that records requests.

Toxiproxy is the external boundary here: it cannot run on this machine (no Docker, no binary
in the package registries), so a fake stands in for it, answering as Toxiproxy's API does
(github.com/Shopify/toxiproxy, api.go) and recording every request. The tests check the exact
method, path and JSON body the backend sends; the toxics' behaviour is tested for real against
the in-process proxy (test_fault_proxy*.py), which runs the same API.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from testkit.chaos import ToxiproxyClient, ToxiproxyError, ToxiproxyProxy

Request = tuple[str, str, Any]


class FakeToxiproxy(ThreadingHTTPServer):
    """Just enough of Toxiproxy: proxies and toxics kept in dicts, every request recorded."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[Request] = []
        self.proxies: dict[str, dict[str, Any]] = {}
        self.toxics: dict[str, list[dict[str, Any]]] = {}
        self.next_port = 40_000

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        self.requests.append((method, path, body))
        parts = path.strip("/").split("/")
        if (method, parts) == ("POST", ["proxies"]):
            if body["name"] in self.proxies:
                return 409, {"error": "proxy already exists", "status": 409}
            self.next_port += 1
            listen = body["listen"].rpartition(":")[0] + f":{self.next_port}"
            self.proxies[body["name"]] = {**body, "listen": listen}
            self.toxics[body["name"]] = []
            return 201, {**self.proxies[body["name"]], "toxics": []}
        if (method, parts) == ("POST", ["reset"]):
            return 204, None
        name = parts[1]
        if name not in self.proxies:
            return 404, {"error": "proxy not found", "status": 404}
        if method == "POST" and len(parts) == 2:
            self.proxies[name].update(body)
            return 200, self.proxies[name]
        if method == "DELETE" and len(parts) == 2:
            del self.proxies[name]
            return 204, None
        if method == "POST" and parts[2:] == ["toxics"]:
            self.toxics[name].append(body)
            return 200, body
        if method == "GET" and parts[2:] == ["toxics"]:
            return 200, self.toxics[name]
        if method == "DELETE" and parts[2] == "toxics":
            self.toxics[name] = [t for t in self.toxics[name] if t["name"] != parts[3]]
            return 204, None
        return 405, {"error": "unexpected request", "status": 405}


class _Handler(BaseHTTPRequestHandler):
    server: FakeToxiproxy

    def _respond(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        status, answer = self.server.answer(self.command, self.path, body)
        payload = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _respond

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean


@pytest.fixture
def toxiproxy() -> Iterator[FakeToxiproxy]:
    server = FakeToxiproxy()
    thread = threading.Thread(target=server.serve_forever, name="fake-toxiproxy", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_proxy_api_becomes_toxiproxys_requests_with_exact_bodies(
    toxiproxy: FakeToxiproxy,
) -> None:
    proxy = ToxiproxyProxy(ToxiproxyClient(toxiproxy.url), "redis", ("127.0.0.1", 6379))
    remote = proxy.remote_name
    with proxy.toxic("latency", latency=500, jitter=50):
        pass
    with proxy.toxic("limit_data", stream="upstream", toxicity=0.5, bytes=10):
        with proxy.down():
            pass
        proxy.reset()
    proxy.close()

    assert remote.startswith("redis-")
    assert (proxy.listen_host, proxy.listen_port) == ("127.0.0.1", 40_001)
    assert toxiproxy.requests == [
        (
            "POST",
            "/proxies",
            {
                "name": remote,
                "listen": "127.0.0.1:0",
                "upstream": "127.0.0.1:6379",
                "enabled": True,
            },
        ),
        (
            "POST",
            f"/proxies/{remote}/toxics",
            {
                "name": "latency_downstream",
                "type": "latency",
                "stream": "downstream",
                "toxicity": 1.0,
                "attributes": {"latency": 500, "jitter": 50},
            },
        ),
        ("GET", f"/proxies/{remote}/toxics", None),
        ("DELETE", f"/proxies/{remote}/toxics/latency_downstream", None),
        (
            "POST",
            f"/proxies/{remote}/toxics",
            {
                "name": "limit_data_upstream",
                "type": "limit_data",
                "stream": "upstream",
                "toxicity": 0.5,
                "attributes": {"bytes": 10},
            },
        ),
        ("POST", f"/proxies/{remote}", {"enabled": False}),
        ("POST", f"/proxies/{remote}", {"enabled": True}),
        # reset: this proxy's toxics removed one by one, then enabled (not POST /reset, which
        # would reset every other worker's proxies too)
        ("GET", f"/proxies/{remote}/toxics", None),
        ("DELETE", f"/proxies/{remote}/toxics/limit_data_upstream", None),
        ("POST", f"/proxies/{remote}", {"enabled": True}),
        # the context manager sees the toxic already gone and does not delete it twice
        ("GET", f"/proxies/{remote}/toxics", None),
        ("DELETE", f"/proxies/{remote}", None),
    ]


def test_toxics_are_read_back_from_toxiproxy(toxiproxy: FakeToxiproxy) -> None:
    proxy = ToxiproxyProxy(ToxiproxyClient(toxiproxy.url), "postgres", ("127.0.0.1", 5432))
    added = proxy.add_toxic("slicer", average_size=10, size_variation=5, delay=100)

    assert proxy.toxics() == [added]
    proxy.close()


def test_reset_all_is_toxiproxys_post_reset(toxiproxy: FakeToxiproxy) -> None:
    ToxiproxyClient(toxiproxy.url + "/").reset_all()

    assert toxiproxy.requests == [("POST", "/reset", None)]


def test_a_refused_request_names_the_call_and_toxiproxys_reason(toxiproxy: FakeToxiproxy) -> None:
    client = ToxiproxyClient(toxiproxy.url)
    client.create_proxy("taken", "127.0.0.1:0", "127.0.0.1:6379")

    with pytest.raises(ToxiproxyError) as raised:
        client.create_proxy("taken", "127.0.0.1:0", "127.0.0.1:6379")

    assert str(raised.value) == (
        "Toxiproxy POST /proxies failed with HTTP 409: proxy already exists"
    )


def test_an_unreachable_toxiproxy_is_one_line_naming_the_url_and_variable() -> None:
    with pytest.raises(ToxiproxyError) as raised:
        ToxiproxyClient("http://127.0.0.1:1").version()

    message = str(raised.value)
    assert message.startswith("Toxiproxy at http://127.0.0.1:1 (TOXIPROXY_URL) is not reachable:")
    assert "\n" not in message


def test_with_toxiproxy_url_the_fixture_drives_toxiproxy(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, toxiproxy: FakeToxiproxy
) -> None:
    monkeypatch.setenv("TOXIPROXY_URL", toxiproxy.url)
    pytester.makepyfile(
        test_remote="""
        from testkit.chaos import ToxiproxyProxy

        def test_remote(fault_proxy):
            proxy = fault_proxy("redis", ("127.0.0.1", 6379))
            assert isinstance(proxy, ToxiproxyProxy)
            proxy.add_toxic("timeout", timeout=0)
        """
    )

    result = pytester.runpytest("-p", "no:randomly")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"testkit: mode=* fault_proxy=toxiproxy({toxiproxy.url}, TOXIPROXY_URL set)*"]
    )
    remote = toxiproxy.requests[0][2]["name"]
    # Created, toxic added, reset after the test (listed, removed, enabled), deleted at the end.
    assert [(method, path) for method, path, _ in toxiproxy.requests] == [
        ("POST", "/proxies"),
        ("POST", f"/proxies/{remote}/toxics"),
        ("GET", f"/proxies/{remote}/toxics"),
        ("DELETE", f"/proxies/{remote}/toxics/timeout_downstream"),
        ("POST", f"/proxies/{remote}"),
        ("DELETE", f"/proxies/{remote}"),
    ]
    assert toxiproxy.proxies == {}
