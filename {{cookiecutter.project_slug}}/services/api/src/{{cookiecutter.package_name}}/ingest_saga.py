"""URL ingest as a saga: its steps, its states and the transitions between them. Pure (no I/O).

An ingest is four steps run in order: FETCH the page, STORE it as a hidden ("pending")
document, INDEX it into chunks, PUBLISH it (the document becomes "ready", i.e. listed and
searchable, and its document.created event enters the outbox, in one transaction). Each step
after FETCH commits its effect together with the saga's new state, so a failed step leaves
nothing of its own behind; what must be undone are the steps completed before it, newest
first (their compensations): INDEX's chunks are deleted, STORE's document is marked "failed"
and a failure event recorded. FETCH has no effect to undo, and PUBLISH, the last step,
completes the saga in its own transaction, so nothing after it can fail.

ingest_saga_runner.py does the I/O and persists each state in the ingest_sagas table; a
recovery sweep (abandon) finishes the compensation of sagas a crash left unfinished.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class Step(enum.StrEnum):
    FETCH = "fetch"
    STORE = "store"
    INDEX = "index"
    PUBLISH = "publish"


class SagaStatus(enum.StrEnum):
    RUNNING = "running"
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    COMPENSATED = "compensated"


STEPS: tuple[Step, ...] = (Step.FETCH, Step.STORE, Step.INDEX, Step.PUBLISH)
# Steps whose effect outlives their transaction and so needs undoing when a later step fails.
COMPENSATED_STEPS: frozenset[Step] = frozenset({Step.STORE, Step.INDEX})
UNFINISHED: frozenset[SagaStatus] = frozenset({SagaStatus.RUNNING, SagaStatus.COMPENSATING})
ERROR_MAX_LENGTH = 500


class InvalidTransitionError(ValueError):
    """A transition asked of a saga in a state that does not allow it (a bug in the caller)."""


@dataclass(frozen=True, slots=True)
class SagaState:
    """Where one ingest stands.

    ``step`` is the step to run next (running), the step whose compensation runs next
    (compensating), the last step (completed) or the failed step (compensated).
    """

    status: SagaStatus
    step: Step
    failed_step: Step | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status not in UNFINISHED


def start() -> SagaState:
    return SagaState(SagaStatus.RUNNING, STEPS[0])


def step_succeeded(state: SagaState) -> SagaState:
    """The running step committed: run the next one, or the saga is complete."""
    _require(state, SagaStatus.RUNNING, "step_succeeded")
    index = STEPS.index(state.step)
    if index == len(STEPS) - 1:
        return replace(state, status=SagaStatus.COMPLETED)
    return replace(state, step=STEPS[index + 1])


def step_failed(state: SagaState, error: str) -> SagaState:
    """The running step failed (its own transaction rolled back): undo the ones before it."""
    _require(state, SagaStatus.RUNNING, "step_failed")
    return _next_compensation(
        SagaState(
            SagaStatus.COMPENSATING,
            state.step,
            failed_step=state.step,
            error=error[:ERROR_MAX_LENGTH],
        ),
        before=state.step,
    )


def compensation_done(state: SagaState) -> SagaState:
    """The compensation of ``state.step`` committed: undo the step before it, if any."""
    _require(state, SagaStatus.COMPENSATING, "compensation_done")
    return _next_compensation(state, before=state.step)


def abandon(state: SagaState, reason: str) -> SagaState:
    """What the recovery sweep makes of a saga left unfinished (its process crashed or its
    request was cancelled): a running one fails at its step, a compensating one carries on,
    a finished one stays as it is."""
    if state.status is SagaStatus.RUNNING:
        return step_failed(state, reason)
    return state


def pending_compensations(state: SagaState) -> tuple[Step, ...]:
    """The compensations still to run, in order (newest step first)."""
    if state.status is not SagaStatus.COMPENSATING:
        return ()
    index = STEPS.index(state.step)
    return tuple(step for step in reversed(STEPS[: index + 1]) if step in COMPENSATED_STEPS)


def _next_compensation(state: SagaState, *, before: Step) -> SagaState:
    earlier = [step for step in STEPS[: STEPS.index(before)] if step in COMPENSATED_STEPS]
    if not earlier:
        assert state.failed_step is not None  # set by step_failed, kept since
        return replace(state, status=SagaStatus.COMPENSATED, step=state.failed_step)
    return replace(state, status=SagaStatus.COMPENSATING, step=earlier[-1])


def _require(state: SagaState, status: SagaStatus, transition: str) -> None:
    if state.status is not status:
        raise InvalidTransitionError(
            f"{transition} needs a {status.value} saga, got one that is {state.status.value}"
        )
