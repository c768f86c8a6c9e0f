"""Failures injected into the URL ingest saga, and what the saga left behind.

Injection goes through the runner's own seam (IngestSagaRunner.before_commit, awaited inside
each step after its effect and before its commit), not by patching internals: the real
transactions run and the failure strikes exactly where a lost connection or a timeout would.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from {{ cookiecutter.package_name }}.ingest_saga import Step
from {{ cookiecutter.package_name }}.ingest_saga_runner import StepHook


class InjectedStepError(Exception):
    """A step failure the service handles (compensates) like any other error."""


class SimulatedCrash(BaseException):
    """The process dying mid-step: no ``except Exception`` in the service catches it, so no
    compensation runs in-process and only the recovery sweep can finish the saga."""


def fail_at(step: Step | None, error: BaseException | None = None) -> StepHook:
    """A hook raising ``error`` (InjectedStepError by default) at ``step``; None: never."""

    async def hook(current: Step) -> None:
        if current is step:
            raise error if error is not None else InjectedStepError(f"injected at {step}")

    return hook


@dataclass(frozen=True, slots=True)
class SagaRow:
    status: str
    step: str
    failed_step: str | None
    document_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class StoredIngest:
    """A tenant's ingest traces, straight from Postgres (no API in between)."""

    sagas: list[SagaRow]
    document_statuses: list[str]
    chunks: int
    created_events: int
    failed_events: int


async def stored_ingest(
    sessionmaker: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID
) -> StoredIngest:
    params = {"tenant": tenant_id}
    async with sessionmaker() as session:
        sagas = (
            await session.execute(
                text(
                    "SELECT status, step, failed_step, document_id FROM ingest_sagas "
                    "WHERE tenant_id = :tenant ORDER BY created_at"
                ),
                params,
            )
        ).all()
        statuses = await session.scalars(
            text("SELECT status FROM documents WHERE tenant_id = :tenant"), params
        )
        chunks = await session.scalar(
            text("SELECT count(*) FROM document_chunks WHERE tenant_id = :tenant"), params
        )
        events = {
            row[0]: row[1]
            for row in await session.execute(
                text(
                    "SELECT event_type, count(*) FROM outbox_events "
                    "WHERE tenant_id = :tenant GROUP BY event_type"
                ),
                params,
            )
        }
    return StoredIngest(
        sagas=[SagaRow(*row) for row in sagas],
        document_statuses=list(statuses),
        chunks=int(chunks or 0),
        created_events=int(events.get("document.created", 0)),
        failed_events=int(events.get("document.ingest_failed", 0)),
    )
