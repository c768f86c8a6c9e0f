"""What each `testkit perf` command does, given its request: run, baseline, gate and ab.

The gate judges the code, not the machine. Rounds taken now are compared with the recorded
baseline's only when the machine is the baseline's and as busy (calibration.compare_machines,
before the rounds and again after them). When it is not, or when that comparison finds a
regression or stays undecided, the gate loads the baseline's commit and the working tree side
by side on this machine, now (the perf-ab comparison), and that paired comparison gives the
verdict. Where no revision can be started (TEST_BASE_URL, no git, a baseline recorded from
uncommitted changes) the verdict is INCONCLUSIVE, naming what differs: exit 0, or 1 with
--strict. With BASE=<ref> the gate is the perf-ab comparison against that revision from the
start (CI: the merge base).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from testkit.analytics.perf_history import record_in_history
from testkit.git import commit_of
from testkit.perf import cost, gate, metadata
from testkit.perf.calibration import MachineCheck, calibrate, compare_machines, fingerprint
from testkit.perf.figures import window_figures
from testkit.perf.render import format_table, round_line
from testkit.perf.request import PerfRequest
from testkit.perf.rounds import Measured, measure_rounds, run_pairs
from testkit.perf.runner import pooled_figures, run_load
from testkit.perf.service import load_run, server_spec, targets, working_tree_specs
from testkit.perf.summary import (
    AB_REPORT,
    GATE_REPORT,
    Baseline,
    load_parameters,
    read_baseline,
    summary,
    write_json,
)
from testkit.perf.worktree import base_worktree
from testkit.usage import UsageError

EXTRA_ROUNDS = 2
DEFAULT_BASELINE_ROUNDS = 5
# Verdicts against the recorded rounds that the paired comparison settles when the baseline's
# commit can be started: a regression is confirmed (or not) with both revisions under the same
# load, and rounds that stayed undecided (a noisy machine: one stalled baseline round is enough)
# get a verdict instead of INCONCLUSIVE.
UNSETTLED = {
    gate.PerfVerdict.REGRESSION: "a regression",
    gate.PerfVerdict.INCONCLUSIVE: "undecided after the last round",
}


def run(request: PerfRequest) -> int:
    profile = request.profile
    out_dir = request.out_dir()
    limits = gate.load_limits(request.pyproject, cost_ceiling=request.cost_ceiling)
    with targets(request, working_tree_specs(request)) as started:
        target = next(iter(started.values()))
        print(
            f"perf: profile {profile.name}: {profile.users} users, {profile.spawn_rate:g}/s, "
            f"{profile.run_time_s}s against {target.base_url}",
            flush=True,
        )
        load = load_run(request, target, profile.run_time_s, measured=False)
        spent_before = cost.scrape_spend(target.base_url)
        samples = run_load(load, out_dir, echo=True)
        spent = cost.spend_between(spent_before, cost.scrape_spend(target.base_url))
    whole = window_figures(samples, start_s=0.0, end_s=float(profile.run_time_s))
    meta = _metadata(request, profile.run_time_s, 1)
    _write_summary(out_dir / "summary.json", summary(profile, whole, [], meta), "run")
    print(round_line(f"perf {profile.name}", whole), flush=True)
    print(f"perf: wrote {out_dir}/summary.json, report.html, locust_*.csv, samples.csv", flush=True)
    costs = cost.check_cost(spent, limits.cost_ceiling_usd)
    print(costs.line(), flush=True)
    return 1 if costs.over else 0


def baseline(request: PerfRequest) -> int:
    rounds = request.rounds or DEFAULT_BASELINE_ROUNDS
    round_s = request.round_s()
    with targets(request, working_tree_specs(request)) as started:
        target = next(iter(started.values()))
        measured = measure_rounds(
            request, target, round_s, rounds, request.out_dir("baseline"), "baseline"
        )
    meta = _metadata(request, round_s, rounds, measured)
    path = request.baseline_path
    _write_summary(path, _summary_of(request, measured, meta), "baseline")
    print(
        f"perf: wrote {path} ({rounds} rounds of {round_s:g}s, commit {meta['commit']})", flush=True
    )
    return 0


def gate_check(request: PerfRequest) -> int:
    limits = gate.load_limits(
        request.pyproject, alpha=request.alpha, cost_ceiling=request.cost_ceiling
    )
    if request.base is not None:
        print(f"perf gate: BASE={request.base}: the base revision and the working tree, paired")
        return _by_revision(request, limits, request.base, GATE_REPORT, request.round_s())
    recorded = read_baseline(request.baseline_path)
    request = replace(request, profile=recorded.profile(request.profile))
    round_s = request.round_s(recorded.round_s)
    _check_rounds_can_decide(len(recorded.rounds), request.max_rounds, request.alpha)
    print(
        f"perf gate: {recorded.path} ({len(recorded.rounds)} rounds, commit {recorded.commit}); "
        f"{request.profile.users} users, {round_s:g}s rounds",
        flush=True,
    )
    check = compare_machines(recorded.machine, recorded.calibrations, fingerprint(), [calibrate()])
    if not check.comparable:
        return _machine_differs(request, limits, recorded, check, round_s)
    with targets(request, working_tree_specs(request)) as started:
        target = next(iter(started.values()))
        out_dir = request.out_dir("gate")
        spent_before = cost.scrape_spend(target.base_url)
        measured = measure_rounds(request, target, round_s, len(recorded.rounds), out_dir, "gate")
        result = gate.compare_to_baseline(recorded.rounds, measured.figures, limits)
        while result.verdict is gate.PerfVerdict.INCONCLUSIVE and (
            len(measured.rounds) < request.max_rounds
        ):
            extra = min(EXTRA_ROUNDS, request.max_rounds - len(measured.rounds))
            print(
                f"perf gate: inconclusive ({', '.join(c.label for c in result.inconclusive)})"
                f": {extra} more round(s)",
                flush=True,
            )
            measure_rounds(request, target, round_s, extra, out_dir, "gate", into=measured)
            result = gate.compare_to_baseline(recorded.rounds, measured.figures, limits)
        spent = cost.spend_between(spent_before, cost.scrape_spend(target.base_url))
    meta = _metadata(request, round_s, len(measured.rounds), measured)
    _write_summary(request.out_dir("summary.json"), _summary_of(request, measured, meta), "gate")
    check = compare_machines(
        recorded.machine, recorded.calibrations, fingerprint(), measured.calibrations
    )
    if not check.comparable:
        return _machine_differs(request, limits, recorded, check, round_s)
    if result.verdict in UNSETTLED and _revision_of(recorded):
        print(format_table(result, baseline_label="baseline"), flush=True)
        print(
            f"perf gate: {UNSETTLED[result.verdict]} against the recorded rounds; deciding on "
            f"this machine, now: the baseline's commit {recorded.commit} beside the working tree",
            flush=True,
        )
        return _by_revision(
            request, limits, str(recorded.commit), GATE_REPORT, round_s, machine=check
        )
    return _verdict(
        request,
        result,
        GATE_REPORT,
        "baseline",
        costs=cost.check_cost(spent, limits.cost_ceiling_usd),
        baseline=str(recorded.path),
        machine=check.as_dict(),
    )


def ab(request: PerfRequest) -> int:
    limits = gate.load_limits(
        request.pyproject, alpha=request.alpha, cost_ceiling=request.cost_ceiling
    )
    if request.base is None:  # the request refuses this; kept for type checkers
        raise UsageError("perf-ab needs the base revision: BASE=<git ref>, e.g. BASE=main")
    return _by_revision(request, limits, request.base, AB_REPORT, request.round_s())


def _by_revision(
    request: PerfRequest,
    limits: gate.PerfLimits,
    ref: str,
    report: Path,
    round_s: float,
    *,
    machine: MachineCheck | None = None,
) -> int:
    """The working tree against ``ref``, both started here and loaded in pairs at once."""
    with base_worktree(ref) as checkout:
        print(
            f"perf-ab: base {ref} ({checkout.commit[:12]}) in {checkout.root}; candidate: the "
            f"working tree; {request.profile.users} users, {round_s:g}s rounds",
            flush=True,
        )
        specs = {"base": server_spec(request, checkout.root), "candidate": server_spec(request)}
        with targets(request, specs) as started:
            spent_before = cost.scrape_spend(started["candidate"].base_url)
            pairs, result = run_pairs(request, started, round_s, request.out_dir("ab"), limits)
            spent = cost.spend_between(
                spent_before, cost.scrape_spend(started["candidate"].base_url)
            )
    candidate = Measured(pairs.candidate)
    meta = _metadata(request, round_s, len(pairs.candidate), candidate) | {"base": checkout.commit}
    data = _summary_of(request, candidate, meta)
    _write_summary(request.out_dir("ab", "summary.json"), data, "ab")
    return _verdict(
        request,
        result,
        report,
        "base",
        costs=cost.check_cost(spent, limits.cost_ceiling_usd),
        base=ref,
        base_commit=checkout.commit,
        pairs=pairs.as_dict(),
        **({} if machine is None else {"machine": machine.as_dict()}),
    )


def _machine_differs(
    request: PerfRequest,
    limits: gate.PerfLimits,
    recorded: Baseline,
    check: MachineCheck,
    round_s: float,
) -> int:
    why = "; ".join(check.reasons)
    print(f"perf gate: this machine is not the baseline's as it was: {why}", flush=True)
    commit = _revision_of(recorded)
    if commit is not None and not request.base_url:
        print(
            f"perf gate: comparing with the baseline's commit {commit} on this machine instead",
            flush=True,
        )
        return _by_revision(request, limits, commit, GATE_REPORT, round_s, machine=check)
    reason = f"machine differs: {why}"
    write_json(
        GATE_REPORT,
        {
            "gate": "performance",
            "mode": "baseline",
            "verdict": gate.PerfVerdict.INCONCLUSIVE.value,
            "reason": reason,
            "profile": request.profile.name,
            "baseline": str(recorded.path),
            "machine": check.as_dict(),
            "inconclusive": [reason],
            "regressions": [],
            "checks": [],
        },
    )
    print(
        f"perf gate: INCONCLUSIVE: {reason}. No revision to compare with here "
        f"({_why_no_revision(request, recorded)}); for a verdict, run "
        "`make performance-gate BASE=<git ref>` (both revisions on this machine, paired)",
        flush=True,
    )
    print(f"perf: wrote {GATE_REPORT}", flush=True)
    return 1 if request.strict else 0


def _why_no_revision(request: PerfRequest, recorded: Baseline) -> str:
    if request.base_url:
        return "TEST_BASE_URL names a running deployment"
    if recorded.commit is None:
        return "the baseline was recorded outside git"
    if recorded.dirty:
        return f"the baseline was recorded from uncommitted changes on {recorded.commit[:12]}"
    return f"commit {recorded.commit[:12]} is not in this repository"


def _revision_of(recorded: Baseline) -> str | None:
    """The baseline's commit, when it is what was measured and this repository has it."""
    if recorded.commit is None or recorded.dirty:
        return None
    return commit_of(Path.cwd(), recorded.commit)


