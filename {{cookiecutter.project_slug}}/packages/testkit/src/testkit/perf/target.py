"""The service under load: infrastructure resolved as the tests resolve it, a fresh migrated
database, and the app in a real uvicorn process.

Generic over the service: the caller names the app factory, the directory its migrations run
in, the migration command and the server's environment, where ``{postgres}``, ``{redis}``,
``{nats}``, ``{prefix}`` (unique per server: key and subject prefixes) and ``{secret}`` (a fresh
random token, e.g. the admin token) are filled in. Everything made is removed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from testkit import isolation, options
from testkit.infra import InfraManager, ServiceUnavailable, default_sources, installed_services
from testkit.server import RunningServer, run_uvicorn


class TargetError(RuntimeError):
    """The service could not be prepared or started; the message says which step failed."""


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """How to run one revision of the service."""

    app: str
    service_dir: Path
    env_template: Mapping[str, str]
    migrate: Sequence[str] = ()
    python_path: Sequence[Path] = ()
    cwd: Path | None = None
    health_path: str = "/healthz"
    drop_env_prefixes: Sequence[str] = ()
    uvicorn_args: Sequence[str] = field(default=("--no-access-log", "--log-level", "warning"))


@dataclass(frozen=True, slots=True)
class LiveService:
    server: RunningServer
    secret: str

    @property
    def base_url(self) -> str:
        return self.server.base_url


def parse_env_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """NAME=VALUE words (PERF_SERVER_ENV) as a mapping; a word without '=' is refused."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise TargetError(f"server environment entries must be NAME=VALUE, got {pair!r}")
        parsed[name] = value
    return parsed


@contextlib.contextmanager
def infrastructure() -> Iterator[dict[str, str]]:
    """URLs of every installed service (TEST_*_URL, testcontainers or local binaries)."""
    urls = {
        service: options.env_setting(setting) for service, setting in options.URL_SETTINGS.items()
    }
    manager = InfraManager(default_sources(urls), installed_services())
    try:
        endpoints: dict[str, str] = {}
        for service in manager.services:
            try:
                endpoints[service] = manager.endpoint(service).url
            except ServiceUnavailable as error:
                raise TargetError(f"perf needs {service}: {error}") from error
            print(f"perf: {service}: {manager.resolution(service).describe()}", flush=True)
        yield endpoints
    finally:
        manager.stop_all()


def _fill(template: Mapping[str, str], values: Mapping[str, str]) -> dict[str, str]:
    try:
        return {name: value.format_map(values) for name, value in template.items()}
    except KeyError as error:
        placeholder = "{" + str(error.args[0]) + "}"
        available = ", ".join("{" + key + "}" for key in values)
        raise TargetError(
            f"server environment uses {placeholder}; available: {available}"
        ) from error


def _migrate(spec: ServerSpec, env: Mapping[str, str]) -> None:
    if not spec.migrate:
        return
    result = subprocess.run(
        list(spec.migrate),
        cwd=spec.service_dir,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise TargetError(
            f"migration `{shlex.join(spec.migrate)}` in {spec.service_dir} failed "
            f"(exit {result.returncode}):\n{(result.stdout + result.stderr)[-2000:]}"
        )


def _delete_streams(nats_url: str, subject_prefix: str) -> None:
    """Drop the JetStream streams whose subjects start with the server's prefix (best effort)."""
    try:
        import nats
    except ImportError:
        return

    async def delete() -> None:
        client = await nats.connect(nats_url, allow_reconnect=False, connect_timeout=2)
        try:
            jetstream = client.jetstream()
            for info in await jetstream.streams_info():
                subjects = info.config.subjects or []
                if info.config.name and any(s.startswith(subject_prefix) for s in subjects):
                    await jetstream.delete_stream(info.config.name)
        finally:
            await client.close()

    with contextlib.suppress(Exception):  # cleanup must not hide the run's result
        asyncio.run(delete())


@contextlib.contextmanager
def live_service(
    spec: ServerSpec, infra: Mapping[str, str], *, log_path: Path, label: str
) -> Iterator[LiveService]:
    """A fresh database migrated to head and the app serving on a free loopback port."""
    prefix = isolation.unique_name(f"perf_{label}")
    secret = secrets.token_urlsafe(24)
    postgres = infra.get("postgres")
    database_url = ""
    created = False
    try:
        if postgres is not None:
            isolation.create_database(postgres, prefix)
            created = True
            database_url = isolation.with_database(postgres, prefix)
        values = {
            "postgres": database_url,
            "redis": infra.get("redis", ""),
            "nats": infra.get("nats", ""),
            "prefix": prefix,
            "secret": secret,
        }
        env = _fill(spec.env_template, values)
        if spec.python_path:
            env["PYTHONPATH"] = os.pathsep.join(
                [*(str(path) for path in spec.python_path), os.environ.get("PYTHONPATH", "")]
            ).rstrip(os.pathsep)
        _migrate(spec, {**os.environ, **env})
        with run_uvicorn(
            spec.app,
            log_path=log_path,
            env=env,
            drop_env_prefixes=spec.drop_env_prefixes,
            health_path=spec.health_path,
            cwd=spec.cwd,
            python=sys.executable,
            extra_args=spec.uvicorn_args,
        ) as server:
            yield LiveService(server=server, secret=secret)
    finally:
        if "redis" in infra:
            with contextlib.suppress(Exception):
                isolation.delete_redis_keys(infra["redis"], prefix)
        if "nats" in infra:
            _delete_streams(infra["nats"], prefix)
        if created and postgres is not None:
            with contextlib.suppress(Exception):
                isolation.drop_database(postgres, prefix)
