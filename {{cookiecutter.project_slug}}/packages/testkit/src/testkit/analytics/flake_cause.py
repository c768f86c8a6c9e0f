"""Why a flaky test failed: the order it ran in, the seed, or neither.

Most flaky tests in real projects are order-dependent (Gruber et al., ICST 2021: 59 %), and
rerunning one test never shows it. `make flakiness-report` records each rerun's seed and order
(pytest-randomly, in the history); for a test that failed in some reruns, two more runs tell the
cause apart:

1. the failing rerun replayed (`make replay`: the same tests, order and seed);
2. the test alone, with that rerun's seed (pytest-randomly reseeds `random`, faker and
   factory-boy to the seed before every test, so the test sees the same data as in the rerun).

    replay passes                      -> nondeterministic: timing, threads, an outside service
    replay fails, alone fails          -> seed-dependent: the data that seed draws
    replay fails, alone passes         -> order-dependent: a test before it leaves state behind;
                                          `make find-polluter` names it

`judge_cause` is the decision; `find_causes` runs the two checks for each flaky test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from testkit.analytics.history import FAILING_OUTCOMES, HistoryStore
from testkit.analytics.recorder import RUN_ID_ENV
from testkit.analytics.replay import REPLAY_DIR, execute, plan_replay

MAX_CHECKED = 10  # flaky tests whose cause a report checks (two pytest runs each)
# Every rerun of a flake hunt: no retries (each failure counts), no cache, quiet.
RERUN_ARGUMENTS = ("-p", "no:rerunfailures", "-p", "no:cacheprovider", "-q", "--no-header")


@dataclass(frozen=True, slots=True)
class FlakeCause:
    nodeid: str
    cause: str  # order-dependent | seed-dependent | nondeterministic
    run_id: str  # the rerun it failed in
    seed: int | None
    reason: str
    reproduce: str


def judge_cause(
    nodeid: str, *, run_id: str, seed: int | None, replay_failed: bool, alone_failed: bool
) -> FlakeCause:
    """The cause from the two checks (see the module docstring)."""
    if not replay_failed:
        return FlakeCause(
            nodeid,
            "nondeterministic",
            run_id,
            seed,
            f"passed when run {run_id} was replayed with its order and seed {seed}: "
            "timing, threads or an outside service, not the order or the seed",
            "make flakiness-report (reruns; no fixed order or seed reproduces it)",
        )
    if alone_failed:
        return FlakeCause(
            nodeid,
            "seed-dependent",
            run_id,
            seed,
            f"fails alone with seed {seed} too: the data that seed draws makes it fail",
            f"TEST_SEED={seed} pytest '{nodeid}'",
        )
    return FlakeCause(
        nodeid,
        "order-dependent",
        run_id,
        seed,
        f"fails after the tests before it in run {run_id} (seed {seed}) and passes alone "
        "with that seed: a test before it leaves state behind",
        f"make replay RUN={run_id}; make find-polluter TEST='{nodeid}' RUN={run_id}",
    )


def _failed(store: HistoryStore, run_id: str, nodeid: str) -> bool:
    return any(
        result.nodeid == nodeid and result.outcome in FAILING_OUTCOMES
        for result in store.results(run_id)
    )


def find_causes(
    failed_in: Mapping[str, Sequence[str]],
    *,
    store: HistoryStore,
    rootdir: Path,
    extra_args: Sequence[str] = (),
    progress: Callable[[str], None] = print,
) -> dict[str, FlakeCause]:
    """For each flaky test (nodeid -> the reruns it failed in), replay its first failing rerun
    and run it alone with that rerun's seed; at most MAX_CHECKED tests."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    causes: dict[str, FlakeCause] = {}
    checked = sorted(failed_in)[:MAX_CHECKED]
    for number, nodeid in enumerate(checked, start=1):
        run_id = failed_in[nodeid][0]
        run = store.run(run_id)
        if run is None:
            continue
        plan = plan_replay(
            run, store.results(run_id), rootdir=rootdir, extra_args=[*RERUN_ARGUMENTS, *extra_args]
        )
        replay_id = f"cause-{stamp}-{number:02d}-replay"
        log = rootdir / REPLAY_DIR / f"{replay_id}.log"
        execute(
            plan, rootdir=rootdir, base_environment={**os.environ, RUN_ID_ENV: replay_id}, log=log
        )
        alone_id = f"cause-{stamp}-{number:02d}-alone"
        environment = {**os.environ, RUN_ID_ENV: alone_id, **plan.environment}  # its seed
        subprocess.run(
            [sys.executable, "-m", "pytest", *RERUN_ARGUMENTS, *extra_args, nodeid],
            cwd=rootdir,
            env=environment,
            capture_output=True,
            check=False,
        )
        cause = judge_cause(
            nodeid,
            run_id=run_id,
            seed=run.seed,
            replay_failed=_failed(store, replay_id, nodeid),
            alone_failed=_failed(store, alone_id, nodeid),
        )
        causes[nodeid] = cause
        progress(f"cause {number}/{len(checked)}: {nodeid}: {cause.cause}")
    if len(failed_in) > MAX_CHECKED:
        progress(f"{len(failed_in) - MAX_CHECKED} more flaky tests: cause not checked")
    return causes