def _check_rounds_can_decide(baseline_rounds: int, max_rounds: int, alpha: float) -> None:
    # Mann-Whitney's one-sided floor: every current round beyond every baseline round.
    smallest_p = 1 / math.comb(baseline_rounds + max_rounds, max_rounds)
    if smallest_p >= alpha:
        raise UsageError(
            f"{baseline_rounds} baseline rounds and --max-rounds {max_rounds} can never reach "
            f"significance (smallest p {smallest_p:.3g} >= alpha {alpha:g}); record a "
            "baseline with more rounds"
        )


def _metadata(
    request: PerfRequest, round_s: float, rounds: int, measured: Measured | None = None
) -> dict[str, Any]:
    return metadata.run_metadata(
        Path.cwd(),
        calibrations=() if measured is None else measured.calibrations,
        workers=request.workers,
        load=load_parameters(request.profile, round_s, rounds, request.scale),
    )


def _summary_of(request: PerfRequest, measured: Measured, meta: dict[str, Any]) -> dict[str, Any]:
    return summary(request.profile, pooled_figures(measured.rounds), measured.figures, meta)


def _write_summary(path: Path, data: dict[str, Any], kind: str) -> None:
    """The summary file, and the same figures in the history (what `testkit perf trends` and
    the dashboard's perf trends read)."""
    write_json(path, data)
    print(record_in_history(Path.cwd(), data, kind=kind), flush=True)


def _verdict(
    request: PerfRequest,
    result: gate.PerfResult,
    path: Path,
    baseline_label: str,
    *,
    costs: cost.CostCheck,
    **extra: Any,
) -> int:
    # The cost per answer is one more row: over the ceiling, the verdict is a REGRESSION.
    result = replace(result, checks=(*result.checks, costs.metric_check()))
    print(format_table(result, baseline_label=baseline_label), flush=True)
    print(costs.line(), flush=True)
    write_json(path, {**result.as_dict(), "profile": request.profile.name, **extra})
    print(f"perf: wrote {path}", flush=True)
    if result.verdict is gate.PerfVerdict.REGRESSION:
        return 1
    if result.verdict is gate.PerfVerdict.INCONCLUSIVE:
        advice = "on a quieter machine" if result.mode == "ab" else "or use `make perf-ab`"
        side = "pairs" if result.mode == "ab" else "rounds"
        print(
            "perf: INCONCLUSIVE: limits exceeded without significance after "
            f"{result.current_rounds} {side}; rerun {advice}",
            flush=True,
        )
        return 1 if request.strict else 0
    return 0
