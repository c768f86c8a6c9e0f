"""Server-side request forgery guard: which URLs and addresses an outbound fetch may reach.

Checked after DNS resolution, on the addresses themselves: a name is only a pointer, and
what must never be reached (loopback, private networks, cloud metadata) is decided by
address. The fetch then connects to exactly the address that passed (``PinnedTarget``), so
a second lookup at connect time (DNS rebinding) cannot switch the destination.

Hand-written on purpose: the maintained options did not fit. drawbridge (one 0.1 release)
hard-wires ``socket.getaddrinfo``, so rebinding cannot be simulated without patching, and
safehttpx resolves through a public DNS service over the network. The address rules below
are the standard library's ``ipaddress`` predicates plus what they miss (CGNAT, multicast on
older Pythons, IPv6 forms that embed an IPv4 address, metadata endpoints).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2048

# Cloud metadata services hand out credentials to whoever asks from inside the instance.
# 169.254.169.254 (AWS, GCP, Azure, OpenStack, ...) and AWS's IPv6 fd00:ec2::254 fall in
# blocked ranges anyway; they are named so the reason says "cloud metadata". Azure's
# wireserver 168.63.129.16 is a *public* address, so only this list stops it.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        ipaddress.IPv4Address("169.254.169.254"),
        ipaddress.IPv4Address("168.63.129.16"),
        ipaddress.IPv6Address("fd00:ec2::254"),
    }
)
# Shared address space (RFC 6598): carrier-grade NAT and some cloud-internal services
# (Alibaba's metadata sits at 100.100.100.200). Not "private" to ipaddress, not public either.
SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
# NAT64 (RFC 6052 / 8215): a gateway forwards these to the IPv4 address in the low 32 bits.
NAT64_NETWORKS = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
)
# Deprecated IPv4-compatible IPv6 (::a.b.c.d); some stacks still route it as IPv4.
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")

# Numeric labels, as libc's inet_aton reads IPv4 (decimal, octal, hex, 1 to 4 parts:
# "2130706433", "0x7f.1", "017700000001"). A host made only of these is an address or
# invalid (as in the WHATWG URL standard), never a name sent to DNS.
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+))*")
_HOSTNAME = re.compile(r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{1,63}")


class InvalidUrlError(ValueError):
    """The URL cannot be fetched as given (syntax, scheme, credentials, port)."""


class BlockedDestinationError(Exception):
    """The URL leads to an address the service must not reach."""


class UnresolvableHostError(Exception):
    """DNS gave no address for the host."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, 6to4, NAT64, compatible), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in NAT64_NETWORKS) or (
        address in IPV4_COMPATIBLE and int(address) > 1  # :: and ::1 are not IPv4 forms
    ):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def blocked_reason(address: IPAddress) -> str | None:
    """Why the service must not connect to ``address``, or None when it is public."""
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            return "link-local (scoped)"
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = blocked_reason(embedded)
            return None if inner is None else f"{inner} (IPv4 inside IPv6)"
        if address.teredo is not None:
            return "Teredo tunnel"
    # Order matters only for the reason given: the most specific name first.
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in SHARED_ADDRESS_SPACE, "CGNAT"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not globally routable"),
    )
    for matched, reason in checks:
        if matched:
            return reason
    return None


def parse_ip_literal(host: str) -> IPAddress | None:
    """``host`` as an address when it is one in any spelling, None when it is a name.

    Raises InvalidUrlError for a host that looks numeric but is no valid address
    ("08.1.1.1", "1.2.3.4.5"): resolvers disagree on those, so none is guessed.
    """
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise InvalidUrlError(f"invalid IPv6 address {host!r}") from exc
    if not _NUMERIC_HOST.fullmatch(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError as exc:
        raise InvalidUrlError(f"host {host!r} looks like an IPv4 address but is not one") from exc


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: http(s), a host, a port, no credentials."""

    url: httpx.URL
    host: str
    """ASCII (IDNA), lower case, without a trailing dot."""
    port: int
    literal: IPAddress | None
    """The address when the host is written as one; None for a name."""


def parse_target(raw: str | httpx.URL) -> Target:
    """Check a URL's shape (not yet where it leads). Raises InvalidUrlError."""
    if isinstance(raw, str) and len(raw) > MAX_URL_LENGTH:
        raise InvalidUrlError(f"URL longer than {MAX_URL_LENGTH} characters")
    try:
        url = raw if isinstance(raw, httpx.URL) else httpx.URL(raw.strip())
    except (httpx.InvalidURL, ValueError) as exc:
        raise InvalidUrlError(f"not a valid URL: {exc}") from exc
    if url.scheme not in ALLOWED_SCHEMES:
        scheme = url.scheme or "(none)"
        raise InvalidUrlError(f"URL scheme must be http or https, got {scheme!r}")
    if url.userinfo:
        raise InvalidUrlError("URL must not contain credentials (user:password@)")
    host = url.raw_host.decode("ascii").lower().removesuffix(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise InvalidUrlError("URL has no host")
    port = url.port if url.port is not None else (443 if url.scheme == "https" else 80)
    if not 1 <= port <= 65535:
        raise InvalidUrlError(f"URL port must be between 1 and 65535, got {port}")
    literal = parse_ip_literal(host)
    if literal is None and not _HOSTNAME.fullmatch(host):
        raise InvalidUrlError(f"URL host {host!r} is not a valid host name")
    return Target(url=url, host=host, port=port, literal=literal)


class Resolver(Protocol):
    """Turns a host name into addresses. Tests pass their own to simulate DNS."""

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]: ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo in the event loop's executor)."""

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise UnresolvableHostError(f"cannot resolve host {host!r}") from exc
        addresses: list[IPAddress] = []
        for _family, _type, _proto, _canonname, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]))
            if address not in addresses:
                addresses.append(address)
        return addresses


@dataclass(frozen=True, slots=True)
class PinnedTarget:
    """A target and the one address that passed the checks: the fetch connects there."""

    target: Target
    address: IPAddress

    def request_url(self) -> httpx.URL:
        """The URL with the address in place of the name, so no second lookup happens."""
        return self.target.url.copy_with(host=str(self.address))

    def host_header(self) -> str:
        host = f"[{self.target.host}]" if ":" in self.target.host else self.target.host
        default_port = 443 if self.target.url.scheme == "https" else 80
        return host if self.target.port == default_port else f"{host}:{self.target.port}"

    def extensions(self) -> dict[str, object]:
        # httpx verifies the certificate against sni_hostname, so TLS still checks the
        # name the caller asked for even though the socket goes to an address.
        if self.target.url.scheme == "https" and self.target.literal is None:
            return {"sni_hostname": self.target.host}
        return {}


async def pin(
    target: Target, *, resolver: Resolver, allowed_hosts: Collection[str] = ()
) -> PinnedTarget:
    """Resolve ``target`` and choose the address to connect to.

    Every address the host resolves to must be public, not just the one used: a name
    that resolves to a public and a private address is an attack on the check itself.
    ``allowed_hosts`` (operator configuration) skips the address check for those hosts.
    """
    if target.literal is not None:
        addresses: Sequence[IPAddress] = (target.literal,)
    else:
        addresses = await resolver.resolve(target.host, target.port)
        if not addresses:
            raise UnresolvableHostError(f"host {target.host!r} has no addresses")
    if target.host not in allowed_hosts:
        for address in addresses:
            reason = blocked_reason(address)
            if reason is not None:
                raise BlockedDestinationError(
                    f"destination not allowed: {target.host} resolves to a non-public "
                    f"address ({reason})"
                )
    return PinnedTarget(target=target, address=addresses[0])
