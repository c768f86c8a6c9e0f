"""SSRF through POST /documents/ingest: no URL, spelling, DNS answer or redirect reaches inside.

Outside hosts are ``FakeInternet`` (MOCK mode forbids reaching real ones, and no test can serve
a public address), DNS answers are ``StaticResolver``: both record what the fetch did, so each
test proves where a connection went, or that none was made. Each test runs its whole list of
cases and reports every case that got through, not just the first.
"""

from __future__ import annotations

import pytest

from _fixtures.service import ServiceHarness, TenantWithKey
from _helpers.web_doubles import FakeInternet, Page, StaticResolver, fetcher_in, redirect

pytestmark = pytest.mark.anyio

PUBLIC = "93.184.216.34"
BLOCKED_PREFIX = "destination not allowed: "

NON_PUBLIC_URLS = [
    "http://127.0.0.1/",
    "http://127.0.0.1:6379/",
    "http://[::1]/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.0.1/admin",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://169.254.1.1/",
    "http://[fe80::1]/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://0/",
    "http://224.0.0.1/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:a9fe:a9fe::]/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://017700000001/",
    "http://0x7f.0.0.1/",
    "http://127.1/",
    "http://0xa9.0xfe.0xa9.0xfe/",
    "http://2852039166/",
    "http://127.0.0.1./",
    "https://10.0.0.1/",
]


async def _ingest(service: ServiceHarness, tenant: TenantWithKey, url: str) -> tuple[int, str]:
    response = await service.client.post(
        "/documents/ingest", json={"url": url}, headers=tenant.headers
    )
    detail = response.json().get("detail", "") if response.status_code != 201 else ""
    return response.status_code, str(detail)


async def test_non_public_address_in_any_spelling_is_refused_without_a_connection(
    service: ServiceHarness, tenant: TenantWithKey
) -> None:
    resolver = StaticResolver({})
    internet = FakeInternet()
    with fetcher_in(service.app, service.settings, resolver=resolver, internet=internet):
        outcomes = {url: await _ingest(service, tenant, url) for url in NON_PUBLIC_URLS}
    got_through = {
        url: outcome
        for url, outcome in outcomes.items()
        if outcome[0] != 403 or not outcome[1].startswith(BLOCKED_PREFIX)
    }
    assert got_through == {}
    assert internet.requests == []
    assert resolver.calls == []  # an address literal is never sent to DNS


async def test_dotted_octal_address_that_httpx_cannot_read_is_refused_as_invalid(
    service: ServiceHarness, tenant: TenantWithKey
) -> None:
    # 0251.0376.0251.0376 is 169.254.169.254 to libc; httpx's URL parser rejects it outright.
    status, detail = await _ingest(service, tenant, "http://0251.0376.0251.0376/")
    assert status == 422
    assert detail.startswith("not a valid URL")


async def test_name_resolving_to_a_non_public_address_is_refused(
    service: ServiceHarness, tenant: TenantWithKey
) -> None:
    answers = {
        "private.example": ["10.1.2.3"],
        "loopback.example": ["127.0.0.1"],
        "metadata.example": ["169.254.169.254"],
        "ipv6-loopback.example": ["::1"],
        "mapped.example": ["::ffff:192.168.1.1"],
        "public-and-private.example": [PUBLIC, "192.168.1.10"],
    }
    resolver = StaticResolver({name: [answer] for name, answer in answers.items()})
    internet = FakeInternet()
    with fetcher_in(service.app, service.settings, resolver=resolver, internet=internet):
        outcomes = {name: await _ingest(service, tenant, f"http://{name}/page") for name in answers}
    assert {name: outcome for name, outcome in outcomes.items() if outcome[0] != 403} == {}
    assert sorted(resolver.calls) == sorted(answers)
    assert internet.requests == []


async def test_localhost_resolved_by_the_system_resolver_is_refused(
    service: ServiceHarness, tenant: TenantWithKey
) -> None:
    # The real resolver: "localhost" is the one name every machine resolves (to loopback).
    status, detail = await _ingest(service, tenant, "http://localhost:6379/")
    assert (status, detail) == (
        403,
        "destination not allowed: localhost resolves to a non-public address (loopback)",
    )


async def test_dns_rebinding_cannot_switch_the_address_after_the_check(
    service: ServiceHarness, tenant: TenantWithKey
) -> None:
    # Public when checked, loopback if asked again: the fetch must not ask again.
    resolver = StaticResolver({"rebind.example": [[PUBLIC], ["127.0.0.1"]]})
    internet = FakeInternet({"rebind.example": {"/": Page(b"<p>public page</p>")}})
    with fetcher_in(service.app, service.settings, resolver=resolver, internet=internet):
        status, detail = await _ingest(service, tenant, "http://rebind.example/")
    assert status == 201, detail
    assert resolver.calls == ["rebind.example"]
    [request] = internet.requests
    assert (request.url.host, request.host_header) == (PUBLIC, "rebind.example")


