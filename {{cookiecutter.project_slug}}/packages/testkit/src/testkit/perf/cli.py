"""`testkit perf run|baseline|gate|ab`: the perf tier's commands (make perf, perf-baseline,
performance-gate, perf-ab drive them).

Each command resolves the profile first (an unknown one is refused in one line), then gets a
target: TEST_BASE_URL (with TEST_ADMIN_TOKEN), or the service started here against testkit's
infrastructure. Long runs print one line per round.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from testkit.perf import gate, metadata
from testkit.perf.figures import WindowFigures, window_figures
from testkit.perf.profiles import Profile, ProfileError, parse_scale, resolve_profile
from testkit.perf.runner import LoadError, LoadRun, Round, measure_round, pooled_figures, run_load
from testkit.perf.stats import StatsUnavailable
from testkit.perf.target import (
    ServerSpec,
    TargetError,
    infrastructure,
    live_service,
    parse_env_pairs,
)
from testkit.server import ServerStartError

GATE_REPORT = Path("reports") / "performance-gate.json"
AB_REPORT = Path("reports") / "perf-ab.json"
EXTRA_ROUNDS = 2


class PerfUsageError(ValueError):
    """Bad input to a perf command; printed as one line, exit 2."""


@dataclass(frozen=True, slots=True)
class Target:
    base_url: str
    admin_token: str
    setup_cache: Path | None = None


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    perf = commands.add_parser(
        "perf",
        help="load profiles, baselines, the performance gate and A/B runs (locust)",
        description=__doc__,
    )
    sub = perf.add_subparsers(dest="perf_command", required=True, metavar="PERF_COMMAND")
    run = sub.add_parser("run", help="one headless locust run: CSV, HTML and summary.json")
    baseline = sub.add_parser("baseline", help="repeated rounds written as the profile's baseline")
    check = sub.add_parser("gate", help="rounds now vs the baseline: exit 1 on a regression")
    ab = sub.add_parser("ab", help="base revision vs working tree, both loaded at once, paired")
    for parser in (run, baseline, check, ab):
        _common_arguments(parser)
    for parser in (baseline, check):
        parser.add_argument(
            "--rounds",
            type=int,
            default=None,
            help="rounds to run (default: 5, or the baseline's for the gate)",
        )
        parser.add_argument(
            "--round-seconds",
            type=float,
            default=None,
            help="length of one round (default: the profile's round_s)",
        )
    check.add_argument(
        "--max-rounds",
        type=int,
        default=9,
        help="while a metric is inconclusive, add rounds up to this many",
    )
    ab.add_argument("--base", required=True, help="git ref of the base revision (e.g. main, HEAD)")
    ab.add_argument("--pairs", type=int, default=6, help="base/candidate round pairs to run")
    ab.add_argument(
        "--max-pairs",
        type=int,
        # Only an undecided run uses these; a decided one stops after --pairs. Both sides of a
        # pair run at once, so 30 pairs take about the time 15 took when they ran in turn.
        default=30,
        help="while a metric is inconclusive or not yet shown within its limit, add pairs up "
        "to this many (default 30)",
    )
    ab.add_argument(
        "--round-seconds",
        type=float,
        default=None,
        help="length of one round (default: the profile's round_s)",
    )
    for parser in (check, ab):
        parser.add_argument(
            "--alpha",
            type=float,
            default=gate.DEFAULT_ALPHA,
            help="significance level of the one-sided tests (default 0.05)",
        )
        parser.add_argument(
            "--strict", action="store_true", help="also exit 1 when the verdict is INCONCLUSIVE"
        )
    run.set_defaults(handler=_guarded(_run))
    baseline.set_defaults(handler=_guarded(_baseline))
    check.set_defaults(handler=_guarded(_gate))
    ab.set_defaults(handler=_guarded(_ab))


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        default=os.environ.get("PROFILE") or "smoke",
        help="smoke, baseline, stress or spike (default smoke)",
    )
    parser.add_argument(
        "--scale",
        default=os.environ.get("PERF_SCALE"),
        help="PERF_SCALE: users and spawn rate times this, in (0, 1]",
    )
    parser.add_argument("--locustfile", type=Path, default=Path("tests/perf/locustfile.py"))
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("PERF_WORKERS") or 0),
        help="PERF_WORKERS: locust --master with this many --worker processes",
    )
    parser.add_argument(
        "--base-url",
        default=os.environ.get("TEST_BASE_URL") or None,
        help="TEST_BASE_URL: load an already running deployment instead",
    )
    parser.add_argument(
        "--admin-token",
        default=os.environ.get("TEST_ADMIN_TOKEN") or None,
        help="TEST_ADMIN_TOKEN: the deployment's admin token (with --base-url)",
    )
    parser.add_argument("--app", default=None, help="app factory for uvicorn --factory")
    parser.add_argument("--service-dir", type=Path, default=Path("services/api"))
    parser.add_argument("--migrate", default="", help="migration command run in --service-dir")
    parser.add_argument(
        "--server-env",
        default="",
        help="NAME=VALUE words for the server; {postgres} {redis} {nats} "
        "{prefix} {secret} are filled in",
    )
    parser.add_argument(
        "--admin-token-env",
        default="",
        help="the server variable holding the admin token (its value is used)",
    )
    parser.add_argument(
        "--drop-env-prefix",
        default="",
        help="variables with this prefix are not inherited by the server",
    )
    parser.add_argument("--health-path", default="/healthz")
    parser.add_argument("--reports-dir", type=Path, default=Path("locust-reports"))
    parser.add_argument("--baselines-dir", type=Path, default=Path("perf/baselines"))
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(arguments: argparse.Namespace) -> int:
        try:
            return handler(arguments)
        except (PerfUsageError, ProfileError, gate.LimitsError) as error:
            print(f"testkit perf: {error}", flush=True)
            return 2
        except (TargetError, ServerStartError, LoadError, StatsUnavailable) as error:
            print(f"testkit perf: {error}", flush=True)
            return 3

    return run


def _profile(arguments: argparse.Namespace) -> Profile:
    return resolve_profile(arguments.profile, scale=parse_scale(arguments.scale))


def _server_spec(arguments: argparse.Namespace, root: Path | None = None) -> ServerSpec:
    if not arguments.app:
        raise PerfUsageError(
            "no service to start: pass --app module:factory (make does, when the project has "
            "a service) or point TEST_BASE_URL at a running one"
        )
    here = Path.cwd() if root is None else root
    service_dir = here / arguments.service_dir
    return ServerSpec(
        app=arguments.app,
        service_dir=service_dir,
        env_template=parse_env_pairs(shlex.split(arguments.server_env)),
        migrate=tuple(shlex.split(arguments.migrate)),
        python_path=() if root is None else (service_dir / "src",),
        cwd=here,
        health_path=arguments.health_path,
        drop_env_prefixes=(arguments.drop_env_prefix,) if arguments.drop_env_prefix else (),
    )


def _admin_token_of(arguments: argparse.Namespace, spec: ServerSpec, secret: str) -> str:
    name = arguments.admin_token_env
    if not name:
        return secret
    if name not in spec.env_template:
        raise PerfUsageError(f"--admin-token-env {name} is not set by --server-env")
    return spec.env_template[name].replace("{secret}", secret)


@contextlib.contextmanager
def _targets(
    arguments: argparse.Namespace, specs: dict[str, ServerSpec]
) -> Iterator[dict[str, Target]]:
    """The services to load, by label: TEST_BASE_URL, or each spec started here."""
    if arguments.base_url and len(specs) <= 1:
        if not arguments.admin_token:
            raise PerfUsageError(
                "TEST_BASE_URL needs TEST_ADMIN_TOKEN (the deployment's admin "
                "token) to create the load's tenants"
            )
        yield {
            label: Target(arguments.base_url.rstrip("/"), arguments.admin_token)
            for label in (list(specs) or ["candidate"])
        }
        return
    logs = arguments.reports_dir / arguments.profile
    with infrastructure() as infra, contextlib.ExitStack() as stack:
        targets: dict[str, Target] = {}
        for label, spec in specs.items():
            service = stack.enter_context(
                live_service(spec, infra, log_path=logs / f"server-{label}.log", label=label)
            )
            cache = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="perf-setup-")))
            targets[label] = Target(
                service.base_url, _admin_token_of(arguments, spec, service.secret), cache
            )
            print(
                f"perf: {label} server at {service.base_url} (log {service.server.log_path})",
                flush=True,
            )
        yield targets


def _specs(arguments: argparse.Namespace) -> dict[str, ServerSpec]:
    return {} if arguments.base_url else {"candidate": _server_spec(arguments)}


def _load(
    arguments: argparse.Namespace,
    profile: Profile,
    target: Target,
    run_time_s: float,
    **flags: bool,
) -> LoadRun:
    if not arguments.locustfile.is_file():
        raise PerfUsageError(f"no locustfile at {arguments.locustfile}")
    if arguments.workers < 0:
        raise PerfUsageError(f"PERF_WORKERS must be 0 or more, got {arguments.workers}")
    return LoadRun(
        arguments.locustfile,
        profile,
        target.base_url,
        target.admin_token,
        run_time_s,
        workers=arguments.workers,
        setup_cache=target.setup_cache,
        **flags,
    )


def _summary(
    profile: Profile, whole: WindowFigures, rounds: Sequence[WindowFigures], meta: dict[str, Any]
) -> dict[str, Any]:
    return {
        "profile": profile.name,
        "duration_s": round(whole.duration_s, 3),
        "users": profile.users,
        "total": whole.total.as_dict(),
        "endpoints": {name: f.as_dict() for name, f in whole.endpoints.items()},
        "rounds": [r.as_dict() for r in rounds],
        "metadata": meta,
    }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _load_parameters(
    profile: Profile, round_s: float, rounds: int, scale: str | None
) -> dict[str, Any]:
    return {
        "users": profile.users,
        "spawn_rate": profile.spawn_rate,
        "round_s": round_s,
        "warmup_s": profile.warmup_s,
        "rounds": rounds,
        "scale": scale,
    }


def _round_line(prefix: str, figures: WindowFigures) -> str:
    total = figures.total

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    return (
        f"{prefix}: {total.rps:.1f} req/s, p50 {ms(total.p50_ms)} ms, "
        f"p95 {ms(total.p95_ms)} ms, p99 {ms(total.p99_ms)} ms, "
        f"errors {total.error_rate:.2%} ({total.requests} requests)"
    )


def _run(arguments: argparse.Namespace) -> int:
    profile = _profile(arguments)
    out_dir = arguments.reports_dir / profile.name
    with _targets(arguments, _specs(arguments)) as targets:
        target = next(iter(targets.values()))
        load = _load(arguments, profile, target, profile.run_time_s, csv=True, html=True)
        print(
            f"perf: profile {profile.name}: {profile.users} users, {profile.spawn_rate:g}/s, "
            f"{profile.run_time_s}s against {target.base_url}",
            flush=True,
        )
        samples = run_load(load, out_dir, echo=True)
    whole = window_figures(samples, start_s=0.0, end_s=float(profile.run_time_s))
    meta = metadata.run_metadata(
        Path.cwd(),
        workers=arguments.workers,
        load=_load_parameters(profile, profile.run_time_s, 1, arguments.scale),
    )
    _write_json(out_dir / "summary.json", _summary(profile, whole, [], meta))
    print(_round_line(f"perf {profile.name}", whole), flush=True)
    print(f"perf: wrote {out_dir}/summary.json, report.html, locust_*.csv, samples.csv", flush=True)
    return 0


def _rounds(
    arguments: argparse.Namespace,
    profile: Profile,
    target: Target,
    round_s: float,
    count: int,
    out_dir: Path,
    label: str,
    start: int = 0,
) -> list[Round]:
    measured = []
    for index in range(start, start + count):
        load = replace(_load(arguments, profile, target, round_s), from_first_request=True)
        result = measure_round(load, out_dir / f"round-{index + 1:02d}")
        print(_round_line(f"{label} round {index + 1}", result.figures), flush=True)
        measured.append(result)
    return measured


def _baseline(arguments: argparse.Namespace) -> int:
    profile = _profile(arguments)
    rounds = arguments.rounds or 5
    if rounds < 3:
        raise PerfUsageError(f"--rounds must be at least 3 for the statistics, got {rounds}")
    round_s = arguments.round_seconds or profile.round_s
    out_dir = arguments.reports_dir / profile.name / "baseline"
    with _targets(arguments, _specs(arguments)) as targets:
        target = next(iter(targets.values()))
        measured = _rounds(arguments, profile, target, round_s, rounds, out_dir, "baseline")
    meta = metadata.run_metadata(
        Path.cwd(),
        workers=arguments.workers,
        load=_load_parameters(profile, round_s, rounds, arguments.scale),
    )
    summary = _summary(profile, pooled_figures(measured), [m.figures for m in measured], meta)
    path = arguments.baselines_dir / f"{profile.name}.json"
    _write_json(path, summary)
    print(
        f"perf: wrote {path} ({rounds} rounds of {round_s:g}s, commit {meta['commit']})", flush=True
    )
    return 0


def _read_baseline(path: Path) -> tuple[dict[str, Any], list[WindowFigures]]:
    if not path.is_file():
        raise PerfUsageError(
            f"no baseline at {path}: record one with `make perf-baseline PROFILE={path.stem}`"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rounds = [WindowFigures.from_dict(r) for r in data["rounds"]]
    except (ValueError, KeyError, TypeError) as error:
        raise PerfUsageError(f"{path} is not a perf baseline ({error!r}); re-record it") from error
    if len(rounds) < 3:
        raise PerfUsageError(f"{path} has {len(rounds)} rounds; the gate needs at least 3")
    return data, rounds


def _report(
    result: gate.GateResult,
    arguments: argparse.Namespace,
    path: Path,
    baseline_label: str,
    **extra: Any,
) -> int:
    print(gate.format_table(result, baseline_label=baseline_label), flush=True)
    _write_json(path, {**result.as_dict(), "profile": arguments.profile, **extra})
    print(f"perf: wrote {path}", flush=True)
    if result.verdict is gate.Verdict.REGRESSION:
        return 1
    if result.verdict is gate.Verdict.INCONCLUSIVE:
        advice = "on a quieter machine" if result.mode == "ab" else "or use `make perf-ab`"
        print(
            "perf: INCONCLUSIVE: limits exceeded without significance after "
            f"{result.current_rounds} {'pairs' if result.mode == 'ab' else 'rounds'}; "
            f"rerun {advice}",
            flush=True,
        )
        return 1 if arguments.strict else 0
    return 0


def _gate(arguments: argparse.Namespace) -> int:
    _profile(arguments)  # an unknown profile is refused before anything starts
    limits = gate.load_limits(arguments.pyproject, alpha=arguments.alpha)
    baseline_path = arguments.baselines_dir / f"{arguments.profile}.json"
    data, baseline_rounds = _read_baseline(baseline_path)
    load = data.get("metadata", {}).get("load", {})
    profile = replace(
        resolve_profile(arguments.profile),
        users=int(load.get("users", resolve_profile(arguments.profile).users)),
        spawn_rate=float(load.get("spawn_rate", resolve_profile(arguments.profile).spawn_rate)),
        warmup_s=float(load.get("warmup_s", resolve_profile(arguments.profile).warmup_s)),
    )
    round_s = arguments.round_seconds or float(load.get("round_s", profile.round_s))
    rounds = arguments.rounds or len(baseline_rounds)
    # Mann-Whitney's one-sided floor: every current round beyond every baseline round.
    smallest_p = 1 / math.comb(len(baseline_rounds) + arguments.max_rounds, arguments.max_rounds)
    if smallest_p >= arguments.alpha:
        raise PerfUsageError(
            f"{len(baseline_rounds)} baseline rounds and --max-rounds {arguments.max_rounds} can "
            f"never reach significance (smallest p {smallest_p:.3g} >= alpha "
            f"{arguments.alpha:g}); record a baseline with more rounds"
        )
    out_dir = arguments.reports_dir / profile.name / "gate"
    print(
        f"perf gate: {baseline_path} ({len(baseline_rounds)} rounds, commit "
        f"{data.get('metadata', {}).get('commit')}); {profile.users} users, "
        f"{round_s:g}s rounds",
        flush=True,
    )
    with _targets(arguments, _specs(arguments)) as targets:
        target = next(iter(targets.values()))
        measured = _rounds(arguments, profile, target, round_s, rounds, out_dir, "gate")
        result = gate.compare_to_baseline(baseline_rounds, [m.figures for m in measured], limits)
        while result.verdict is gate.Verdict.INCONCLUSIVE and len(measured) < arguments.max_rounds:
            extra = min(EXTRA_ROUNDS, arguments.max_rounds - len(measured))
            print(
                f"perf gate: inconclusive ({', '.join(c.label for c in result.inconclusive)})"
                f": {extra} more round(s)",
                flush=True,
            )
            measured += _rounds(
                arguments, profile, target, round_s, extra, out_dir, "gate", start=len(measured)
            )
            result = gate.compare_to_baseline(
                baseline_rounds, [m.figures for m in measured], limits
            )
    meta = metadata.run_metadata(
        Path.cwd(),
        workers=arguments.workers,
        load=_load_parameters(profile, round_s, len(measured), arguments.scale),
    )
    summary = _summary(profile, pooled_figures(measured), [m.figures for m in measured], meta)
    _write_json(arguments.reports_dir / profile.name / "summary.json", summary)
    return _report(result, arguments, GATE_REPORT, "baseline", baseline=str(baseline_path))


def _git(arguments: Sequence[str], cwd: Path) -> str:
    try:
        result = subprocess.run(
            ["git", *arguments], cwd=cwd, capture_output=True, text=True, check=False
        )
    except OSError as error:
        raise PerfUsageError(f"perf-ab needs git: {error}") from error
    if result.returncode != 0:
        raise PerfUsageError(f"git {' '.join(arguments)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


@contextlib.contextmanager
def _base_worktree(ref: str) -> Iterator[tuple[Path, str]]:
    """The base revision checked out in a temporary git worktree: (its project root, commit)."""
    here = Path.cwd().resolve()
    toplevel = Path(_git(["rev-parse", "--show-toplevel"], here)).resolve()
    try:
        commit = _git(["rev-parse", "--verify", "--quiet", ref + "^{commit}"], here)
    except PerfUsageError:
        raise PerfUsageError(
            f"BASE={ref!r} is not a commit of this repository (try a branch, tag or commit id)"
        ) from None
    parent = Path(tempfile.mkdtemp(prefix="perf-ab-"))
    worktree = parent / "base"
    _git(["worktree", "add", "--detach", "--quiet", str(worktree), commit], toplevel)
    try:
        yield worktree / here.relative_to(toplevel), commit
    finally:
        with contextlib.suppress(PerfUsageError):
            _git(["worktree", "remove", "--force", str(worktree)], toplevel)
        shutil.rmtree(parent, ignore_errors=True)
        with contextlib.suppress(PerfUsageError):
            _git(["worktree", "prune"], toplevel)


def _undecided_line(result: gate.GateResult) -> str:
    """Why perf-ab goes on: what is inconclusive, and what passes but not yet surely."""
    parts = []
    if result.verdict is gate.Verdict.INCONCLUSIVE:
        labels = result.as_dict()["inconclusive"]
        parts.append(f"inconclusive ({', '.join(labels)})")
    if result.undecided:
        changes = ", ".join(
            f"{c.label} {c.change_pct:+.1f}% of {c.limit_pct:g}%" for c in result.undecided
        )
        parts.append(f"not yet shown within the limit ({changes})")
    return "; ".join(parts)


def _ab(arguments: argparse.Namespace) -> int:
    profile = _profile(arguments)
    limits = gate.load_limits(arguments.pyproject, alpha=arguments.alpha)
    if not arguments.base.strip():
        raise PerfUsageError("perf-ab needs the base revision: BASE=<git ref>, e.g. BASE=main")
    smallest_p = 0.5**arguments.pairs  # Wilcoxon's one-sided floor: every pair agrees
    if smallest_p >= arguments.alpha:
        raise PerfUsageError(
            f"--pairs {arguments.pairs} can never reach significance: the smallest possible "
            f"p is {smallest_p:g}, not below alpha {arguments.alpha:g}; use at least "
            f"{math.floor(math.log2(1 / arguments.alpha)) + 1} pairs"
        )
    if arguments.base_url:
        raise PerfUsageError("perf-ab starts both revisions itself; unset TEST_BASE_URL")
    round_s = arguments.round_seconds or profile.round_s
    out_dir = arguments.reports_dir / profile.name / "ab"
    with _base_worktree(arguments.base) as (base_root, commit):
        print(
            f"perf-ab: base {arguments.base} ({commit[:12]}) in {base_root}; "
            f"candidate: the working tree; {profile.users} users, {round_s:g}s rounds",
            flush=True,
        )
        specs = {"base": _server_spec(arguments, base_root), "candidate": _server_spec(arguments)}
        with _targets(arguments, specs) as targets:
            base: list[Round] = []
            candidate: list[Round] = []

            def pair(index: int) -> None:
                # Both rounds of a pair run at the same time, each its own locust against its
                # own server: whatever the machine does during the pair (another process, a
                # slow disk, CPU frequency) hits both sides within the same seconds. Which side
                # starts first alternates (AB, BA, ...).
                order = ("base", "candidate") if index % 2 == 0 else ("candidate", "base")
                with ThreadPoolExecutor(max_workers=2) as pool:
                    running = {
                        label: pool.submit(
                            measure_round,
                            replace(
                                _load(arguments, profile, targets[label], round_s),
                                from_first_request=True,
                            ),
                            out_dir / f"pair-{index + 1:02d}-{label}",
                        )
                        for label in order
                    }
                    results = {label: future.result() for label, future in running.items()}
                base.append(results["base"])
                candidate.append(results["candidate"])
                b, c = results["base"].figures.total, results["candidate"].figures.total
                print(
                    f"perf-ab pair {index + 1}: base p50 {b.p50_ms or 0:.1f} ms "
                    f"{b.rps:.1f} req/s | candidate p50 {c.p50_ms or 0:.1f} ms "
                    f"{c.rps:.1f} req/s",
                    flush=True,
                )

            for index in range(arguments.pairs):
                pair(index)
            result = gate.compare_pairs(
                [r.figures for r in base], [r.figures for r in candidate], limits
            )
            while len(base) < arguments.max_pairs and result.needs_more_pairs:
                print(f"perf-ab: {_undecided_line(result)}: one more pair", flush=True)
                pair(len(base))
                result = gate.compare_pairs(
                    [r.figures for r in base], [r.figures for r in candidate], limits
                )
    return _report(
        result,
        arguments,
        AB_REPORT,
        "base",
        base=arguments.base,
        base_commit=commit,
        pairs={
            "base": [r.figures.as_dict() for r in base],
            "candidate": [r.figures.as_dict() for r in candidate],
            # When each side's locust ran (epoch seconds): the two of a pair overlap.
            "wall_clock": [
                {"base": b.wall_clock, "candidate": c.wall_clock}
                for b, c in zip(base, candidate, strict=True)
            ],
        },
    )
