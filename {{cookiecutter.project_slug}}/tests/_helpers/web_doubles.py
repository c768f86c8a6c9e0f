"""The web as URL-ingest tests see it: a real loopback site, and stand-ins for DNS and the Internet.

``LoopbackSite`` is a real HTTP server on 127.0.0.1: ingest connects to it for real.
``StaticResolver`` and ``FakeInternet`` are fakes, and only for what a test cannot have:
answers from an attacker's DNS server (rebinding), and hosts at public addresses, which
MOCK mode forbids reaching and which no test could serve from this machine anyway.
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from fastapi import FastAPI

from {{ cookiecutter.package_name }}.ingest import (
    FetchPolicy,
    UrlFetcher,
)
from {{ cookiecutter.package_name }}.routers.ingest import (
    get_url_fetcher,
)
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.ssrf import (
    IPAddress,
    UnresolvableHostError,
)

HTML = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Page:
    body: bytes = b""
    content_type: str = HTML
    status: int = 200
    location: str | None = None
    delay_seconds: float = 0.0
    declare_length: bool = True
    """False: no Content-Length, the body simply runs until the connection closes."""


def redirect(location: str, status: int = 302) -> Page:
    return Page(status=status, location=location)


@dataclass(frozen=True, slots=True)
class SeenRequest:
    path: str
    host_header: str | None


class LoopbackSite:
    """A real HTTP/1.0 server on 127.0.0.1 serving registered pages; it records every request."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.requests: list[SeenRequest] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append(SeenRequest(self.path, self.headers.get("Host")))
                page = site.pages.get(self.path, Page(b"not found", "text/plain", 404))
                time.sleep(page.delay_seconds)
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                if page.location is not None:
                    self.send_header("Location", page.location)
                if page.declare_length:
                    self.send_header("Content-Length", str(len(page.body)))
                self.end_headers()
                # The client may stop reading (a size limit): that is the point, not an error.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(page.body)

            def log_message(self, format: str, *args: object) -> None:
                """Silent: the test asserts on ``requests`` instead."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> LoopbackSite:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class StaticResolver:
    """DNS as a test scripts it: each name answers its lists of addresses in turn.

    The last answer repeats. A name with answers [[public], [private]] is a rebinding
    attack: public when checked, private when asked again.
    """

    def __init__(self, answers: Mapping[str, Sequence[Sequence[str]]]) -> None:
        self._answers = {name: [list(answer) for answer in seq] for name, seq in answers.items()}
        self.calls: list[str] = []

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        self.calls.append(host)
        answers = self._answers.get(host)
        if answers is None:
            raise UnresolvableHostError(f"cannot resolve host {host!r}")
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return [ipaddress.ip_address(address) for address in answer]


@dataclass(frozen=True, slots=True)
class InternetRequest:
    url: httpx.URL
    """What the fetch connected to: the pinned address, not the name."""
    host_header: str
    sni_hostname: str | None


@dataclass
class FakeInternet:
    """Public web hosts, keyed by Host header then path, served without a network."""

    sites: dict[str, dict[str, Page]] = field(default_factory=dict)
    requests: list[InternetRequest] = field(default_factory=list)

    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        host = request.headers["host"]
        sni = request.extensions.get("sni_hostname")
        self.requests.append(InternetRequest(request.url, host, sni))
        page = self.sites.get(host, {}).get(request.url.path)
        if page is None:
            return httpx.Response(404, text="not found")
        headers = {"Content-Type": page.content_type}
        if page.location is not None:
            headers["Location"] = page.location
        return httpx.Response(page.status, headers=headers, content=page.body)


@contextmanager
def fetcher_in(
    app: FastAPI,
    settings: Settings,
    *,
    resolver: StaticResolver,
    internet: FakeInternet | None = None,
) -> Iterator[UrlFetcher]:
    """Make the app's ingest use ``resolver`` (and ``internet`` instead of the network)."""
    policy = FetchPolicy.from_settings(settings)
    fetcher = (
        UrlFetcher(policy, resolver=resolver, transport_factory=internet.transport)
        if internet is not None
        else UrlFetcher(policy, resolver=resolver)
    )
    app.dependency_overrides[get_url_fetcher] = lambda: fetcher
    try:
        yield fetcher
    finally:
        app.dependency_overrides.pop(get_url_fetcher, None)
