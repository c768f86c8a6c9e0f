"""`make flakiness-report`: rerun the suspects N times, classify them, write the report.

Suspects are the tests that failed in the recent history, plus the quarantined ones (ALL=1:
every test). Each rerun is a fresh pytest process with a fresh seed and order, recorded in the
history like any run (with run ids flaky-<stamp>-<n>), with retries off so every failure counts.
For each test that failed in some reruns and passed in others, testkit.analytics.flake_cause
tells order-dependent from seed-dependent from nondeterministic, with the seed and the command
that reproduce it. Results land in reports/flakiness.json and reports/flakiness.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from testkit.analytics.fingerprint import code_fingerprint
from testkit.analytics.flake_cause import RERUN_ARGUMENTS, FlakeCause, find_causes
from testkit.analytics.flaky import (
    CONFIDENCE_LEVEL,
    Classification,
    RateEstimate,
    classify,
    estimate_failure_rate,
    suspects,
)
from testkit.analytics.history import FAILING_OUTCOMES, HistoryStore, OutcomeCounts
from testkit.analytics.quarantine import QuarantineEntry, entry_for
from testkit.analytics.recorder import RUN_ID_ENV

SUSPECT_WINDOW_RUNS = 50
# pytest exit codes that mean the run itself broke (usage error, internal error, interrupted).
BROKEN_RUN_CODES = frozenset({2, 3, 4})


class RerunError(Exception):
    """A rerun could not run the tests (the message says why and shows pytest's last lines)."""


@dataclass(frozen=True, slots=True)
class TestReportRow:
    __test__ = False

    nodeid: str
    verdict: str
    reason: str
    runs: int
    failures: int
    failure_rate: float
    ci_low: float
    ci_high: float
    history_passes: int
    history_failures: int
    quarantined: bool
    cause: str = ""  # order-dependent | seed-dependent | nondeterministic (flaky ones)
    seed: int | None = None  # the seed of a rerun it failed in
    reproduce: str = ""


@dataclass(frozen=True, slots=True)
class RerunTally:
    """What the reruns saw: nodeid -> (passes, failures), and the reruns each test failed in."""

    counts: dict[str, tuple[int, int]]
    failed_in: dict[str, list[str]]

    def flaky_failures(self) -> dict[str, list[str]]:
        """The failing reruns of the tests that also passed in some."""
        return {n: runs for n, runs in self.failed_in.items() if self.counts[n][0]}


def report_rows(
    classifications: Sequence[Classification],
    estimates: dict[str, RateEstimate],
    entries: Sequence[QuarantineEntry],
    causes: Mapping[str, FlakeCause] | None = None,
) -> list[TestReportRow]:
    causes = causes or {}
    order = {"flaky": 0, "broken": 1, "healthy": 2}
    rows = [
        TestReportRow(
            nodeid=c.nodeid,
            verdict=c.verdict,
            reason=c.reason,
            runs=estimates[c.nodeid].runs,
            failures=estimates[c.nodeid].failures,
            failure_rate=round(estimates[c.nodeid].rate, 4),
            ci_low=round(estimates[c.nodeid].low, 4),
            ci_high=round(estimates[c.nodeid].high, 4),
            history_passes=c.history_passes,
            history_failures=c.history_failures,
            quarantined=entry_for(entries, c.nodeid) is not None,
            cause=causes[c.nodeid].cause if c.nodeid in causes else "",
            seed=causes[c.nodeid].seed if c.nodeid in causes else None,
            reproduce=causes[c.nodeid].reproduce if c.nodeid in causes else "",
        )
        for c in classifications
    ]
    rows.sort(key=lambda row: (order[row.verdict], -row.failure_rate, row.nodeid))
    return rows


def render_markdown(
    rows: Sequence[TestReportRow], *, runs: int, fingerprint: str, scope: str
) -> str:
    counts = {
        verdict: sum(row.verdict == verdict for row in rows)
        for verdict in ("flaky", "broken", "healthy")
    }
    lines = [
        "# Flakiness report",
        "",
        f"Reruns: {runs} of {scope} on code fingerprint `{fingerprint}`; failure rates with "
        f"{CONFIDENCE_LEVEL:.0%} Wilson intervals.",
        "",
        f"**{counts['flaky']} flaky, {counts['broken']} broken, {counts['healthy']} healthy.**",
        "",
    ]
    if not rows:
        lines.append("No suspects: no test failed in the recent history and none is quarantined.")
        return "\n".join(lines) + "\n"
    lines += [
        "| test | verdict | failed / reruns | failure rate (95% CI) | history pass / fail"
        " | quarantined | cause | seed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| `{row.nodeid}` | {row.verdict} | {row.failures} / {row.runs} | "
            f"{row.failure_rate:.1%} ({row.ci_low:.1%}-{row.ci_high:.1%}) | "
            f"{row.history_passes} / {row.history_failures} | {'yes' if row.quarantined else ''} "
            f"| {row.cause} | {'' if row.seed is None else row.seed} |"
        )
    reproducible = [row for row in rows if row.reproduce]
    if reproducible:
        lines += ["", "## Reproduce", ""]
        lines += [f"- `{row.nodeid}` ({row.cause}): `{row.reproduce}`" for row in reproducible]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class RerunPlan:
    nodeids: list[str]  # empty with run_all: the whole suite
    run_all: bool
    runs: int


def plan_reruns(
    store: HistoryStore, entries: Sequence[QuarantineEntry], *, runs: int, run_all: bool
) -> RerunPlan:
    if run_all:
        return RerunPlan([], True, runs)
    counts = store.outcomes_by_fingerprint(last_runs=SUSPECT_WINDOW_RUNS)
    return RerunPlan(suspects(counts, [entry.nodeid for entry in entries]), False, runs)


def run_reruns(
    plan: RerunPlan,
    *,
    store: HistoryStore,
    rootdir: Path,
    extra_args: Sequence[str],
    progress: Callable[[str], None],
    label: str = "flaky",
) -> RerunTally:
    """Run the plan: each test's passes and failures over the reruns (run ids `label-...`)."""
    arguments = [*RERUN_ARGUMENTS, *extra_args]
    if not plan.run_all:
        args_file = rootdir / ".testkit" / "flakiness-suspects.txt"
        args_file.parent.mkdir(parents=True, exist_ok=True)
        args_file.write_text("".join(f"{nodeid}\n" for nodeid in plan.nodeids))
        arguments.append(f"@{args_file}")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    tally: dict[str, list[int]] = {}
    failed_in: dict[str, list[str]] = {}
    for number in range(1, plan.runs + 1):
        run_id = f"{label}-{stamp}-{number:02d}"
        environment = {**os.environ, RUN_ID_ENV: run_id}
        environment.pop("TEST_SEED", None)  # a fresh seed and order each time
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", *arguments],
            cwd=rootdir,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode in BROKEN_RUN_CODES or completed.returncode == 5:
            tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-15:])
            raise RerunError(f"rerun {number} exited {completed.returncode}; pytest said:\n{tail}")
        results = store.results(run_id)
        if not results:
            raise RerunError(
                f"rerun {number} recorded nothing in {store.path}: is TESTKIT_HISTORY off?"
            )
        for result in results:
            passes_failures = tally.setdefault(result.nodeid, [0, 0])
            if result.outcome == "passed":
                passes_failures[0] += 1
            elif result.outcome in FAILING_OUTCOMES:
                passes_failures[1] += 1
                failed_in.setdefault(result.nodeid, []).append(run_id)
        failing = sum(1 for counts in tally.values() if counts[1])
        progress(
            f"rerun {number}/{plan.runs}: {len(results)} tests, exit {completed.returncode}; "
            f"{failing} test(s) failed at least once so far"
        )
    counts = {nodeid: (passes, failures) for nodeid, (passes, failures) in tally.items()}
    return RerunTally(counts, failed_in)


