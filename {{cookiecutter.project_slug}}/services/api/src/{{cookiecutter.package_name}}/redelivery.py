"""When a consumed message fails: have JetStream redeliver it later, or dead-letter it. Pure.

JetStream counts the deliveries of each message (its metadata's num_delivered), so the
attempt number survives a consumer restart, and ``nak(delay)`` asks for the redelivery
after the backoff. A failure that is the message's own (its payload is invalid, or its
handler raised) ends in the dead letters after ``max_attempts``; one caused by the
infrastructure (the database is unreachable) would hit every message alike, so it is
retried for as long as it lasts and never dead-letters a good message.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc

from {{ cookiecutter.package_name }}.settings import Settings

# 2**64 times any sane base is far beyond every cap; the bound keeps the float finite.
_MAX_EXPONENT = 64


class FailureKind(enum.StrEnum):
    MESSAGE = "message"
    """The message's own fault: an invalid payload, or its handler raised."""
    INFRASTRUCTURE = "infrastructure"
    """A dependency is unavailable: any message would fail now."""


@dataclass(frozen=True, slots=True)
class RedeliveryPolicy:
    max_attempts: int
    backoff_seconds: float
    backoff_max_seconds: float

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if not 0 < self.backoff_seconds <= self.backoff_max_seconds:
            raise ValueError(
                "backoff_seconds must be above 0 and at most backoff_max_seconds, got "
                f"{self.backoff_seconds} and {self.backoff_max_seconds}"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> RedeliveryPolicy:
        return cls(
            max_attempts=settings.consumer_max_attempts,
            backoff_seconds=settings.consumer_backoff_seconds,
            backoff_max_seconds=settings.consumer_backoff_max_seconds,
        )


@dataclass(frozen=True, slots=True)
class RedeliveryDecision:
    dead_letter: bool
    delay_seconds: float
    """How long JetStream waits before the next delivery (0.0 when dead-lettered)."""
    reason: str


def backoff_delay(attempt: int, policy: RedeliveryPolicy) -> float:
    """Exponential: backoff_seconds after the first attempt, doubling, capped at the maximum."""
    exponent = min(attempt - 1, _MAX_EXPONENT)
    return min(policy.backoff_seconds * 2.0**exponent, policy.backoff_max_seconds)


def decide(*, attempt: int, failure: FailureKind, policy: RedeliveryPolicy) -> RedeliveryDecision:
    """What to do with a message whose ``attempt``-th delivery (1 = the first) failed."""
    if attempt < 1:
        raise ValueError(f"attempt must be at least 1, got {attempt}")
    if failure is FailureKind.MESSAGE and attempt >= policy.max_attempts:
        return RedeliveryDecision(
            dead_letter=True,
            delay_seconds=0.0,
            reason=f"failed {attempt} of {policy.max_attempts} attempts",
        )
    delay = backoff_delay(attempt, policy)
    if failure is FailureKind.INFRASTRUCTURE:
        return RedeliveryDecision(
            dead_letter=False,
            delay_seconds=delay,
            reason="infrastructure unavailable: retried until it returns",
        )
    return RedeliveryDecision(
        dead_letter=False,
        delay_seconds=delay,
        reason=f"attempt {attempt} of {policy.max_attempts} failed",
    )


def classify(error: BaseException) -> FailureKind:
    """Whose fault a handler's exception is: the database's (unreachable, timed out, pool
    exhausted) or the message's (everything else, constraint violations included)."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return FailureKind.INFRASTRUCTURE
    if isinstance(
        error,
        sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError | OSError,
    ):
        return FailureKind.INFRASTRUCTURE
    return FailureKind.MESSAGE
