"""URL ingest against a real HTTP server on loopback (allowlisted) and real Postgres/Redis."""

from __future__ import annotations

import time

import pytest

from _fixtures.service import ServiceFactory, ServiceHarness, TenantWithKey, create_tenant
from _helpers.web_doubles import LoopbackSite, Page, StaticResolver, fetcher_in, redirect

pytestmark = pytest.mark.anyio

QUOKKA_PAGE = b"""<html><head><title>Quokka field notes</title>
<script>var token = "script-text-is-not-indexed";</script></head>
<body><h1>Quokkas</h1><p>The quokka lives on Rottnest Island.</p></body></html>"""


async def _start(service_factory: ServiceFactory, **overrides: object) -> ServiceHarness:
    return await service_factory(ingest_allowed_hosts="127.0.0.1", **overrides)


async def _tenant(service: ServiceHarness) -> TenantWithKey:
    return await create_tenant(service.client, name="Ingest tenant")


async def test_ingested_page_becomes_a_document_that_search_finds(
    service_factory: ServiceFactory, loopback_site: LoopbackSite
) -> None:
    loopback_site.pages["/quokka.html"] = Page(QUOKKA_PAGE)
    service = await _start(service_factory)
    tenant = await _tenant(service)

    response = await service.client.post(
        "/documents/ingest", json={"url": loopback_site.url("/quokka.html")}, headers=tenant.headers
    )

    assert response.status_code == 201, response.text
    document = response.json()
    assert document["title"] == "Quokka field notes"
    assert document["body"] == "Quokkas\n\nThe quokka lives on Rottnest Island."
    hits = await service.client.get("/search", params={"q": "rottnest"}, headers=tenant.headers)
    assert [hit["id"] for hit in hits.json()["hits"]] == [document["id"]]
    script = await service.client.get(
        "/search", params={"q": "script-text-is-not-indexed"}, headers=tenant.headers
    )
    assert script.json()["hits"] == []


async def test_plain_text_page_is_stored_with_the_url_as_title(
    service_factory: ServiceFactory, loopback_site: LoopbackSite
) -> None:
    loopback_site.pages["/notes.txt"] = Page(b"line one\n\n\nline   two\n", "text/plain")
    service = await _start(service_factory)
    tenant = await _tenant(service)
    url = loopback_site.url("/notes.txt")

    response = await service.client.post(
        "/documents/ingest", json={"url": url}, headers=tenant.headers
    )

    assert response.status_code == 201, response.text
    assert (response.json()["title"], response.json()["body"]) == (url, "line one\n\nline two")


async def test_redirects_are_followed_and_each_hop_is_requested(
    service_factory: ServiceFactory, loopback_site: LoopbackSite
) -> None:
    loopback_site.pages["/old"] = redirect("/moved", status=301)
    loopback_site.pages["/moved"] = redirect(loopback_site.url("/new"), status=307)
    loopback_site.pages["/new"] = Page(b"<p>new home</p>")
    service = await _start(service_factory)
    tenant = await _tenant(service)

    response = await service.client.post(
        "/documents/ingest", json={"url": loopback_site.url("/old")}, headers=tenant.headers
    )

    assert response.status_code == 201, response.text
    assert response.json()["body"] == "new home"
    assert [seen.path for seen in loopback_site.requests] == ["/old", "/moved", "/new"]


async def test_redirect_loop_stops_at_the_limit(
    service_factory: ServiceFactory, loopback_site: LoopbackSite
) -> None:
    loopback_site.pages["/loop"] = redirect("/loop")
    service = await _start(service_factory, ingest_max_redirects=2)
    tenant = await _tenant(service)

    response = await service.client.post(
        "/documents/ingest", json={"url": loopback_site.url("/loop")}, headers=tenant.headers
    )

    assert response.status_code == 422
    assert response.json()["detail"] == "more than 2 redirects"
    assert len(loopback_site.requests) == 3


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "streamed"])
async def test_page_over_the_size_limit_is_refused(
    service_factory: ServiceFactory, loopback_site: LoopbackSite, declare_length: bool
) -> None:
    loopback_site.pages["/big"] = Page(b"x" * 50_000, "text/plain", declare_length=declare_length)
    service = await _start(service_factory, ingest_max_bytes=10_000)
    tenant = await _tenant(service)

    response = await service.client.post(
        "/documents/ingest", json={"url": loopback_site.url("/big")}, headers=tenant.headers
    )

    assert response.status_code == 413
    assert "10000" in response.json()["detail"]
    listing = await service.client.get("/documents", headers=tenant.headers)
    assert listing.json()["items"] == []


