"""Load for the perf tier: weighted user journeys against the knowledge-base API.

Run through make (`make perf PROFILE=smoke`, `perf-baseline`, `performance-gate`, `perf-ab`),
which starts the service, passes the profile's users, spawn rate and run time to locust, and
computes exact percentiles from testkit's recorder. Running locust by hand also works:
``PERF_ADMIN_TOKEN=<the server's APP_ADMIN_TOKEN> locust -f tests/perf/locustfile.py
--host http://127.0.0.1:8000``.

Journeys, by weight: search (most traffic), read a document, ask a question, create a document,
and a WebSocket subscriber that measures how long a new document's event takes to arrive.
Before the load starts, each load-generating process creates its own tenants (an API key each)
and seed documents through the admin API; those set-up requests are not measured.
Knobs: PERF_PROFILE (validated against testkit's profiles), PERF_TENANTS (default 4),
PERF_SEED_DOCUMENTS per tenant (default 20).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests
from gevent.lock import Semaphore
from locust import FastHttpUser, User, between, events, task
from locust.env import Environment
from locust.runners import LocalRunner
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from testkit.perf.profiles import PROFILES, ProfileError, resolve_profile
from testkit.perf.recorder import install_recorder

try:
    PROFILE = resolve_profile(os.environ.get("PERF_PROFILE") or "smoke")
except ProfileError as error:
    raise SystemExit(str(error)) from None

TOPICS = (
    "replication",
    "caching",
    "indexing",
    "sharding",
    "backups",
    "migrations",
    "latency",
    "throughput",
    "observability",
    "security",
)
ADMIN_TIMEOUT_SECONDS = 10.0
EVENT_TIMEOUT_SECONDS = 10.0
RECORDER = install_recorder(events)

__all__ = ["PROFILE", "PROFILES", "RECORDER", "KnowledgeBaseUser", "RealtimeUser"]


@dataclass
class Tenant:
    api_key: str
    document_ids: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}


@dataclass
class LoadData:
    """This process's tenants: one pool for the HTTP journeys, one for the WebSocket users."""

    http: list[Tenant] = field(default_factory=list)
    realtime: list[Tenant] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=itertools.count)
    lock: Semaphore = field(default_factory=Semaphore)

    def next_tenant(self, pool: list[Tenant]) -> Tenant:
        return pool[next(self.counter) % len(pool)]


DATA = LoadData()


def _document(rng: random.Random, index: int) -> dict[str, str]:
    topic, other, third = rng.sample(TOPICS, 3)
    return {
        "title": f"{topic.title()} guide {index}",
        "body": f"How {topic} interacts with {other} and {third}. "
        f"Notes on {topic} in production: measure {other}, then tune {third}.",
    }


def _create_tenant(session: requests.Session, host: str, token: str, name: str) -> Tenant:
    response = session.post(
        f"{host}/admin/tenants",
        json={"name": name},
        headers={"X-Admin-Token": token},
        timeout=ADMIN_TIMEOUT_SECONDS,
    )
    if response.status_code != 201:
        raise SystemExit(
            f"perf setup: POST /admin/tenants answered {response.status_code} "
            f"(is PERF_ADMIN_TOKEN the server's admin token?): {response.text[:200]}"
        )
    return Tenant(api_key=response.json()["api_key"]["key"])


