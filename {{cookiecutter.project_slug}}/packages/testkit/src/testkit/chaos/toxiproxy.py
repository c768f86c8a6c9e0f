"""The fault proxy API driven through a real Toxiproxy server's HTTP API (TOXIPROXY_URL).

Toxiproxy (github.com/Shopify/toxiproxy) is the standard fault proxy, but it needs Docker or
its Go binary, neither of which every test machine has; testkit.chaos.in_process implements its
vocabulary in-process for those. Where a Toxiproxy server is reachable, set TOXIPROXY_URL
(e.g. http://127.0.0.1:8474) and the same tests run through the real thing.

Only the standard library is used (urllib, json): the API is a handful of JSON calls.

Each proxy is created under a name unique to this process (`<name>-<pid>`) on port 0, so xdist
workers and parallel runs sharing one Toxiproxy never collide. For the same reason `reset()`
resets only this proxy (its toxics removed, enabled) rather than POST /reset, which would
reset every other run's proxies too; `ToxiproxyClient.reset_all()` is there for a fresh start.
Toxiproxy must reach the upstream address as given: run it with host networking
(`docker run --network host ghcr.io/shopify/toxiproxy`) when the dependencies are on loopback.
"""

from __future__ import annotations

import ipaddress
import json
import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlsplit

from testkit.chaos.proxy import Proxy
from testkit.chaos.toxics import Stream, Toxic, make_toxic

REQUEST_TIMEOUT_S = 10.0


class ToxiproxyError(RuntimeError):
    """Toxiproxy refused a request or could not be reached; the message says which and why."""


class ToxiproxyClient:
    """The few calls of Toxiproxy's HTTP API the fault proxy needs."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def version(self) -> str:
        return str(self._request("GET", "/version"))

    def create_proxy(self, name: str, listen: str, upstream: str) -> dict[str, Any]:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
        return dict(self._request("POST", "/proxies", body))

    def delete_proxy(self, name: str) -> None:
        self._request("DELETE", f"/proxies/{quote(name)}")

    def set_enabled(self, name: str, enabled: bool) -> None:
        self._request("POST", f"/proxies/{quote(name)}", {"enabled": enabled})

    def add_toxic(self, proxy: str, toxic: Toxic) -> None:
        self._request("POST", f"/proxies/{quote(proxy)}/toxics", toxic.to_json())

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        self._request("DELETE", f"/proxies/{quote(proxy)}/toxics/{quote(toxic)}")

    def toxics(self, proxy: str) -> list[Toxic]:
        listed = self._request("GET", f"/proxies/{quote(proxy)}/toxics")
        return [_toxic_from_json(item) for item in listed]

    def reset_all(self) -> None:
        """POST /reset: every proxy on the server enabled and stripped of its toxics."""
        self._request("POST", "/reset")

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
                payload: bytes = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace").strip()
            with_detail = f": {_error_message(detail)}" if detail else ""
            raise ToxiproxyError(
                f"Toxiproxy {method} {path} failed with HTTP {error.code}{with_detail}"
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ToxiproxyError(
                f"Toxiproxy at {self.url} (TOXIPROXY_URL) is not reachable: {reason}"
            ) from None
        if not payload.strip():
            return None
        try:
            return json.loads(payload)
        except ValueError:
            return payload.decode(errors="replace")


def _error_message(detail: str) -> str:
    """Toxiproxy answers errors as {"error": "...", "status": N}; keep just the words."""
    try:
        parsed = json.loads(detail)
    except ValueError:
        return detail
    if isinstance(parsed, dict) and "error" in parsed:
        return str(parsed["error"])
    return detail


def _toxic_from_json(item: dict[str, Any]) -> Toxic:
    attributes = {key: int(value) for key, value in dict(item.get("attributes", {})).items()}
    stream: Stream = "upstream" if item.get("stream") == "upstream" else "downstream"
    return Toxic(
        str(item["name"]), str(item["type"]), stream, float(item.get("toxicity", 1.0)), attributes
    )


def listen_address(toxiproxy_url: str) -> tuple[str, str]:
    """(what Toxiproxy binds, the host clients dial): loopback stays loopback, else all."""
    host = urlsplit(toxiproxy_url).hostname or "localhost"
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return "127.0.0.1:0", "127.0.0.1"
    return "0.0.0.0:0", host


class ToxiproxyProxy(Proxy):
    """A proxy living in a Toxiproxy server; same API as the in-process one."""

    def __init__(self, client: ToxiproxyClient, name: str, upstream: tuple[str, int]) -> None:
        self.name = name
        self.upstream = upstream
        self._client = client
        self.remote_name = f"{name}-{os.getpid()}"
        bind, self._listen_host = listen_address(client.url)
        created = client.create_proxy(self.remote_name, bind, f"{upstream[0]}:{upstream[1]}")
        # Toxiproxy answers with the address it bound: port 0 became a free port.
        self._listen_port = int(str(created["listen"]).rpartition(":")[2])
        self._enabled = True
        self._closed = False

    @property
    def enabled(self) -> bool:
        return self._enabled

    def add_toxic(
        self,
        kind: str,
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
        **attributes: int,
    ) -> Toxic:
        toxic = make_toxic(kind, stream=stream, toxicity=toxicity, name=name, **attributes)
        self._client.add_toxic(self.remote_name, toxic)
        return toxic

    def remove_toxic(self, name: str) -> None:
        self._client.remove_toxic(self.remote_name, name)

    def toxics(self) -> list[Toxic]:
        return self._client.toxics(self.remote_name)

    def disable(self) -> None:
        self._client.set_enabled(self.remote_name, False)
        self._enabled = False

    def enable(self) -> None:
        self._client.set_enabled(self.remote_name, True)
        self._enabled = True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._client.delete_proxy(self.remote_name)
