"""The fault proxy's API: a TCP proxy in front of one dependency, with Toxiproxy's toxics.

Toxiproxy is the standard tool for this, but it cannot run on every machine the tests run on
(no Docker daemon, no Toxiproxy binary in the package registries we install from), so this
module implements its vocabulary in-process: a TCP proxy per dependency, each connection piped
through the toxics with Toxiproxy's semantics (testkit.chaos.toxics holds the arithmetic).
Where a Toxiproxy server is reachable, TOXIPROXY_URL makes the same `Proxy` API drive it
instead (testkit.chaos.toxiproxy), so a suite written against one runs against the other.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterator
from typing import Self
from urllib.parse import SplitResult, urlsplit, urlunsplit

from testkit.chaos.toxics import Toxic


class Proxy(abc.ABC):
    """A TCP proxy in front of one dependency, with toxics; the API both backends implement."""

    name: str
    upstream: tuple[str, int]

    _listen_host: str
    _listen_port: int

    @property
    def listen_host(self) -> str:
        return self._listen_host

    @property
    def listen_port(self) -> int:
        return self._listen_port

    @property
    @abc.abstractmethod
    def enabled(self) -> bool: ...

    @abc.abstractmethod
    def add_toxic(
        self,
        kind: str,
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
        **attributes: int,
    ) -> Toxic:
        """Add a toxic (see testkit.chaos.toxics.KINDS); it acts until removed."""

    @abc.abstractmethod
    def remove_toxic(self, name: str) -> None: ...

    @abc.abstractmethod
    def toxics(self) -> list[Toxic]: ...

    @abc.abstractmethod
    def disable(self) -> None:
        """Refuse new connections and cut the open ones (the dependency is "down")."""

    @abc.abstractmethod
    def enable(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def reset(self) -> None:
        """Back to a clean pipe: every toxic removed, enabled; open connections are kept."""
        for toxic in self.toxics():
            self.remove_toxic(toxic.name)
        self.enable()

    @property
    def address(self) -> tuple[str, int]:
        return self.listen_host, self.listen_port

    @contextlib.contextmanager
    def toxic(
        self,
        kind: str,
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
        **attributes: int,
    ) -> Iterator[Toxic]:
        """The toxic in force for the block: `with proxy.toxic("latency", latency=500): ...`."""
        added = self.add_toxic(kind, stream=stream, toxicity=toxicity, name=name, **attributes)
        try:
            yield added
        finally:
            # The block may have removed it already (reset, remove_toxic): nothing to undo then.
            if any(toxic.name == added.name for toxic in self.toxics()):
                self.remove_toxic(added.name)

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """The dependency unreachable for the block, back up after it."""
        self.disable()
        try:
            yield
        finally:
            self.enable()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        listen = f"{self.listen_host}:{self.listen_port}"
        upstream = f"{self.upstream[0]}:{self.upstream[1]}"
        return f"<{type(self).__name__} {self.name} {listen} -> {upstream}>"


def proxied_url(url: str, proxy: Proxy) -> str:
    """The service URL with its host and port replaced by the proxy's (user, path, query kept)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"cannot proxy {url!r}: it has no host:port (Unix socket URLs can't be)")
    userinfo, _, _ = parts.netloc.rpartition("@")
    host = proxy.listen_host
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = (f"{userinfo}@" if userinfo else "") + f"{host}:{proxy.listen_port}"
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, parts.query, parts.fragment))
