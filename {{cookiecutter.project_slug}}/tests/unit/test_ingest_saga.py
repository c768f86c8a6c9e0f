"""The ingest saga's state machine (ingest_saga.py) and the chunking of its INDEX step."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from {{ cookiecutter.package_name }}.chunking import chunk_text
from {{ cookiecutter.package_name }}.ingest_saga import (
    COMPENSATED_STEPS,
    STEPS,
    InvalidTransitionError,
    SagaState,
    SagaStatus,
    Step,
    abandon,
    compensation_done,
    pending_compensations,
    start,
    step_failed,
    step_succeeded,
)


def _run_until(step: Step) -> SagaState:
    state = start()
    while state.step is not step:
        state = step_succeeded(state)
    return state


def _compensate_fully(state: SagaState) -> tuple[SagaState, list[Step]]:
    undone: list[Step] = []
    while state.status is SagaStatus.COMPENSATING:
        undone.append(state.step)
        state = compensation_done(state)
    return state, undone


def test_a_saga_runs_its_steps_in_order_and_completes() -> None:
    state = start()
    seen = []
    while state.status is SagaStatus.RUNNING:
        seen.append(state.step)
        state = step_succeeded(state)
    assert seen == list(STEPS)
    assert state == SagaState(SagaStatus.COMPLETED, Step.PUBLISH)
    assert state.finished


def test_a_failed_fetch_has_nothing_to_undo() -> None:
    state = step_failed(start(), "FetchFailedError: timeout")
    assert state == SagaState(
        SagaStatus.COMPENSATED,
        Step.FETCH,
        failed_step=Step.FETCH,
        error="FetchFailedError: timeout",
    )


def test_a_failed_publish_undoes_index_then_store() -> None:
    state = step_failed(_run_until(Step.PUBLISH), "boom")
    assert (state.status, state.step) == (SagaStatus.COMPENSATING, Step.INDEX)
    assert pending_compensations(state) == (Step.INDEX, Step.STORE)
    state = compensation_done(state)
    assert (state.status, state.step) == (SagaStatus.COMPENSATING, Step.STORE)
    state = compensation_done(state)
    assert state == SagaState(SagaStatus.COMPENSATED, Step.PUBLISH, Step.PUBLISH, "boom")


def test_a_failed_store_rolled_back_itself_and_undoes_nothing() -> None:
    assert step_failed(_run_until(Step.STORE), "x").status is SagaStatus.COMPENSATED


@pytest.mark.parametrize(
    ("transition", "state"),
    [
        (step_succeeded, SagaState(SagaStatus.COMPLETED, Step.PUBLISH)),
        (step_succeeded, SagaState(SagaStatus.COMPENSATING, Step.INDEX, Step.PUBLISH)),
        (compensation_done, SagaState(SagaStatus.RUNNING, Step.INDEX)),
        (compensation_done, SagaState(SagaStatus.COMPENSATED, Step.FETCH, Step.FETCH)),
    ],
)
def test_a_transition_from_the_wrong_status_is_refused(
    transition: Callable[[SagaState], SagaState], state: SagaState
) -> None:
    with pytest.raises(InvalidTransitionError, match="needs a"):
        transition(state)


def test_failing_a_finished_saga_is_refused() -> None:
    with pytest.raises(
        InvalidTransitionError, match="needs a running saga, got one that is completed"
    ):
        step_failed(SagaState(SagaStatus.COMPLETED, Step.PUBLISH), "late")


def test_abandon_fails_a_running_saga_and_leaves_the_others() -> None:
    compensating = step_failed(_run_until(Step.PUBLISH), "boom")
    completed = SagaState(SagaStatus.COMPLETED, Step.PUBLISH)
    assert abandon(_run_until(Step.INDEX), "crash").status is SagaStatus.COMPENSATING
    assert abandon(compensating, "crash") == compensating
    assert abandon(completed, "crash") == completed


def test_a_long_error_is_cut() -> None:
    assert len(step_failed(start(), "e" * 10_000).error or "") == 500


@given(failed_at=st.sampled_from(STEPS), abandoned=st.booleans())
def test_any_failure_undoes_exactly_the_completed_steps_newest_first(
    failed_at: Step, abandoned: bool
) -> None:
    """The pure model of "all or nothing": whatever step fails (or is abandoned by a crash),
    the compensations run are those of the steps completed before it, newest first, and the
    saga ends compensated, never stuck in between."""
    running = _run_until(failed_at)
    state = abandon(running, "crash") if abandoned else step_failed(running, "error")
    completed_before = [step for step in STEPS[: STEPS.index(failed_at)]]
    expected = [step for step in reversed(completed_before) if step in COMPENSATED_STEPS]
    assert list(pending_compensations(state)) == expected
    final, undone = _compensate_fully(state)
    assert undone == expected
    assert final.status is SagaStatus.COMPENSATED
    assert final.failed_step is failed_at
    assert pending_compensations(final) == ()


def test_chunks_keep_paragraphs_whole_and_cut_only_overlong_ones() -> None:
    text = "alpha beta\n\ngamma\n\n" + "x" * 25
    assert chunk_text(text, max_chars=12) == ("alpha beta", "gamma", "x" * 12, "x" * 12, "x")
    assert chunk_text(text, max_chars=100) == (text,)


@given(text=st.text(alphabet="ab \n", max_size=300), max_chars=st.integers(1, 50))
def test_chunks_are_bounded_and_lose_no_characters(text: str, max_chars: int) -> None:
    chunks = chunk_text(text, max_chars=max_chars)
    assert all(0 < len(chunk) <= max_chars for chunk in chunks)
    kept = "".join(chunks).replace("\n", "").replace(" ", "")
    assert kept == text.replace("\n", "").replace(" ", "")


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_chars must be at least 1, got 0"):
        chunk_text("a", max_chars=0)