def collect_nodeids(rootdir: Path, extra_args: Sequence[str] = ()) -> list[str]:
    """Every test pytest collects here (a subprocess, recording nothing)."""
    environment = {**os.environ, "TESTKIT_HISTORY": "off"}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", *extra_args],
        cwd=rootdir,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode not in (0, 5):
        tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-10:])
        raise RerunError(f"collecting the tests failed (exit {completed.returncode}):\n{tail}")
    return [line.strip() for line in completed.stdout.splitlines() if "::" in line]


def build_report(
    tally: dict[str, tuple[int, int]],
    history: dict[str, OutcomeCounts],
    entries: Sequence[QuarantineEntry],
    causes: Mapping[str, FlakeCause] | None = None,
) -> list[TestReportRow]:
    classifications = [
        classify(nodeid, rerun_passes=passes, rerun_failures=failures, history=history.get(nodeid))
        for nodeid, (passes, failures) in tally.items()
    ]
    estimates = {
        nodeid: estimate_failure_rate(failures, passes + failures)
        for nodeid, (passes, failures) in tally.items()
    }
    return report_rows(classifications, estimates, entries, causes)


def write_report(
    rows: Sequence[TestReportRow],
    *,
    output_dir: Path,
    runs: int,
    fingerprint: str,
    scope: str,
) -> tuple[Path, Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "fingerprint": fingerprint,
        "runs": runs,
        "scope": scope,
        "confidence_level": CONFIDENCE_LEVEL,
        "summary": {
            verdict: sum(row.verdict == verdict for row in rows)
            for verdict in ("flaky", "broken", "healthy")
        },
        "tests": [asdict(row) for row in rows],
    }
    json_path = output_dir / "flakiness.json"
    markdown_path = output_dir / "flakiness.md"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    markdown_path.write_text(render_markdown(rows, runs=runs, fingerprint=fingerprint, scope=scope))
    return markdown_path, json_path


