"""Chaos tooling: a fault proxy between the service and its dependencies, killable servers.

The fault proxy speaks Toxiproxy's vocabulary. Toxiproxy itself is the standard tool but needs
Docker or its binary, so by default the proxy runs in-process (testkit.chaos.in_process); with
TOXIPROXY_URL set the same API drives a real Toxiproxy (testkit.chaos.toxiproxy).
"""

from testkit.chaos.backend import BackendChoice, choose_backend, make_proxy
from testkit.chaos.in_process import InProcessProxy
from testkit.chaos.plugin import FaultProxyFactory, ProxyPool
from testkit.chaos.proxy import Proxy, proxied_url
from testkit.chaos.servers import (
    KillableServer,
    ServerUnavailable,
    ephemeral,
    ephemeral_nats,
    ephemeral_postgres,
    ephemeral_redis,
)
from testkit.chaos.toxics import KINDS, STREAMS, Toxic, ToxicKind, make_toxic
from testkit.chaos.toxiproxy import ToxiproxyClient, ToxiproxyError, ToxiproxyProxy

__all__ = [
    "KINDS",
    "STREAMS",
    "BackendChoice",
    "FaultProxyFactory",
    "InProcessProxy",
    "KillableServer",
    "Proxy",
    "ProxyPool",
    "ServerUnavailable",
    "Toxic",
    "ToxicKind",
    "ToxiproxyClient",
    "ToxiproxyError",
    "ToxiproxyProxy",
    "choose_backend",
    "ephemeral",
    "ephemeral_nats",
    "ephemeral_postgres",
    "ephemeral_redis",
    "make_proxy",
    "make_toxic",
    "proxied_url",
]
