"""The answer provider's circuit breaker: pybreaker, with its cool-down timed on a given clock.

``failures`` consecutive failed calls open the breaker. While it is open every call is refused
at once with ``ProviderUnavailableError`` (/ask answers 503 with Retry-After: the seconds left
of the cool-down) instead of each request waiting out the provider's timeout and piling load
on a provider that is down. Once the cool-down has passed the next call is a trial
(half-open): success closes the breaker, failure opens it for another cool-down.

Open means 503, not an answer from the extractive provider: a fallback would change the
answer's quality and cost without the client asking, hide the outage from the callers who
chose the model, and make the response depend on the provider's health. 503 with Retry-After
is the service's answer for every dependency that is down (database, memory); a client that
prefers any answer to none can retry against a deployment configured with the extractive one.

pybreaker times the cool-down with ``datetime.now()``: the wall clock, which an NTP step can
shorten or stretch, and which a test cannot hold still. ``MonotonicStorage`` keeps the opening
time on the clock it is given (``time.monotonic`` in the service, a FrozenClock in unit tests)
and hands pybreaker an ``opened_at`` exactly as old as that clock says.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar

import pybreaker

from {{ cookiecutter.package_name }}.answer_providers.protocol import (
    AnswerProviderError,
)

T = TypeVar("T")
BreakerState = Literal["closed", "open", "half_open"]
STATES: tuple[BreakerState, ...] = ("closed", "open", "half_open")
_FROM_PYBREAKER: dict[str, BreakerState] = {
    pybreaker.STATE_CLOSED: "closed",
    pybreaker.STATE_OPEN: "open",
    pybreaker.STATE_HALF_OPEN: "half_open",
}


class ProviderUnavailableError(AnswerProviderError):
    """The breaker is open: the provider was not called. Retry after ``retry_after_seconds``."""

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class MonotonicStorage(pybreaker.CircuitMemoryStorage):
    """pybreaker's in-memory state, with the opening time read from ``clock``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(pybreaker.STATE_CLOSED)
        self._clock = clock
        self.opened_on: float | None = None

    @property
    def opened_at(self) -> datetime | None:
        if self.opened_on is None:
            return None
        return datetime.now(UTC) - timedelta(seconds=self._clock() - self.opened_on)

    @opened_at.setter
    def opened_at(self, _: datetime) -> None:
        # pybreaker passes datetime.now(); the clock's own reading is what counts.
        self.opened_on = self._clock()


class ProviderCircuitBreaker:
    """Opens after ``failures`` failures in a row; a trial call after ``cooldown_seconds``."""

    def __init__(
        self,
        *,
        failures: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1:
            raise ValueError(f"failures must be at least 1, got {failures}")
        if not cooldown_seconds > 0:
            raise ValueError(f"cooldown_seconds must be above 0, got {cooldown_seconds}")
        self.failures = failures
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._storage = MonotonicStorage(clock)
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=failures,
            reset_timeout=cooldown_seconds,
            state_storage=self._storage,
            # The call that trips the breaker reports its own error (a 502), not a generic one.
            throw_new_error_on_trip=False,
            name="answer_provider",
        )

    @property
    def state(self) -> BreakerState:
        """Open past its cool-down reads half_open: the next call is the trial."""
        state = _FROM_PYBREAKER[self._breaker.current_state]
        if state == "open" and self.retry_after_seconds() == 0:
            return "half_open"
        return state

    def retry_after_seconds(self) -> int:
        """Whole seconds (rounded up) until an open breaker lets a trial call through; else 0."""
        opened_on = self._storage.opened_on
        if self._breaker.current_state != pybreaker.STATE_OPEN or opened_on is None:
            return 0
        left = self.cooldown_seconds - (self._clock() - opened_on)
        return max(0, math.ceil(left))

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """``await operation()`` through the breaker: any exception it raises is a failure."""
        try:
            with self._breaker.calling():
                return await operation()
        except pybreaker.CircuitBreakerError as exc:
            retry_after = max(1, self.retry_after_seconds())
            raise ProviderUnavailableError(
                f"answer provider unavailable: circuit open after {self.failures} failures "
                f"in a row; retry in {retry_after}s",
                retry_after_seconds=retry_after,
            ) from exc
