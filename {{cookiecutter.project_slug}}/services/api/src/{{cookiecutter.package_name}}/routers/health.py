"""Liveness and readiness probes (no authentication, no rate limit)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Response, status
from nats.errors import Error as NatsError
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from {{ cookiecutter.package_name }} import nats_link
from {{ cookiecutter.package_name }}.dependencies import (
    ResourcesDep,
)
from {{ cookiecutter.package_name }}.request_timeout import within
from {{ cookiecutter.package_name }}.resources import Resources
from {{ cookiecutter.package_name }}.schemas import (
    CheckStatus,
    ReadinessReport,
)

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

# A probe must answer within the orchestrator's timeout even when a dependency hangs.
CHECK_TIMEOUT_SECONDS = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving; says nothing about dependencies."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": ReadinessReport}},
)
async def readyz(resources: ResourcesDep, response: Response) -> ReadinessReport:
    """Postgres down: 503 (nothing works). Redis down: 200, "degraded" (cache bypassed).
    NATS down: 200, "degraded" (events wait in the outbox, live push pauses)."""
    postgres, redis, nats = await asyncio.gather(
        _check_postgres(resources), _check_redis(resources), _check_nats(resources)
    )
    checks: dict[str, CheckStatus] = {"postgres": postgres, "redis": redis, "nats": nats}
    if postgres != "ok":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return ReadinessReport(status="unavailable", checks=checks)
    degraded = redis != "ok" or nats != "ok"
    return ReadinessReport(status="degraded" if degraded else "ok", checks=checks)


async def _select_one(resources: Resources) -> None:
    async with resources.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _check_postgres(resources: Resources) -> CheckStatus:
    try:
        # Not asyncio.timeout: on a blackholed network the cancelled query's cleanup would
        # hold the probe for its own timeouts; `within` answers at the deadline.
        await within(_select_one(resources), seconds=CHECK_TIMEOUT_SECONDS)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        logger.warning("readiness: postgres check failed: %s", exc)
        return "down"
    return "ok"


async def _check_redis(resources: Resources) -> CheckStatus:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await resources.redis.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        logger.warning("readiness: redis check failed: %s", exc)
        return "degraded"
    return "ok"


async def _check_nats(resources: Resources) -> CheckStatus:
    client = resources.nats.client
    if client is not None:
        try:
            await client.flush(timeout=int(CHECK_TIMEOUT_SECONDS))
        except (NatsError, OSError, TimeoutError) as exc:
            logger.warning("readiness: nats check failed: %s", exc)
            return "degraded"
        return "ok"
    # Not connected (yet): ask the server directly rather than trust a stale state.
    reachable = await nats_link.probe(
        resources.settings.nats_url, within_seconds=CHECK_TIMEOUT_SECONDS
    )
    return "ok" if reachable else "degraded"
