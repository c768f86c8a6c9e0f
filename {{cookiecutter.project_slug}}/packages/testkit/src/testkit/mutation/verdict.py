"""The mutation gate's decision: of the mutants on the changed lines, the share the tests
killed, against the threshold. Pure: mutants in, a verdict out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from testkit.mutation.mutants import DETECTED, UNDETECTED


@dataclass(frozen=True, slots=True)
class Mutant:
    """One mutant on a changed line: where, what it changed, and what the tests made of it."""

    name: str
    status: str
    path: str
    line: int
    original: str
    mutated: str

    @property
    def killed(self) -> bool:
        return self.status in DETECTED

    @property
    def place(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class MutationVerdict:
    """PASS or FAIL with the score; `reason` says why when there is nothing to score."""

    passed: bool
    threshold: float
    mutants: tuple[Mutant, ...]
    reason: str = ""

    @property
    def killed(self) -> int:
        return sum(m.killed for m in self.mutants)

    @property
    def score(self) -> float | None:
        """Percent of the mutants killed; None when there were none."""
        return 100.0 * self.killed / len(self.mutants) if self.mutants else None

    @property
    def survivors(self) -> tuple[Mutant, ...]:
        return tuple(m for m in self.mutants if not m.killed)


def judge(
    mutants: Sequence[Mutant], threshold: float, *, nothing_to_mutate: str = ""
) -> MutationVerdict:
    """FAIL under the threshold, or when mutmut left a mutant unchecked (the run did not finish);
    PASS when the score reaches it, or when there is nothing to mutate (said in `reason`)."""
    unchecked = [m for m in mutants if m.status not in DETECTED | UNDETECTED]
    if unchecked:
        statuses = ", ".join(sorted({m.status for m in unchecked}))
        reason = f"{len(unchecked)} mutants were not run to the end ({statuses})"
        return MutationVerdict(False, threshold, tuple(mutants), reason)
    if not mutants:
        return MutationVerdict(
            True, threshold, (), nothing_to_mutate or "no mutant on a changed line"
        )
    verdict = MutationVerdict(True, threshold, tuple(mutants))
    score = verdict.score
    assert score is not None
    return MutationVerdict(score >= threshold, threshold, tuple(mutants))
