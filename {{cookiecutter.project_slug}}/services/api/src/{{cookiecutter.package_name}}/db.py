"""Async engine and sessions (SQLAlchemy 2 over psycopg 3)."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from {{ cookiecutter.package_name }}.settings import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    url = make_url(settings.database_url)
    # libpq takes one `options` string; keep any the URL carries (e.g. a search_path).
    url_options = url.query.get("options", ())
    options = [url_options] if isinstance(url_options, str) else list(url_options)
    # Bounded queries: a slow database answers 503 instead of holding the request.
    options.append(f"-c statement_timeout={settings.db_statement_timeout_ms}")
    return create_async_engine(
        url.difference_update_query(["options"]),
        pool_size=settings.db_pool_size,
        # Statement parameters hold tenants' document text: keep them out of error messages
        # and logs even when someone turns SQLAlchemy's logging up.
        hide_parameters=True,
        # A pooled connection can die under us (server restart, failover,
        # pg_terminate_backend); pre-ping swaps it for a fresh one before use.
        pool_pre_ping=True,
        pool_timeout=settings.db_pool_timeout_seconds,
        connect_args={
            "application_name": settings.db_application_name,
            "connect_timeout": settings.db_connect_timeout_seconds,
            "options": " ".join(options),
        },
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: responses are built from objects after commit, and an
    # expired attribute would need a lazy load, which async sessions cannot do.
    return async_sessionmaker(engine, expire_on_commit=False)
