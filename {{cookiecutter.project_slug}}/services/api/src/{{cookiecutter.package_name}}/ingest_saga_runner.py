"""The ingest saga's I/O: runs ingest_saga.py's steps against the fetcher and Postgres, and
the recovery sweep that finishes sagas a crash left unfinished.

Every step after FETCH is one transaction holding the saga row's lock: the step's effect and
the saga's next state commit together, so the row always says exactly which effects exist.
A step that raises is rolled back and the compensations of the steps before it run, each in
its own transaction with the state it leads to. When even that is impossible (Postgres gone)
or the process dies mid-saga, the row stays running/compensating; ``recover_stale_sagas``
(started with the app and run periodically, background.py) compensates such sagas once they
have not moved for ``saga_stale_after_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from {{ cookiecutter.package_name }}.chunking import chunk_text
from {{ cookiecutter.package_name }}.crud.documents import publish_ingested
from {{ cookiecutter.package_name }}.ingest import FetchedPage, UrlFetcher
from {{ cookiecutter.package_name }}.ingest_saga import (
    UNFINISHED,
    SagaState,
    SagaStatus,
    Step,
    abandon,
    compensation_done,
    start,
    step_failed,
    step_succeeded,
)
from {{ cookiecutter.package_name }}.models import (
    Document,
    DocumentChunk,
    DocumentStatus,
    IngestSaga,
)
from {{ cookiecutter.package_name }}.outbox import EventType, record_event

logger = logging.getLogger(__name__)

StepHook = Callable[[Step], Awaitable[None]]
"""Awaited inside each step, after its effect and before its commit; raising fails the step.

