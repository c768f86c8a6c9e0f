"""The consumer's retry policy: backoff, the dead-letter bound, and whose fault a failure is."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import exc as sa_exc

from {{ cookiecutter.package_name }}.projection_rules import (
    InvalidEventError,
)
from {{ cookiecutter.package_name }}.redelivery import (
    FailureKind,
    RedeliveryPolicy,
    backoff_delay,
    classify,
    decide,
)

POLICY = RedeliveryPolicy(max_attempts=5, backoff_seconds=0.5, backoff_max_seconds=4.0)


def test_backoff_doubles_after_each_attempt_up_to_its_cap() -> None:
    delays = [backoff_delay(attempt, POLICY) for attempt in range(1, 7)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_backoff_stays_finite_for_an_absurd_attempt_count() -> None:
    assert backoff_delay(10_000, POLICY) == 4.0


@pytest.mark.parametrize("attempt", [1, 2, 3, 4])
def test_a_failing_message_is_redelivered_before_the_bound(attempt: int) -> None:
    decision = decide(attempt=attempt, failure=FailureKind.MESSAGE, policy=POLICY)
    assert not decision.dead_letter
    assert decision.delay_seconds == backoff_delay(attempt, POLICY)
    assert f"attempt {attempt} of 5" in decision.reason


@pytest.mark.parametrize("attempt", [5, 6, 50])
def test_a_failing_message_is_dead_lettered_at_the_bound(attempt: int) -> None:
    decision = decide(attempt=attempt, failure=FailureKind.MESSAGE, policy=POLICY)
    assert decision.dead_letter
    assert decision.delay_seconds == 0.0
    assert decision.reason == f"failed {attempt} of 5 attempts"


def test_one_attempt_means_no_retry_at_all() -> None:
    policy = RedeliveryPolicy(max_attempts=1, backoff_seconds=1.0, backoff_max_seconds=1.0)
    assert decide(attempt=1, failure=FailureKind.MESSAGE, policy=policy).dead_letter


@pytest.mark.parametrize("attempt", [1, 5, 1_000])
def test_an_infrastructure_failure_never_dead_letters_a_message(attempt: int) -> None:
    # The database being down says nothing about the message: it waits, however long.
    decision = decide(attempt=attempt, failure=FailureKind.INFRASTRUCTURE, policy=POLICY)
    assert not decision.dead_letter
    assert decision.delay_seconds == backoff_delay(attempt, POLICY)


def test_an_attempt_below_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="attempt must be at least 1, got 0"):
        decide(attempt=0, failure=FailureKind.MESSAGE, policy=POLICY)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((0, 1.0, 1.0), "max_attempts must be at least 1, got 0"),
        ((3, 0.0, 1.0), "backoff_seconds must be above 0 and at most backoff_max_seconds"),
        ((3, 2.0, 1.0), "backoff_seconds must be above 0 and at most backoff_max_seconds"),
    ],
)
def test_an_impossible_policy_is_rejected(
    arguments: tuple[int, float, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RedeliveryPolicy(*arguments)


def _driver_error(error: sa_exc.DBAPIError, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    error.connection_invalidated = invalidated
    return error


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (InvalidEventError("not a document event"), FailureKind.MESSAGE),
        (RuntimeError("a bug in the handler"), FailureKind.MESSAGE),
        (
            sa_exc.IntegrityError("INSERT", {}, psycopg.errors.ForeignKeyViolation()),
            FailureKind.MESSAGE,
        ),
        (
            sa_exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("refused")),
            FailureKind.INFRASTRUCTURE,
        ),
        (sa_exc.TimeoutError("QueuePool limit reached"), FailureKind.INFRASTRUCTURE),
        (ConnectionResetError("reset by peer"), FailureKind.INFRASTRUCTURE),
        (
            _driver_error(
                sa_exc.DBAPIError("SELECT 1", {}, psycopg.Error("closed")), invalidated=True
            ),
            FailureKind.INFRASTRUCTURE,
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_failures_are_blamed_on_the_message_or_the_infrastructure(
    error: BaseException, kind: FailureKind
) -> None:
    assert classify(error) is kind
