"""The services a perf command loads, by label: TEST_BASE_URL (a running deployment), or each
revision started here against testkit's infrastructure (target.live_service)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from testkit.perf.request import PerfRequest
from testkit.perf.runner import LoadRun
from testkit.perf.target import ServerSpec, infrastructure, live_service, parse_env_pairs
from testkit.usage import UsageError


@dataclass(frozen=True, slots=True)
class Target:
    base_url: str
    admin_token: str
    setup_cache: Path | None = None


def server_spec(request: PerfRequest, root: Path | None = None) -> ServerSpec:
    """How to start the service of the working tree, or of another checkout at ``root``."""
    service = request.service
    if not service.app:
        raise UsageError(
            "no service to start: pass --app module:factory (make does, when the project has "
            "a service) or point TEST_BASE_URL at a running one"
        )
    here = Path.cwd() if root is None else root
    service_dir = here / service.service_dir
    return ServerSpec(
        app=service.app,
        service_dir=service_dir,
        env_template=parse_env_pairs(service.server_env),
        migrate=service.migrate,
        python_path=() if root is None else (service_dir / "src",),
        cwd=here,
        health_path=service.health_path,
        drop_env_prefixes=(service.drop_env_prefix,) if service.drop_env_prefix else (),
    )


def _admin_token(request: PerfRequest, spec: ServerSpec, secret: str) -> str:
    name = request.service.admin_token_env
    if not name:
        return secret
    if name not in spec.env_template:
        raise UsageError(f"--admin-token-env {name} is not set by --server-env")
    return spec.env_template[name].replace("{secret}", secret)


def working_tree_specs(request: PerfRequest) -> dict[str, ServerSpec]:
    """The working tree's service, unless TEST_BASE_URL names a running one."""
    return {} if request.base_url else {"candidate": server_spec(request)}


@contextlib.contextmanager
def targets(request: PerfRequest, specs: Mapping[str, ServerSpec]) -> Iterator[dict[str, Target]]:
    """The services to load, by label: TEST_BASE_URL, or each spec started here."""
    if request.base_url and len(specs) <= 1:
        if not request.admin_token:
            raise UsageError(
                "TEST_BASE_URL needs TEST_ADMIN_TOKEN (the deployment's admin "
                "token) to create the load's tenants"
            )
        yield {
            label: Target(request.base_url, request.admin_token)
            for label in (list(specs) or ["candidate"])
        }
        return
    logs = request.out_dir()
    with infrastructure() as infra, contextlib.ExitStack() as stack:
        started: dict[str, Target] = {}
        for label, spec in specs.items():
            service = stack.enter_context(
                live_service(spec, infra, log_path=logs / f"server-{label}.log", label=label)
            )
            cache = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="perf-setup-")))
            started[label] = Target(
                service.base_url, _admin_token(request, spec, service.secret), cache
            )
            print(
                f"perf: {label} server at {service.base_url} (log {service.server.log_path})",
                flush=True,
            )
        yield started


def load_run(
    request: PerfRequest, target: Target, run_time_s: float, *, measured: bool = True
) -> LoadRun:
    """The locust run of one round (``measured``: timed from the first request) or of a whole
    `perf run` (with locust's CSV and HTML reports)."""
    if not request.locustfile.is_file():
        raise UsageError(f"no locustfile at {request.locustfile}")
    run = LoadRun(
        request.locustfile,
        request.profile,
        target.base_url,
        target.admin_token,
        run_time_s,
        workers=request.workers,
        setup_cache=target.setup_cache,
    )
    return replace(run, from_first_request=True) if measured else replace(run, csv=True, html=True)
