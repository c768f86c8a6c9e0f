"""Prometheus metrics: request latency, errors and outbox lag, served at ``/metrics``.

Every app gets a CollectorRegistry of its own (not prometheus_client's global one), so tests
that build many apps in one process never see each other's numbers or collide on names.

Requests are labelled by route template (``/documents/{document_id}``), never by raw path:
one series per endpoint, however many ids clients send. Unmatched paths share one label.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from {{ cookiecutter.package_name }}.outbox import (
    outbox_lag_seconds,
)

logger = logging.getLogger(__name__)

REQUEST_DURATION = "http_request_duration_seconds"
# Counters are exposed with a _total suffix: http_request_errors_total.
REQUEST_ERRORS = "http_request_errors"
OUTBOX_LAG = "outbox_lag_seconds"
UNMATCHED_ROUTE = "<unmatched>"
# Finer than prometheus_client's defaults below 100 ms, where this service's requests live,
# so a 300 ms SLO can be read off a bucket boundary.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0)

# Seconds between now and the oldest event not yet published; None when it cannot be known.
OutboxLag = Callable[[], Awaitable[float | None]]


class Metrics:
    """The app's metrics and the registry they live in."""

    def __init__(self, *, outbox_lag: OutboxLag | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_duration = Histogram(
            REQUEST_DURATION,
            "HTTP request latency by method, route template and status code.",
            ("method", "route", "status"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.request_errors = Counter(
            REQUEST_ERRORS,
            "HTTP responses with a 4xx or 5xx status, by method, route template and class.",
            ("method", "route", "status_class"),
            registry=self.registry,
        )
        self._outbox_lag = outbox_lag
        self.outbox_lag = Gauge(
            OUTBOX_LAG,
            "Age in seconds of the oldest outbox event not yet published (0 when none).",
            registry=self.registry,
        )
        if outbox_lag is None:
            # No outbox wired in: unknown, not a reassuring zero.
            self.outbox_lag.set(float("nan"))

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        self.request_duration.labels(method, route, str(status)).observe(seconds)
        if status >= 400:
            status_class = "5xx" if status >= 500 else "4xx"
            self.request_errors.labels(method, route, status_class).inc()

    async def render(self) -> bytes:
        """The exposition text, with the outbox lag sampled now (it needs a query)."""
        if self._outbox_lag is not None:
            lag = await self._outbox_lag()
            # Unknown (e.g. the database is down) is NaN, not a reassuring stale number.
            self.outbox_lag.set(float("nan") if lag is None else lag)
        return generate_latest(self.registry)


def outbox_lag_probe(sessionmaker: async_sessionmaker[AsyncSession]) -> OutboxLag:
    """The outbox lag read through the app's own engine; None when the database is down."""

    async def probe() -> float | None:
        try:
            async with sessionmaker() as session:
                return await outbox_lag_seconds(session)
        except (SQLAlchemyError, OSError) as exc:
            logger.warning("metrics: outbox lag unavailable: %s", exc)
            return None

    return probe


def route_template(scope: Scope) -> str:
    """The matched route's path template, or UNMATCHED_ROUTE (404s must not add series)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class MetricsMiddleware:
    """Times every HTTP request. Pure ASGI (not BaseHTTPMiddleware): it sees the real status
    and unhandled exceptions, and leaves streaming responses alone."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # An exception escaping the app becomes a 500 in the server-error middleware outside.
        status = 500

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            self.metrics.observe(
                method=scope["method"],
                # Read after the call: the router writes the matched route into the scope.
                route=route_template(scope),
                status=status,
                seconds=time.perf_counter() - started,
            )


router = APIRouter(tags=["observability"])


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request) -> Response:
    """Prometheus scrape target (no authentication, like the health probes)."""
    metrics: Metrics = request.app.state.metrics
    return Response(await metrics.render(), media_type=CONTENT_TYPE_LATEST)
