"""The application factory: ``uvicorn --factory <package>.main:create_app``."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from {{ cookiecutter.package_name }} import log_redaction
from {{ cookiecutter.package_name }}.background import background_tasks
from {{ cookiecutter.package_name }}.metrics import (
    Metrics,
    MetricsMiddleware,
    outbox_lag_probe,
)
from {{ cookiecutter.package_name }}.metrics import (
    router as metrics_router,
)
from {{ cookiecutter.package_name }}.openapi_errors import (
    document_common_errors,
)
from {{ cookiecutter.package_name }}.request_size import (
    RequestSizeLimitMiddleware,
)
from {{ cookiecutter.package_name }}.request_timeout import (
    RequestTimeoutMiddleware,
)
from {{ cookiecutter.package_name }}.resources import (
    build_resources,
)
from {{ cookiecutter.package_name }}.routers import (
    admin,
    api_keys,
    ask,
    document_stats,
    documents,
    health,
    ingest,
    search,
    ws,
)
from {{ cookiecutter.package_name }}.settings import Settings

logger = logging.getLogger(__name__)

API_TITLE = "Knowledge Base API"
API_VERSION = "0.1.0"


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], float] = time.time
) -> FastAPI:
    """The app. ``clock`` drives the rate-limit windows; only tests pass another."""
    settings = settings if settings is not None else Settings()
    log_redaction.install()
    resources = build_resources(settings, clock=clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with background_tasks(resources):
            yield
        await resources.aclose()

    app = FastAPI(title=API_TITLE, version=API_VERSION, lifespan=lifespan)
    app.state.resources = resources
    for router in (health.router, admin.router, api_keys.router, documents.router, search.router):
        app.include_router(router)
    app.include_router(ws.router)
    app.include_router(ask.router)
    app.include_router(ingest.router)
    app.include_router(document_stats.router)
    app.add_middleware(RequestSizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestTimeoutMiddleware, timeout_seconds=settings.request_timeout_seconds)
    # Registered last, so outermost: it times and counts every response, 413s included.
    metrics = Metrics(outbox_lag=outbox_lag_probe(resources.sessionmaker))
    # The answer provider's breaker state, calls, tokens and cost, read at scrape time.
    metrics.registry.register(resources.answer_provider)
    app.state.metrics = metrics
    app.include_router(metrics_router)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    document_common_errors(app)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(PoolTimeoutError, _database_unavailable)
    app.add_exception_handler(MemoryError, _out_of_memory)
    return app


async def _out_of_memory(request: Request, exc: Exception) -> JSONResponse:
    # An allocation failed (memory limit reached): this request is dropped, the process and
    # every other request carry on; 503 tells the client that a retry may well succeed.
    logger.warning("out of memory serving %s %s", request.method, request.url.path)
    return JSONResponse(
        {"detail": "server under memory pressure, retry shortly"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "1"},
    )


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Connection refused, statement timeout or an exhausted pool: the request cannot be
    # served now but may be soon, so 503 with Retry-After rather than a bare 500.
    logger.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "database unavailable, retry shortly"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "1"},
    )


def run() -> None:
    """Console entry point: serve on APP_HOST:APP_PORT."""
    import uvicorn

    settings = Settings()
    uvicorn.run(
        f"{__package__}.main:create_app", factory=True, host=settings.host, port=settings.port
    )
