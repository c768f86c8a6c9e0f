"""`make find-polluter TEST=<nodeid>`: the earlier test that makes TEST fail (an order-dependent
flake: TEST passes alone and fails after some other test left state behind).

The candidates are the tests that ran before TEST, in the order they ran: in a recorded run
(RUN=<id>, else the newest run TEST failed in, else the newest run holding it; under xdist only
the tests of TEST's worker ran before it), or, with no history of TEST, pytest's collection
order. The bisection is detect-test-pollution's (asottile): it checks that TEST passes alone
and fails after the candidates, then halves them until one is left. It fits: it runs pytest in
a fresh process per step with its own plugin ordering the tests exactly as its --testids-file
lists them, so the recorded order holds. It turns pytest-randomly off, so `random`, faker and
factory-boy are not reseeded as in the recorded run (a victim that needs both the polluter and
the seed's data is not found); the run's TEST_SEED (Hypothesis) and TEST_MODE are passed on,
and the history is off for its runs (bisection steps are not test runs). Its output is read
line by line: `interpret` turns it into a verdict.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from testkit.analytics.history import FAILING_OUTCOMES, HistoryStore, Result, Run

POLLUTER_DIR = Path(".testkit") / "polluter"
# Newest appearances of the victim read from the history when choosing the run to bisect.
APPEARANCES_READ = 200
_FOUND = "-> the polluting test is: "
_ALONE_FAILS = "-> test failed!"
_GROUP_PASSES = "-> expected failure -- but it passed?"
# Not `python -m detect_test_pollution`: run as __main__, it would pass `-p __main__` to its
# pytest runs instead of its own plugin (`-p detect_test_pollution`), which then reject its
# options. -u: its steps reach `progress` as they happen, not when it exits.
_RUN_DETECT_TEST_POLLUTION = (
    "import sys, detect_test_pollution; sys.exit(detect_test_pollution.main())"
)


class PolluterError(Exception):
    """TEST cannot be bisected (not collected, no earlier test); the message is one line."""


@dataclass(frozen=True, slots=True)
class Search:
    """What to bisect: TEST, the tests that ran before it (in that order), and where from."""

    victim: str
    candidates: tuple[str, ...]
    origin: str  # "run <id> (seed N)" or "collection order"
    seed: int | None = None
    mode: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """found: `polluter` names it; alone-fails, not-order-dependent, error: `message` says why."""

    kind: str  # found | alone-fails | not-order-dependent | error
    polluter: str | None
    message: str

    @property
    def found(self) -> bool:
        return self.kind == "found"


def pick_run(appearances: Sequence[tuple[str, str]]) -> str | None:
    """The run to bisect from the victim's (run id, outcome) rows, newest first: the newest
    one it failed in, else the newest one it ran in."""
    failing = [run_id for run_id, outcome in appearances if outcome in FAILING_OUTCOMES]
    return failing[0] if failing else (appearances[0][0] if appearances else None)


def tests_before(results: Sequence[Result], victim: str) -> tuple[str, ...]:
    """The tests that ran before `victim` in one run, in order; under xdist, on its worker only
    (another worker's tests ran in another process and cannot have polluted it)."""
    ordered = sorted(results, key=lambda result: result.position)
    mine = next((result for result in ordered if result.nodeid == victim), None)
    if mine is None:
        return ()
    return tuple(
        result.nodeid
        for result in ordered
        if result.position < mine.position and result.worker == mine.worker
    )


def search_from_run(
    run: Run, results: Sequence[Result], victim: str, collected: Sequence[str]
) -> Search:
    """The recorded order, less the tests pytest no longer collects (renamed or deleted)."""
    present = set(collected)
    before = tuple(nodeid for nodeid in tests_before(results, victim) if nodeid in present)
    origin = f"run {run.run_id} (seed {run.seed})"
    return Search(victim, before, origin, run.seed, run.mode)


def search_from_collection(collected: Sequence[str], victim: str) -> Search:
    before = tuple(collected[: list(collected).index(victim)]) if victim in collected else ()
    return Search(victim, before, "collection order")


def check_victim(victim: str, collected: Sequence[str]) -> None:
    """PolluterError (one line, with the closest collected ids) when pytest does not collect it."""
    if victim in collected:
        return
    close = difflib.get_close_matches(victim, collected, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; give a node id from pytest -q"
    raise PolluterError(f"TEST={victim} is not a test pytest collects here{hint}")


def interpret(output: str, search: Search) -> Verdict:
    """detect-test-pollution's output (and nothing else) -> the verdict."""
    victim, count, origin = search.victim, len(search.candidates), search.origin
    for line in output.splitlines():
        if line.startswith(_FOUND):
            polluter = line.removeprefix(_FOUND).strip()
            return Verdict(
                "found",
                polluter,
                f"{victim} fails after {polluter} and passes alone: {polluter} is the polluter "
                f"(bisected {count} tests that ran before it, {origin})",
            )
        if line.startswith(_ALONE_FAILS):
            return Verdict(
                "alone-fails",
                None,
                f"{victim} fails when run alone, so it is not order-dependent: "
                "fix it, or see if it is flaky with make flakiness-report",
            )
        if line.startswith(_GROUP_PASSES):
            return Verdict(
                "not-order-dependent",
                None,
                f"{victim} passed after the {count} tests that ran before it ({origin}): no "
                "polluter among them (try RUN=<id> of a run it failed in, see make history)",
            )
    tail = " | ".join(output.strip().splitlines()[-3:])
    return Verdict("error", None, f"detect-test-pollution gave no verdict for {victim}: {tail}")


def testids_file(rootdir: Path, victim: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in victim)[-120:]
    return rootdir / POLLUTER_DIR / f"{safe}.txt"


def bisect(
    search: Search,
    *,
    rootdir: Path,
    base_environment: dict[str, str],
    progress: Callable[[str], None] = print,
) -> Verdict:
    """Run detect-test-pollution over `search` (its steps go to `progress`)."""
    if not search.candidates:
        return Verdict(
            "not-order-dependent",
            None,
            f"no test ran before {search.victim} ({search.origin}): nothing can have polluted it",
        )
    path = testids_file(rootdir, search.victim)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{nodeid}\n" for nodeid in (*search.candidates, search.victim)))
    environment = {**base_environment, "TESTKIT_HISTORY": "off"}
    environment.pop("TESTKIT_RUN_ID", None)
    if search.seed is not None:
        environment["TEST_SEED"] = str(search.seed)
    if search.mode is not None:
        environment["TEST_MODE"] = search.mode
    command = [sys.executable, "-u", "-c", _RUN_DETECT_TEST_POLLUTION]
    command += ["--failing-test", search.victim, "--testids-file", str(path)]
    lines: list[str] = []
    with subprocess.Popen(
        command,
        cwd=rootdir,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            progress(f"  {line.rstrip()}")
    return interpret("\n".join(lines), search)


def victim_appearances(store: HistoryStore, victim: str) -> list[tuple[str, str]]:
    """(run id, outcome) of the victim's newest results, newest first."""
    rows = store.connection.execute(
        "SELECT results.run_id, results.outcome FROM results JOIN runs USING (run_id)"
        " WHERE results.nodeid = ? ORDER BY runs.started_at DESC, runs.rowid DESC LIMIT ?",
        (victim, APPEARANCES_READ),
    )
    return [(run_id, outcome) for run_id, outcome in rows]


def plan_search(
    store: HistoryStore | None, victim: str, collected: Sequence[str], run_id: str | None
) -> Search:
    """The candidates: from RUN, else from the history, else the collection order."""
    check_victim(victim, collected)
    if run_id is not None:
        run = store.run(run_id) if store is not None else None
        if run is None:
            raise PolluterError(f"RUN={run_id} is not in the test history (see make history)")
        results = store.results(run_id) if store is not None else []
        if not any(result.nodeid == victim for result in results):
            raise PolluterError(f"run {run_id} did not run {victim}; leave RUN unset to search")
        return search_from_run(run, results, victim, collected)
    chosen = pick_run(victim_appearances(store, victim)) if store is not None else None
    run = store.run(chosen) if store is not None and chosen is not None else None
    if store is None or run is None:
        return search_from_collection(collected, victim)
    return search_from_run(run, store.results(run.run_id), victim, collected)
