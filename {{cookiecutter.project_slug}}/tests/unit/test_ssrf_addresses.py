"""The SSRF guard's pure parts: which addresses are public, how hosts and URLs are read."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence

import pytest

from {{ cookiecutter.package_name }}.ssrf import (
    BlockedDestinationError,
    InvalidUrlError,
    IPAddress,
    blocked_reason,
    parse_ip_literal,
    parse_target,
    pin,
)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("168.63.129.16", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("100.64.0.1", "CGNAT"),
        ("100.127.255.254", "CGNAT"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback (IPv4 inside IPv6)"),
        ("::ffff:10.1.2.3", "private (IPv4 inside IPv6)"),
        ("::ffff:169.254.169.254", "cloud metadata (IPv4 inside IPv6)"),
        ("64:ff9b::a00:1", "private (IPv4 inside IPv6)"),
        ("64:ff9b::7f00:1", "loopback (IPv4 inside IPv6)"),
        ("2002:a00:1::", "private (IPv4 inside IPv6)"),
        ("::127.0.0.1", "loopback (IPv4 inside IPv6)"),
        ("fe80::1%eth0", "link-local (scoped)"),
    ],
)
def test_non_public_address_is_blocked_with_its_reason(address: str, reason: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    ["240.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1", "2001:db8::1", "2001::1"],
)
def test_reserved_and_documentation_ranges_are_blocked(address: str) -> None:
    # The exact reason differs between Python versions' ipaddress tables; blocked is what counts.
    assert blocked_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.216.34"],
)
def test_public_address_is_allowed(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0xa9fea9fe", "169.254.169.254"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
    ],
)
def test_every_ipv4_spelling_is_read_as_the_address_a_resolver_would_use(
    host: str, address: str
) -> None:
    assert parse_ip_literal(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "0x-site.example", "deadbeef", "a1.b2"])
def test_names_are_not_addresses(host: str) -> None:
    assert parse_ip_literal(host) is None


@pytest.mark.parametrize("host", ["08.1.1.1", "1.2.3.4.5", "0x1.0x2.0x3.0x4.0x5"])
def test_numeric_host_that_is_no_valid_address_is_refused(host: str) -> None:
    with pytest.raises(InvalidUrlError, match="looks like an IPv4 address"):
        parse_ip_literal(host)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "scheme must be http or https, got 'file'"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "got 'gopher'"),
        ("ftp://example.com/x", "got 'ftp'"),
        ("data:text/plain,hello", "got 'data'"),
        ("javascript:alert(1)", "got 'javascript'"),
        ("//example.com/", "got '(none)'"),
        ("http://user:secret@example.com/", "must not contain credentials"),
        ("http://example.com@127.0.0.1/", "must not contain credentials"),
        ("http:///path", "no host"),
        ("http://example.com:99999/", "port must be between 1 and 65535"),
        ("http://exa mple.com/", "not a valid host name"),
        ("http://ex%41mple.com/", "not a valid host name"),
        ("http://" + "a" * 2050 + ".com/", "longer than 2048"),
    ],
)
def test_unusable_url_is_refused_naming_the_problem(url: str, message: str) -> None:
    with pytest.raises(InvalidUrlError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_target(url)


def test_target_host_is_lower_case_ascii_without_trailing_dot() -> None:
    target = parse_target("HTTPS://Bücher.Example./x")
    assert (target.host, target.port, target.literal) == ("xn--bcher-kva.example", 443, None)


class _Answers:
    def __init__(self, *addresses: str) -> None:
        self.addresses = [ipaddress.ip_address(a) for a in addresses]
        self.calls = 0

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        self.calls += 1
        return self.addresses


def test_pin_refuses_a_name_when_any_of_its_addresses_is_private() -> None:
    resolver = _Answers("93.184.216.34", "10.0.0.7")
    with pytest.raises(BlockedDestinationError, match="non-public address \\(private\\)"):
        asyncio.run(pin(parse_target("http://mixed.example/"), resolver=resolver))


def test_pin_connects_to_the_checked_address_keeping_the_name_for_host_and_sni() -> None:
    resolver = _Answers("93.184.216.34")
    pinned = asyncio.run(pin(parse_target("https://docs.example:8443/a?b=1"), resolver=resolver))
    assert str(pinned.request_url()) == "https://93.184.216.34:8443/a?b=1"
    assert pinned.host_header() == "docs.example:8443"
    assert pinned.extensions() == {"sni_hostname": "docs.example"}


def test_pin_never_resolves_an_address_literal() -> None:
    resolver = _Answers("93.184.216.34")
    with pytest.raises(BlockedDestinationError, match="loopback"):
        asyncio.run(pin(parse_target("http://0x7f000001/"), resolver=resolver))
    assert resolver.calls == 0


def test_allowlisted_host_skips_the_address_check_but_is_still_pinned() -> None:
    resolver = _Answers("127.0.0.1")
    pinned = asyncio.run(
        pin(
            parse_target("http://wiki.intranet/"),
            resolver=resolver,
            allowed_hosts={"wiki.intranet"},
        )
    )
    assert pinned.address == ipaddress.ip_address("127.0.0.1")


def test_pinned_ipv6_address_is_bracketed_in_the_url() -> None:
    resolver = _Answers("2606:4700:4700::1111")
    pinned = asyncio.run(pin(parse_target("http://v6.example:8080/p"), resolver=resolver))
    assert str(pinned.request_url()) == "http://[2606:4700:4700::1111]:8080/p"
    assert pinned.host_header() == "v6.example:8080"
    assert pinned.extensions() == {}  # plain http: no TLS name to keep