def _seed(
    session: requests.Session, host: str, tenant: Tenant, rng: random.Random, count: int
) -> None:
    for index in range(count):
        response = session.post(
            f"{host}/documents",
            json=_document(rng, index),
            headers=tenant.headers,
            timeout=ADMIN_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        tenant.document_ids.append(response.json()["id"])


def _make_tenants(host: str) -> LoadData:
    token = os.environ.get("PERF_ADMIN_TOKEN", "")
    tenants = int(os.environ.get("PERF_TENANTS") or 4)
    documents = int(os.environ.get("PERF_SEED_DOCUMENTS") or 20)
    rng = random.Random(f"perf-{os.getpid()}")
    run = f"{os.getpid()}-{time.time_ns()}"
    data = LoadData()
    with requests.Session() as session:
        for index in range(tenants):
            tenant = _create_tenant(session, host, token, f"perf {run} {index}")
            _seed(session, host, tenant, rng, documents)
            data.http.append(tenant)
        data.realtime.append(_create_tenant(session, host, token, f"perf {run} realtime"))
    return data


def ensure_tenants(environment: Environment) -> None:
    """This process's tenants and seed documents, made once (the first caller makes them).

    With PERF_SETUP_CACHE (a directory, set by testkit for repeated rounds against one server)
    they are made once per server and reused by the later rounds.
    """
    with DATA.lock:
        if DATA.http:
            return
        host = (environment.host or "").rstrip("/")
        cache_dir = os.environ.get("PERF_SETUP_CACHE", "")
        cache = Path(cache_dir) / "tenants.json" if cache_dir else None
        if cache is not None and cache.is_file():
            saved = json.loads(cache.read_text(encoding="utf-8"))
            DATA.realtime = [Tenant(t["api_key"], t["document_ids"]) for t in saved["realtime"]]
            DATA.http = [Tenant(t["api_key"], t["document_ids"]) for t in saved["http"]]
            return
        made = _make_tenants(host)
        DATA.realtime, DATA.http = made.realtime, made.http
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed: a worker starting meanwhile never reads half a file.
            partial = cache.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(
                json.dumps(
                    {
                        "http": [asdict(t) for t in made.http],
                        "realtime": [asdict(t) for t in made.realtime],
                    }
                ),
                encoding="utf-8",
            )
            partial.replace(cache)


@events.init.add_listener
def create_tenants(environment: Environment, **_: object) -> None:
    """A local run sets up before the load, so set-up never eats into its run time. A worker
    gets its users from the master at any moment: its first user sets up instead (on_start).
    """
    if isinstance(environment.runner, LocalRunner):
        ensure_tenants(environment)


class KnowledgeBaseUser(FastHttpUser):
    """A client of the HTTP API: mostly searching, sometimes reading, asking and writing."""

    weight = 9
    wait_time = between(0.05, 0.15)

    def on_start(self) -> None:
        ensure_tenants(self.environment)
        self.tenant = DATA.next_tenant(DATA.http)
        self.rng = random.Random(id(self))

    @task(5)
    def search(self) -> None:
        query = " ".join(self.rng.sample(TOPICS, self.rng.choice((1, 2))))
        with self.client.get(
            "/search",
            params={"q": query},
            headers=self.tenant.headers,
            name="/search",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or "hits" not in response.json():
                response.failure(f"search answered {response.status_code}")

    @task(3)
    def read(self) -> None:
        document_id = self.rng.choice(self.tenant.document_ids)
        self.client.get(
            f"/documents/{document_id}", headers=self.tenant.headers, name="/documents/{id}"
        )

    @task(1)
    def ask(self) -> None:
        first, second = self.rng.sample(TOPICS, 2)
        with self.client.post(
            "/ask",
            json={"question": f"How does {first} affect {second}?"},
            headers=self.tenant.headers,
            catch_response=True,
        ) as response:
            if response.status_code != 200 or "answer" not in response.json():
                response.failure(f"ask answered {response.status_code}")

    @task(1)
    def create(self) -> None:
        self.client.post(
            "/documents",
            json=_document(self.rng, self.rng.randrange(10_000)),
            headers=self.tenant.headers,
            name="/documents",
        )


class RealtimeUser(User):
    """A WebSocket subscriber: creates a document and times its event's arrival on /ws.

    locust has no WebSocket client, so this user reports its own request events ("WS ...")
    with websockets' sync client, which gevent's monkey-patching makes cooperative.
    """

    weight = 1
    wait_time = between(0.2, 0.5)

    def on_start(self) -> None:
        ensure_tenants(self.environment)
        self.tenant = DATA.next_tenant(DATA.realtime)
        self.rng = random.Random(id(self))
        self.http = requests.Session()
        base = (self.environment.host or "").rstrip("/")
        self.base = base
        self.connections = contextlib.ExitStack()
        started, clock = time.time(), time.perf_counter()
        try:
            self.socket: ClientConnection | None = self.connections.enter_context(
                connect(
                    base.replace("http", "ws", 1) + "/ws",
                    additional_headers=self.tenant.headers,
                    open_timeout=EVENT_TIMEOUT_SECONDS,
                )
            )
            error: Exception | None = None
        except (OSError, TimeoutError, ConnectionClosed) as failure:
            self.socket, error = None, failure
        self._report("/ws connect", started, clock, error)

    def on_stop(self) -> None:
        self.connections.close()
        self.http.close()

    def _report(
        self, name: str, started: float, clock: float, error: Exception | None, length: int = 0
    ) -> None:
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=(time.perf_counter() - clock) * 1000,
            response_length=length,
            exception=error,
            context={},
            start_time=started,
            url=self.base + "/ws",
        )

    @task
    def document_event(self) -> None:
        if self.socket is None:
            return
        started, clock = time.time(), time.perf_counter()
        created = self.http.post(
            f"{self.base}/documents",
            json=_document(self.rng, self.rng.randrange(10_000)),
            headers=self.tenant.headers,
            timeout=EVENT_TIMEOUT_SECONDS,
        )
        if created.status_code != 201:
            self._report(
                "/ws event",
                started,
                clock,
                RuntimeError(f"POST /documents answered {created.status_code}"),
            )
            return
        wanted = created.json()["id"]
        deadline = clock + EVENT_TIMEOUT_SECONDS
        try:
            while True:
                frame = self.socket.recv(timeout=max(0.01, deadline - time.perf_counter()))
                document = json.loads(frame).get("payload", {}).get("document", {})
                if document.get("id") == wanted:
                    self._report("/ws event", started, clock, None, len(frame))
                    return
        except (TimeoutError, ConnectionClosed) as error:
            self._report("/ws event", started, clock, error)
            self.socket = None
