"""Mutation scores in the history file: every `testkit mutation` run's killed and total, read
back as a series for the dashboard's mutation panel (table `mutation_scores`, history schema
version 3)."""

from __future__ import annotations

import time
from pathlib import Path

from testkit.analytics.changepoints import Point
from testkit.analytics.history import HistoryStore, open_history, record_in_project_history
from testkit.analytics.perf_history import commit_label
from testkit.git import head_state
from testkit.mutation.verdict import MutationVerdict

SCOPES = ("all", "changed")


def record_score(history: Path, verdict: MutationVerdict, *, scope: str, root: Path) -> None:
    """Store one run's score (nothing when it scored no mutant)."""
    if scope not in SCOPES:
        raise ValueError(f"mutation score scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    if not verdict.mutants:
        return
    commit, dirty = head_state(root)
    store = open_history(history, create=True)
    try:
        with store.connection:
            store.connection.execute(
                "INSERT INTO mutation_scores VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), commit, int(dirty), scope, verdict.killed, len(verdict.mutants)),
            )
    finally:
        store.close()


def record_in_history(root: Path, verdict: MutationVerdict, *, scope: str) -> str:
    """Record the score in the project's history; one line saying where, or why not."""
    recorded, line = record_in_project_history(
        root, lambda path: record_score(path, verdict, scope=scope, root=root)
    )
    return line + (" (make report draws the scores)" if recorded else "")


def score_series(store: HistoryStore, *, scope: str = "all") -> tuple[Point, ...]:
    """The recorded scores (percent killed) of one scope, oldest first, labelled by commit."""
    rows = store.connection.execute(
        "SELECT recorded_at, commit_id, dirty, killed, total FROM mutation_scores"
        " WHERE scope = ? AND total > 0 ORDER BY recorded_at",
        (scope,),
    )
    return tuple(
        Point(commit_label(commit, bool(dirty)), at, 100.0 * killed / total)
        for at, commit, dirty, killed, total in rows
    )
