"""Which fault proxy a run uses: Toxiproxy when TOXIPROXY_URL is set, else the in-process one.

Toxiproxy is the standard tool, but it needs Docker or its Go binary; the in-process proxy
(testkit.chaos.in_process) implements its vocabulary so chaos tests run anywhere. The decision is a
pure function returning the choice and its reason, which the pytest header prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from testkit.chaos.in_process import InProcessProxy
from testkit.chaos.proxy import Proxy
from testkit.chaos.toxiproxy import ToxiproxyClient, ToxiproxyProxy
from testkit.infra.addresses import mask_password

Backend = Literal["in-process", "toxiproxy"]


@dataclass(frozen=True, slots=True)
class BackendChoice:
    backend: Backend
    reason: str
    toxiproxy_url: str | None = None

    def describe(self) -> str:
        """e.g. `in-process(TOXIPROXY_URL not set)`, for the header line."""
        if self.toxiproxy_url is None:
            return f"{self.backend}({self.reason})"
        return f"{self.backend}({mask_password(self.toxiproxy_url)}, {self.reason})"


def choose_backend(toxiproxy_url: str | None, *, source: str = "TOXIPROXY_URL") -> BackendChoice:
    """The backend for TOXIPROXY_URL's value; a malformed URL is a one-line ValueError."""
    if not toxiproxy_url:
        return BackendChoice("in-process", f"{source} not set")
    parts = urlsplit(toxiproxy_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(
            f"{source} must be Toxiproxy's API as an http:// or https:// URL such as "
            f"http://127.0.0.1:8474, got {mask_password(toxiproxy_url)!r}"
        )
    return BackendChoice("toxiproxy", f"{source} set", toxiproxy_url)


def make_proxy(
    choice: BackendChoice, name: str, upstream: tuple[str, int], *, seed: int | None = None
) -> Proxy:
    """A started proxy of the chosen backend (the seed drives in-process jitter and toxicity)."""
    if choice.toxiproxy_url is not None:
        return ToxiproxyProxy(ToxiproxyClient(choice.toxiproxy_url), name, upstream)
    return InProcessProxy(name, upstream, seed=seed)