async def test_https_fetch_keeps_the_name_for_tls_while_connecting_to_the_checked_address(
    service: ServiceHarness, tenant: TenantWithKey
) -> None:
    resolver = StaticResolver({"secure.example": [[PUBLIC]]})
    internet = FakeInternet({"secure.example": {"/doc": Page(b"tls text", "text/plain")}})
    with fetcher_in(service.app, service.settings, resolver=resolver, internet=internet):
        status, detail = await _ingest(service, tenant, "https://secure.example/doc")
    assert status == 201, detail
    [request] = internet.requests
    assert (str(request.url), request.sni_hostname) == (f"https://{PUBLIC}/doc", "secure.example")


async def test_rebinding_on_a_redirect_hop_is_caught_by_the_hop_check(
    service: ServiceHarness, tenant: TenantWithKey
) -> None:
    resolver = StaticResolver({"rebind.example": [[PUBLIC], ["127.0.0.1"]]})
    internet = FakeInternet({"rebind.example": {"/start": redirect("/next")}})
    with fetcher_in(service.app, service.settings, resolver=resolver, internet=internet):
        status, detail = await _ingest(service, tenant, "http://rebind.example/start")
    assert (status, detail) == (
        403,
        "destination not allowed: rebind.example resolves to a non-public address (loopback)",
    )
    assert [r.url.path for r in internet.requests] == ["/start"]


async def test_redirect_to_a_non_public_address_is_refused(
    service: ServiceHarness, tenant: TenantWithKey
) -> None:
    cases = [
        (302, "http://169.254.169.254/latest/meta-data/"),
        (302, "http://127.0.0.1:5432/"),
        (302, "http://[::1]:6379/"),
        (302, "http://0x7f000001/"),
        (302, "http://internal.example/"),
        (301, "http://10.0.0.1/"),
        (303, "http://10.0.0.1/"),
        (307, "http://10.0.0.1/"),
        (308, "http://10.0.0.1/"),
    ]
    outcomes = {}
    for code, location in cases:
        resolver = StaticResolver(
            {"redirector.example": [[PUBLIC]], "internal.example": [["10.0.0.9"]]}
        )
        internet = FakeInternet({"redirector.example": {"/go": redirect(location, code)}})
        with fetcher_in(service.app, service.settings, resolver=resolver, internet=internet):
            status, _ = await _ingest(service, tenant, "http://redirector.example/go")
        # Only the redirector may have been contacted, never the target.
        outcomes[(code, location)] = (status, len(internet.requests))
    assert {case: out for case, out in outcomes.items() if out != (403, 1)} == {}


async def test_redirect_to_another_scheme_is_refused(
    service: ServiceHarness, tenant: TenantWithKey
) -> None:
    outcomes = {}
    for location in ["file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "ftp://example.com/"]:
        resolver = StaticResolver({"redirector.example": [[PUBLIC]]})
        internet = FakeInternet({"redirector.example": {"/go": redirect(location)}})
        with fetcher_in(service.app, service.settings, resolver=resolver, internet=internet):
            status, detail = await _ingest(service, tenant, "http://redirector.example/go")
        outcomes[location] = (status, detail.split(":", 1)[0], len(internet.requests))
    assert set(outcomes.values()) == {(422, "redirect refused", 1)}, outcomes


async def test_odd_scheme_is_refused(service: ServiceHarness, tenant: TenantWithKey) -> None:
    cases = {
        "file:///etc/passwd": "file",
        "gopher://127.0.0.1:6379/_FLUSHALL": "gopher",
        "ftp://example.com/file": "ftp",
        "data:text/plain;base64,aGVsbG8=": "data",
        "dict://127.0.0.1:11211/stats": "dict",
        "javascript:alert(1)": "javascript",
        "ldap://127.0.0.1/": "ldap",
        "jar:http://example.com!/": "jar",
    }
    outcomes = {url: await _ingest(service, tenant, url) for url in cases}
    expected = {
        url: (422, f"URL scheme must be http or https, got {scheme!r}")
        for url, scheme in cases.items()
    }
    assert outcomes == expected


async def test_credentials_in_the_url_are_refused(
    service: ServiceHarness, tenant: TenantWithKey
) -> None:
    urls = [
        "http://user:password@example.com/",
        "http://example.com@127.0.0.1/",
        "http://:token@example.com/",
    ]
    outcomes = {url: await _ingest(service, tenant, url) for url in urls}
    refusal = (422, "URL must not contain credentials (user:password@)")
    assert outcomes == dict.fromkeys(urls, refusal)


async def test_refusals_store_nothing(service: ServiceHarness, tenant: TenantWithKey) -> None:
    await _ingest(service, tenant, "http://169.254.169.254/")
    await _ingest(service, tenant, "file:///etc/passwd")
    listing = await service.client.get("/documents", headers=tenant.headers)
    assert listing.json()["items"] == []