The seam through which tests inject a step failure: the real code path runs, with real
transactions, up to the exact point where a real failure (a lost connection, a timeout)
would strike. A hook raising a BaseException that is not an Exception (as a cancelled task
or a dying process does) bypasses the in-process compensation, leaving the sweep's work.
"""

SagaEffect = Callable[[AsyncSession, IngestSaga], Awaitable[None]]


async def no_hook(step: Step) -> None:
    """Production's hook: nothing between a step's effect and its commit."""


class IngestFailedError(Exception):
    """A step after FETCH failed; the completed steps were compensated (or left to the sweep)."""

    def __init__(self, saga_id: uuid.UUID, step: Step) -> None:
        super().__init__(f"ingest failed at its {step.value} step and was rolled back")
        self.saga_id = saga_id
        self.step = step


class SagaAbandonedError(Exception):
    """The recovery sweep compensated this saga while its request was still running."""


@dataclass(frozen=True, slots=True)
class IngestSagaRunner:
    sessionmaker: async_sessionmaker[AsyncSession]
    before_commit: StepHook = no_hook

    async def run(self, *, tenant_id: uuid.UUID, url: str, fetcher: UrlFetcher) -> Document:
        """Ingest ``url`` as a ready document of the tenant.

        Raises the fetcher's errors (nothing stored), IngestFailedError, SagaAbandonedError.
        """
        saga_id = uuid.uuid4()
        state = start()
        async with self.sessionmaker.begin() as session:
            session.add(IngestSaga(id=saga_id, tenant_id=tenant_id, **_columns(state)))
        try:
            page = await fetcher.fetch(url)
        except Exception as exc:
            await self._compensate(saga_id, step_failed(state, _describe(exc)))
            raise
        try:
            # FETCH's effect (the page in memory) happened above; its step records it.
            for effect in (_fetched, _store(tenant_id, page), _index, _publish):
                state = await self._step(saga_id, state, effect)
        except SagaAbandonedError:
            raise
        except Exception as exc:
            failed = state.step
            await self._compensate(saga_id, step_failed(state, _describe(exc)))
            raise IngestFailedError(saga_id, failed) from exc
        async with self.sessionmaker() as session:
            saga = await session.get(IngestSaga, saga_id)
            assert saga is not None
            assert saga.document_id is not None  # set by STORE
            document = await session.get(Document, saga.document_id)
            assert document is not None  # ready since PUBLISH, never deleted in between
            return document

    async def _step(self, saga_id: uuid.UUID, state: SagaState, effect: SagaEffect) -> SagaState:
        async with self.sessionmaker.begin() as session:
            saga = await _locked(session, saga_id)
            if saga is None or saga.status != SagaStatus.RUNNING:
                raise SagaAbandonedError(f"saga {saga_id} was taken over by the recovery sweep")
            await effect(session, saga)
            after = step_succeeded(state)
            _write(saga, after)
            await self.before_commit(state.step)
        return after

    async def _compensate(self, saga_id: uuid.UUID, failed: SagaState) -> None:
        try:
            async with self.sessionmaker.begin() as session:
                saga = await _locked(session, saga_id)
                if saga is None or saga.status != SagaStatus.RUNNING:
                    return  # the sweep got there first
                _write(saga, failed)
            await run_compensations(self.sessionmaker, saga_id, failed)
        except Exception:
            # Postgres is most likely gone; the row still says what to undo.
            logger.warning(
                "ingest saga %s could not be compensated now; the recovery sweep will",
                saga_id,
                exc_info=True,
            )


async def run_compensations(
    sessionmaker: async_sessionmaker[AsyncSession], saga_id: uuid.UUID, state: SagaState
) -> SagaState:
    """Run ``state``'s pending compensations, newest step first, each in one transaction with
    the state it leads to; stop if the row moved on (another sweeper is at it)."""
    while state.status is SagaStatus.COMPENSATING:
        async with sessionmaker.begin() as session:
            saga = await _locked(session, saga_id)
            if saga is None or _state_of(saga) != state:
                return state
            await _COMPENSATIONS[state.step](session, saga)
            state = compensation_done(state)
            _write(saga, state)
    return state


async def recover_stale_sagas(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    stale_after_seconds: float,
    limit: int = 100,
) -> int:
    """Compensate unfinished sagas untouched for ``stale_after_seconds``; how many it did.

    A saga whose request is still inside a step holds the row lock, so SKIP LOCKED passes
    it by; one still fetching (no lock) is compensated if stale, and its next step then
    finds the row taken and gives up (SagaAbandonedError): never both outcomes.
    """
    async with sessionmaker() as session:
        stale_ids = list(
            await session.scalars(
                select(IngestSaga.id)
                .where(
                    IngestSaga.status.in_([status.value for status in UNFINISHED]),
                    IngestSaga.updated_at < _now_minus(stale_after_seconds),
                )
                .order_by(IngestSaga.updated_at)
                .limit(limit)
            )
        )
    recovered = 0
    for saga_id in stale_ids:
        async with sessionmaker.begin() as session:
            saga = await _locked(session, saga_id, skip_locked=True)
            if saga is None or saga.status not in UNFINISHED:
                continue
            state = abandon(_state_of(saga), "abandoned unfinished; compensated by the sweep")
            _write(saga, state)
        await run_compensations(sessionmaker, saga_id, state)
        recovered += 1
    return recovered


async def run_saga_recovery(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    interval_seconds: float,
    stale_after_seconds: float,
) -> None:
    """Sweep at startup, then every ``interval_seconds``, until cancelled; a sweep that fails
    (Postgres down) is logged and retried at the next interval."""
    while True:
        try:
            recovered = await recover_stale_sagas(
                sessionmaker, stale_after_seconds=stale_after_seconds
            )
        except Exception as exc:
            logger.warning("ingest saga recovery sweep failed: %s", type(exc).__name__)
        else:
            if recovered:
                logger.warning("compensated %d abandoned ingest saga(s)", recovered)
        await asyncio.sleep(interval_seconds)


# --- The steps' effects and their compensations ------------------------------------------


async def _fetched(session: AsyncSession, saga: IngestSaga) -> None:
    """Nothing to write: the fetched page lives in the request until STORE saves it."""


def _store(tenant_id: uuid.UUID, page: FetchedPage) -> SagaEffect:
    async def store(session: AsyncSession, saga: IngestSaga) -> None:
        document = Document(
            tenant_id=tenant_id,
            title=page.title,
            body=page.text,
            status=DocumentStatus.PENDING.value,
        )
        session.add(document)
        await session.flush()
        saga.document_id = document.id

    return store


async def _index(session: AsyncSession, saga: IngestSaga) -> None:
    document = await _document_of(session, saga)
    session.add_all(
        DocumentChunk(document_id=document.id, position=n, tenant_id=document.tenant_id, body=text)
        for n, text in enumerate(chunk_text(document.body))
    )
    await session.flush()


async def _publish(session: AsyncSession, saga: IngestSaga) -> None:
    await publish_ingested(session, document=await _document_of(session, saga))


async def _unindex(session: AsyncSession, saga: IngestSaga) -> None:
    if saga.document_id is not None:
        await session.execute(
            delete(DocumentChunk).where(DocumentChunk.document_id == saga.document_id)
        )


async def _unstore(session: AsyncSession, saga: IngestSaga) -> None:
    if saga.document_id is None:
        return
    await session.execute(
        update(Document)
        .where(Document.id == saga.document_id, Document.status == DocumentStatus.PENDING)
        .values(status=DocumentStatus.FAILED.value)
    )
    await record_event(
        session,
        tenant_id=saga.tenant_id,
        event_type=EventType.DOCUMENT_INGEST_FAILED,
        payload={
            "document": {"id": str(saga.document_id)},
            "saga": {"id": str(saga.id), "failed_step": saga.failed_step},
        },
    )


_COMPENSATIONS: dict[Step, SagaEffect] = {Step.INDEX: _unindex, Step.STORE: _unstore}


async def _document_of(session: AsyncSession, saga: IngestSaga) -> Document:
    assert saga.document_id is not None  # STORE ran before any step that calls this
    document = await session.get(Document, saga.document_id)
    assert document is not None
    return document


# --- The saga row ---------------------------------------------------------------------------


async def _locked(
    session: AsyncSession, saga_id: uuid.UUID, *, skip_locked: bool = False
) -> IngestSaga | None:
    return await session.scalar(
        select(IngestSaga)
        .where(IngestSaga.id == saga_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )


def _state_of(saga: IngestSaga) -> SagaState:
    return SagaState(
        status=SagaStatus(saga.status),
        step=Step(saga.step),
        failed_step=None if saga.failed_step is None else Step(saga.failed_step),
        error=saga.error,
    )


def _columns(state: SagaState) -> dict[str, str | None]:
    return {
        "status": state.status.value,
        "step": state.step.value,
        "failed_step": None if state.failed_step is None else state.failed_step.value,
        "error": state.error,
    }


def _write(saga: IngestSaga, state: SagaState) -> None:
    for name, value in _columns(state).items():
        setattr(saga, name, value)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _now_minus(seconds: float) -> ColumnElement[datetime]:
    return func.now() - timedelta(seconds=seconds)
