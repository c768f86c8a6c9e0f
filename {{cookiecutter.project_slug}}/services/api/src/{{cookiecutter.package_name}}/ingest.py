"""Fetch a web page for a document: SSRF-checked, size- and time-bounded, text only.

Each hop of a fetch is checked by ``ssrf`` and connects to the pinned address; redirects are
followed here, by hand, so every Location is checked like the first URL. The HTTP status a
caller sees for each failure is the router's business (routers/ingest.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from {{ cookiecutter.package_name }}.html_text import (
    html_to_text,
    normalise_whitespace,
)
from {{ cookiecutter.package_name }}.models import (
    BODY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
)
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.ssrf import (
    InvalidUrlError,
    Resolver,
    Target,
    UnresolvableHostError,
    parse_target,
    pin,
)

logger = logging.getLogger(__name__)

TEXT_CONTENT_TYPES = ("text/html", "text/plain")
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_USER_AGENT = "knowledge-base-ingest/1"

TransportFactory = Callable[[], httpx.AsyncBaseTransport]


class FetchFailedError(Exception):
    """The page could not be fetched: unreachable, an error status, too slow, a redirect loop."""


class ContentTooLargeError(Exception):
    """The page is larger than the fetch or the document allows."""


class UnsupportedContentError(Exception):
    """The page is not text/html or text/plain."""


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    max_bytes: int
    timeout_seconds: float
    max_redirects: int
    allowed_hosts: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        return cls(
            max_bytes=settings.ingest_max_bytes,
            timeout_seconds=settings.ingest_timeout_seconds,
            max_redirects=settings.ingest_max_redirects,
            allowed_hosts=settings.ingest_allowed_host_set,
        )


@dataclass(frozen=True, slots=True)
class FetchedPage:
    url: str
    """Where the text came from, after redirects."""
    title: str
    text: str


def _new_transport() -> httpx.AsyncBaseTransport:
    # A fresh transport per hop: connections are keyed by address, so a pooled TLS
    # connection made for one name could otherwise be reused for another name.
    return httpx.AsyncHTTPTransport(retries=0)


class UrlFetcher:
    """Fetches pages under a FetchPolicy, resolving names with ``resolver``.

    ``transport_factory`` is the network itself; tests replace it to stand in for
    outside hosts, which the test environment may not reach.
    """

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        resolver: Resolver,
        transport_factory: TransportFactory = _new_transport,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._transport_factory = transport_factory

    async def fetch(self, raw_url: str) -> FetchedPage:
        """Raises InvalidUrlError, BlockedDestinationError, FetchFailedError,
        ContentTooLargeError or UnsupportedContentError."""
        target = parse_target(raw_url)
        try:
            async with asyncio.timeout(self._policy.timeout_seconds):
                return await self._follow(target)
        except TimeoutError as exc:
            raise FetchFailedError(
                f"fetching {target.host} took longer than {self._policy.timeout_seconds:g} s"
            ) from exc

    async def _follow(self, target: Target) -> FetchedPage:
        for _hop in range(self._policy.max_redirects + 1):
            outcome = await self._fetch_once(target)
            if isinstance(outcome, FetchedPage):
                return outcome
            try:
                target = parse_target(target.url.join(outcome))
            except InvalidUrlError as exc:
                raise InvalidUrlError(f"redirect refused: {exc}") from exc
        raise FetchFailedError(f"more than {self._policy.max_redirects} redirects")

    async def _fetch_once(self, target: Target) -> str | FetchedPage:
        """One request: the Location of a redirect, or the page."""
        try:
            pinned = await pin(
                target, resolver=self._resolver, allowed_hosts=self._policy.allowed_hosts
            )
        except UnresolvableHostError as exc:
            raise FetchFailedError(str(exc)) from exc
        headers = {
            "Host": pinned.host_header(),
            "User-Agent": _USER_AGENT,
            "Accept": "text/html, text/plain;q=0.9",
            # Uncompressed: the size limit then bounds what arrives, not a zip bomb's output.
            "Accept-Encoding": "identity",
        }
        transport = self._transport_factory()
        async with httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment would bypass the pinned address
            timeout=self._policy.timeout_seconds,
        ) as client:
            try:
                async with client.stream(
                    "GET", pinned.request_url(), headers=headers, extensions=pinned.extensions()
                ) as response:
                    if response.status_code in _REDIRECT_STATUSES:
                        location = response.headers.get("location")
                        if not location:
                            raise FetchFailedError(f"{target.host} redirected without a Location")
                        return location
                    if not response.is_success:
                        raise FetchFailedError(
                            f"{target.host} answered HTTP {response.status_code}"
                        )
                    media_type = _media_type(response)
                    content = await self._read_bounded(response)
            except httpx.HTTPError as exc:
                logger.info("ingest fetch of %s failed: %s", target.host, type(exc).__name__)
                raise FetchFailedError(
                    f"could not fetch from {target.host}: {type(exc).__name__}"
                ) from exc
        text = _decode(content, response.encoding)
        return _page(str(target.url), media_type, text)

    async def _read_bounded(self, response: httpx.Response) -> bytes:
        limit = self._policy.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ContentTooLargeError(f"page is {declared} bytes; the limit is {limit}")
        chunks: list[bytes] = []
        received = 0
        # Counted while streaming: a missing or lying Content-Length cannot make us buffer more.
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            if received > limit:
                raise ContentTooLargeError(f"page exceeds the {limit}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)


def _decode(content: bytes, encoding: str | None) -> str:
    try:
        return content.decode(encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know: read it as UTF-8
        return content.decode("utf-8", errors="replace")


def _media_type(response: httpx.Response) -> str:
    media_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in TEXT_CONTENT_TYPES:
        shown = media_type or "none"
        raise UnsupportedContentError(
            f"content type must be {' or '.join(TEXT_CONTENT_TYPES)}, got {shown!r}"
        )
    return media_type


def _page(url: str, media_type: str, text: str) -> FetchedPage:
    # Postgres text cannot hold NUL; a page that contains one loses it rather than failing.
    text = text.replace("\x00", "")
    title: str | None = None
    if media_type == "text/html":
        extracted = html_to_text(text)
        title, text = extracted.title, extracted.text
    else:
        text = normalise_whitespace(text)
    if len(text) > BODY_MAX_LENGTH:
        raise ContentTooLargeError(
            f"page text is {len(text)} characters; a document holds at most {BODY_MAX_LENGTH}"
        )
    return FetchedPage(url=url, title=(title or url)[:TITLE_MAX_LENGTH], text=text)
