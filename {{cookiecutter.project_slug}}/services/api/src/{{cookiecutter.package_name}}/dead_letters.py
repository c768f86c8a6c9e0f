"""The dead-letter queue: messages a consumer gave up on, kept for inspection and replay.

A Postgres table (dead_letters), not a JetStream stream, because
- the consumer's effects live in this database: a replay applies a letter and marks it
  replayed in one transaction, so a replay that dies midway neither loses nor doubles one;
- re-publishing a letter on the events subject would reach the subject's other subscribers
  (the live WebSocket fan-out) a second time; a replay here runs the consumer's handler only;
- listing and draining need only the database (``make dlq-list``/``dlq-replay`` work while
  NATS is down), and letters can be queried by consumer, error or time with SQL;
- a stream's retention limits could drop a letter; a row stays until someone removes it.

A row keeps what is needed to understand and re-drive the message: its raw bytes, subject,
original headers and stream sequence, the last error and the number of delivery attempts.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from {{ cookiecutter.package_name }}.models import DeadLetter

logger = logging.getLogger(__name__)

ERROR_MAX_LENGTH = 2_000

# Applies a letter's bytes in the caller's transaction: True when applied, False when the
# consumer had already applied that event (its deduplication); raises when it still fails.
ReplayHandler = Callable[[AsyncSession, bytes], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class FailedMessage:
    """A message at the moment its consumer gives up on it."""

    consumer: str
    stream: str
    stream_sequence: int
    subject: str
    headers: dict[str, str]
    data: bytes
    error: str
    attempts: int


class ReplayOutcome(enum.StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ReplayResult:
    letter_id: int
    outcome: ReplayOutcome
    error: str | None = None


def describe(error: BaseException) -> str:
    """An exception as stored in the error column: its type and message, bounded."""
    return f"{type(error).__name__}: {error}"[:ERROR_MAX_LENGTH]


async def record(session: AsyncSession, failed: FailedMessage) -> bool:
    """Store the message (in the caller's transaction); False when it was stored before."""
    inserted = await session.scalar(
        pg_insert(DeadLetter)
        .values(
            consumer=failed.consumer,
            stream=failed.stream,
            stream_sequence=failed.stream_sequence,
            subject=failed.subject,
            headers=failed.headers,
            data=failed.data,
            error=failed.error[:ERROR_MAX_LENGTH],
            attempts=failed.attempts,
        )
        .on_conflict_do_nothing(constraint="uq_dead_letters_message")
        .returning(DeadLetter.id)
    )
    return inserted is not None


async def letters(
    session: AsyncSession,
    *,
    ids: Collection[int] | None = None,
    include_replayed: bool = False,
    limit: int | None = None,
) -> list[DeadLetter]:
    """Dead letters oldest first: the pending ones, or all; only ``ids`` when given."""
    statement = select(DeadLetter).order_by(DeadLetter.id)
    if not include_replayed:
        statement = statement.where(DeadLetter.replayed_at.is_(None))
    if ids is not None:
        statement = statement.where(DeadLetter.id.in_(ids))
    if limit is not None:
        statement = statement.limit(limit)
    return list(await session.scalars(statement))


async def replay(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    handlers: Mapping[str, ReplayHandler],
    ids: Collection[int] | None = None,
) -> list[ReplayResult]:
    """Re-drive the pending letters (or those of ``ids``) through their consumer's handler.

    Each letter in its own transaction with its handler's writes: applied and marked
    replayed together, or neither. A letter that fails again stays pending with the new
    error in replay_error; the others go on.
    """
    async with sessionmaker() as session:
        pending = [letter.id for letter in await letters(session, ids=ids)]
    results = []
    for letter_id in pending:
        try:
            result = await _replay_one(sessionmaker, letter_id, handlers)
        except Exception as exc:  # the handler's failure, whatever it is: keep it, go on
            error = describe(exc)
            async with sessionmaker() as session, session.begin():
                await session.execute(
                    update(DeadLetter).where(DeadLetter.id == letter_id).values(replay_error=error)
                )
            logger.warning("dead letter %d: replay failed: %s", letter_id, error)
            result = ReplayResult(letter_id, ReplayOutcome.FAILED, error)
        if result is not None:
            results.append(result)
    return results


async def _replay_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    letter_id: int,
    handlers: Mapping[str, ReplayHandler],
) -> ReplayResult | None:
    async with sessionmaker() as session, session.begin():
        # Locked, and skipped when another replay holds it: each letter is re-driven once.
        letter = await session.scalar(
            select(DeadLetter)
            .where(DeadLetter.id == letter_id, DeadLetter.replayed_at.is_(None))
            .with_for_update(skip_locked=True)
        )
        if letter is None:
            return None
        handler = handlers.get(letter.consumer)
        if handler is None:
            raise LookupError(
                f"no replay handler for consumer {letter.consumer!r}; "
                f"known: {', '.join(sorted(handlers)) or 'none'}"
            )
        applied = await handler(session, letter.data)
        letter.replayed_at = await session.scalar(select(func.now()))
        letter.replay_error = None
    return ReplayResult(letter_id, ReplayOutcome.APPLIED if applied else ReplayOutcome.DUPLICATE)