def flakiness_report(
    store: HistoryStore,
    entries: Sequence[QuarantineEntry],
    *,
    rootdir: Path,
    runs: int,
    run_all: bool,
    output_dir: Path,
    extra_args: Sequence[str] = (),
    progress: Callable[[str], None] = print,
) -> list[TestReportRow]:
    """The whole `make flakiness-report`: plan, rerun, classify, write."""
    fingerprint = code_fingerprint(rootdir)
    # History on this very code, read before the reruns add to it.
    history = {
        nodeid: counts
        for (nodeid, _), counts in store.outcomes_by_fingerprint(fingerprint=fingerprint).items()
    }
    plan = plan_reruns(store, entries, runs=runs, run_all=run_all)
    if plan.nodeids:
        # A suspect renamed or deleted since it failed would stop every rerun ("not found").
        collected = collect_nodeids(rootdir)
        existing = [
            s for s in plan.nodeids if any(c == s or c.startswith(s + "[") for c in collected)
        ]
        for gone in sorted(set(plan.nodeids) - set(existing)):
            progress(f"skipping {gone}: pytest no longer collects it")
        plan = RerunPlan(existing, plan.run_all, plan.runs)
    scope = "every test" if run_all else f"{len(plan.nodeids)} suspect(s)"
    tally = RerunTally({}, {})
    if run_all or plan.nodeids:
        progress(f"rerunning {scope} {runs} times (fingerprint {fingerprint})")
        tally = run_reruns(
            plan, store=store, rootdir=rootdir, extra_args=extra_args, progress=progress
        )
    else:
        progress("no suspects: no test failed in the recent history and none is quarantined")
    causes = find_causes(
        tally.flaky_failures(),
        store=store,
        rootdir=rootdir,
        extra_args=extra_args,
        progress=progress,
    )
    rows = build_report(tally.counts, history, entries, causes)
    markdown, json_path = write_report(
        rows, output_dir=output_dir, runs=runs, fingerprint=fingerprint, scope=scope
    )
    progress(f"wrote {markdown} and {json_path}")
    return rows
