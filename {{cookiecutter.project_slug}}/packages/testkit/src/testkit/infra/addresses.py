"""Service URLs: default ports, the host and port in them, passwords masked, reachability."""

from __future__ import annotations

import socket
from urllib.parse import SplitResult, urlsplit, urlunsplit

from testkit.infra.protocol import Service

DEFAULT_PORTS: dict[str, int] = {
    "postgresql": 5432,
    "postgres": 5432,
    "redis": 6379,
    "rediss": 6379,
    "nats": 4222,
    "tls": 4222,
}
SCHEMES: dict[Service, tuple[str, ...]] = {
    "postgres": ("postgresql", "postgres"),
    "redis": ("redis", "rediss"),
    "nats": ("nats", "tls"),
}


def mask_password(url: str) -> str:
    """The URL with its password replaced by ***, for headers and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo = f"{parts.username or ''}:***"
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{userinfo}@{host}" + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def check_scheme(service: Service, url: str, variable: str) -> str | None:
    """None when the URL's scheme suits the service, else the reason it does not."""
    scheme = urlsplit(url).scheme
    allowed = SCHEMES[service]
    if scheme in allowed:
        return None
    schemes = " or ".join(scheme + "://" for scheme in allowed)
    return f"{variable}={mask_password(url)!r} must start with {schemes}"


def host_port(url: str) -> tuple[str, int] | None:
    """The TCP host and port the URL points at; None for a Unix-socket URL (no host)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return parts.hostname, port if port is not None else DEFAULT_PORTS.get(parts.scheme, 0)


def tcp_unreachable_reason(host: str, port: int, timeout: float = 1.0) -> str | None:
    """None when something accepts a TCP connection at host:port, else the error."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as error:
        return error.strerror or type(error).__name__