async def test_page_text_over_the_document_limit_is_refused(
    service_factory: ServiceFactory, loopback_site: LoopbackSite
) -> None:
    loopback_site.pages["/long"] = Page(b"word " * 30_000, "text/plain")
    service = await _start(service_factory)
    tenant = await _tenant(service)

    response = await service.client.post(
        "/documents/ingest", json={"url": loopback_site.url("/long")}, headers=tenant.headers
    )

    assert response.status_code == 413
    assert "a document holds at most 100000" in response.json()["detail"]


async def test_non_text_content_is_refused_naming_the_type(
    service_factory: ServiceFactory, loopback_site: LoopbackSite
) -> None:
    loopback_site.pages["/image"] = Page(b"\x89PNG\r\n", "image/png")
    service = await _start(service_factory)
    tenant = await _tenant(service)

    response = await service.client.post(
        "/documents/ingest", json={"url": loopback_site.url("/image")}, headers=tenant.headers
    )

    assert response.status_code == 422
    assert response.json()["detail"] == (
        "content type must be text/html or text/plain, got 'image/png'"
    )


async def test_error_status_from_the_site_is_reported(
    service_factory: ServiceFactory, loopback_site: LoopbackSite
) -> None:
    service = await _start(service_factory)
    tenant = await _tenant(service)

    response = await service.client.post(
        "/documents/ingest", json={"url": loopback_site.url("/missing")}, headers=tenant.headers
    )

    assert response.status_code == 422
    assert response.json()["detail"] == "127.0.0.1 answered HTTP 404"


async def test_slow_site_is_cut_off_at_the_time_limit(
    service_factory: ServiceFactory, loopback_site: LoopbackSite
) -> None:
    loopback_site.pages["/slow"] = Page(b"late", "text/plain", delay_seconds=3.0)
    service = await _start(service_factory, ingest_timeout_seconds=0.3)
    tenant = await _tenant(service)

    started = time.monotonic()
    response = await service.client.post(
        "/documents/ingest", json={"url": loopback_site.url("/slow")}, headers=tenant.headers
    )

    assert time.monotonic() - started < 2.0
    assert response.status_code == 422
    assert response.json()["detail"] == "fetching 127.0.0.1 took longer than 0.3 s"


async def test_connection_goes_to_the_resolved_address_with_the_name_in_the_host_header(
    service_factory: ServiceFactory, loopback_site: LoopbackSite
) -> None:
    loopback_site.pages["/wiki"] = Page(b"<p>intranet page</p>")
    service = await service_factory(ingest_allowed_hosts="wiki.intranet.test")
    tenant = await _tenant(service)
    resolver = StaticResolver({"wiki.intranet.test": [["127.0.0.1"]]})

    with fetcher_in(service.app, service.settings, resolver=resolver):
        response = await service.client.post(
            "/documents/ingest",
            json={"url": loopback_site.url("/wiki", host="wiki.intranet.test")},
            headers=tenant.headers,
        )

    assert response.status_code == 201, response.text
    assert resolver.calls == ["wiki.intranet.test"]
    assert loopback_site.requests[0].host_header == f"wiki.intranet.test:{loopback_site.port}"


async def test_loopback_site_is_blocked_unless_allowlisted(
    service: ServiceHarness, tenant: TenantWithKey, loopback_site: LoopbackSite
) -> None:
    loopback_site.pages["/page"] = Page(b"<p>internal</p>")

    response = await service.client.post(
        "/documents/ingest", json={"url": loopback_site.url("/page")}, headers=tenant.headers
    )

    assert response.status_code == 403
    assert response.json()["detail"] == (
        "destination not allowed: 127.0.0.1 resolves to a non-public address (loopback)"
    )
    assert loopback_site.requests == []
