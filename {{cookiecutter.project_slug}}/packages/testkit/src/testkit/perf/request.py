"""What a `testkit perf` command was asked to do: one frozen request, built once from the
command line (and the PROFILE, PERF_* and TEST_* variables behind its defaults) and checked
there, so the rest of the perf tier never sees argparse."""

from __future__ import annotations

import argparse
import math
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit.perf.profiles import Profile, parse_scale, resolve_profile
from testkit.project_settings import BY_KEY
from testkit.usage import UsageError


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    """How to start the service under load (make passes these when the project has one)."""

    app: str | None
    service_dir: Path
    migrate: tuple[str, ...]
    server_env: tuple[str, ...]
    admin_token_env: str
    drop_env_prefix: str
    health_path: str


@dataclass(frozen=True, slots=True)
class PerfRequest:
    command: str
    profile: Profile
    scale: str | None
    locustfile: Path
    workers: int
    base_url: str | None
    admin_token: str | None
    service: ServiceOptions
    reports_dir: Path
    baselines_dir: Path
    pyproject: Path
    # baseline and gate: rounds; gate: the cap while inconclusive.
    rounds: int | None = None
    round_seconds: float | None = None
    max_rounds: int = 9
    # ab (and the gate when it compares with a revision): the base revision and its pairs.
    base: str | None = None
    pairs: int = 6
    max_pairs: int = 30
    alpha: float = 0.05
    strict: bool = False
    # PERF_COST_CEILING: USD per answer; None: [tool.testkit] perf_cost_ceiling.
    cost_ceiling: float | None = None

    @property
    def baseline_path(self) -> Path:
        return self.baselines_dir / f"{self.profile.name}.json"

    def out_dir(self, *parts: str) -> Path:
        return self.reports_dir.joinpath(self.profile.name, *parts)

    def round_s(self, recorded: float | None = None) -> float:
        """The length of one round: --round-seconds, else the baseline's, else the profile's."""
        return self.round_seconds or recorded or float(self.profile.round_s)


def _positive(value: float | None, flag: str) -> None:
    if value is not None and not value > 0:
        raise UsageError(f"{flag} must be above 0, got {value:g}")


def request_from(arguments: argparse.Namespace) -> PerfRequest:
    """The request of one parsed command line; bad values are refused naming the option."""
    profile = resolve_profile(arguments.profile, scale=parse_scale(arguments.scale))
    if arguments.workers < 0:
        raise UsageError(f"PERF_WORKERS must be 0 or more, got {arguments.workers}")
    given = vars(arguments)

    def get(name: str, default: Any = None) -> Any:
        value = given.get(name)
        return default if value is None else value

    request = PerfRequest(
        command=arguments.perf_command,
        profile=profile,
        scale=arguments.scale,
        locustfile=arguments.locustfile,
        workers=arguments.workers,
        base_url=(arguments.base_url or "").rstrip("/") or None,
        admin_token=arguments.admin_token,
        service=ServiceOptions(
            app=arguments.app,
            service_dir=arguments.service_dir,
            migrate=tuple(shlex.split(arguments.migrate)),
            server_env=tuple(shlex.split(arguments.server_env)),
            admin_token_env=arguments.admin_token_env,
            drop_env_prefix=arguments.drop_env_prefix,
            health_path=arguments.health_path,
        ),
        reports_dir=arguments.reports_dir,
        baselines_dir=arguments.baselines_dir,
        pyproject=arguments.pyproject,
        rounds=get("rounds"),
        round_seconds=get("round_seconds"),
        max_rounds=get("max_rounds", 9),
        base=get("base", "").strip() or None,
        pairs=get("pairs", 6),
        max_pairs=get("max_pairs", 30),
        alpha=get("alpha", 0.05),
        strict=bool(get("strict", False)),
        cost_ceiling=get("cost_ceiling"),
    )
    _check(request)
    return request


def _check(request: PerfRequest) -> None:
    _positive(request.round_seconds, "--round-seconds")
    ceiling = BY_KEY["perf_cost_ceiling"]
    if request.cost_ceiling is not None and not ceiling.accepts(request.cost_ceiling):
        raise UsageError(
            f"PERF_COST_CEILING (--cost-ceiling) must be {ceiling.allowed} (USD per answer), "
            f"got {request.cost_ceiling:g}"
        )
    if not 0.0 < request.alpha < 1.0:
        raise UsageError(f"--alpha must be between 0 and 1, got {request.alpha:g}")
    if request.command == "baseline" and request.rounds is not None and request.rounds < 3:
        raise UsageError(f"--rounds must be at least 3 for the statistics, got {request.rounds}")
    if request.command == "ab" and request.base is None:
        raise UsageError("perf-ab needs the base revision: BASE=<git ref>, e.g. BASE=main")
    if request.base is not None and request.base_url:
        raise UsageError("a comparison with BASE starts both revisions itself; unset TEST_BASE_URL")
    if request.command in {"gate", "ab"}:  # the gate pairs too when the machine differs
        if 0.5**request.pairs >= request.alpha:  # Wilcoxon's one-sided floor: all pairs agree
            raise UsageError(
                f"--pairs {request.pairs} can never reach significance: the smallest possible "
                f"p is {0.5**request.pairs:g}, not below alpha {request.alpha:g}; use at least "
                f"{math.floor(math.log2(1 / request.alpha)) + 1} pairs"
            )
        if request.max_pairs < request.pairs:
            raise UsageError(f"--max-pairs {request.max_pairs} is below --pairs {request.pairs}")
