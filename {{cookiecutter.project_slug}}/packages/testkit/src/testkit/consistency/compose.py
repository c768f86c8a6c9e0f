"""docker-compose.test.yml against testkit: the same services, images, ports and health checks.

The compose file (for `make infra-up`), the testcontainers source (testkit.infra.testcontainers
SPECS) and the URLs `make infra-up` writes to .testkit/infra.env must name the same image tag
and port for each service, or a Docker user tests against another version than CI does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

from testkit.infra.testcontainers import ContainerSpec

# What a service's compose health check must run: the probe that answers for that kind.
HEALTH_PROBES: dict[str, str] = {"postgres": "pg_isready", "redis": "redis-cli", "nats": "/healthz"}
_INFRA_ENV_LINE = re.compile(r"TEST_([A-Z]+)_URL=([^'\"\s]+)")


class ComposeError(ValueError):
    """The compose file cannot be read as compose services (one line naming the file)."""


@dataclass(frozen=True, slots=True)
class ComposeService:
    name: str
    image: str
    ports: tuple[tuple[int, int], ...]  # (host port, container port)
    health_test: tuple[str, ...]
    command: tuple[str, ...]


def _port_pair(raw: object, where: str) -> tuple[int, int]:
    # "127.0.0.1:5432:5432", "5432:5432" or "5432"
    parts = str(raw).split(":")
    try:
        container = int(parts[-1].split("/")[0])
        host = int(parts[-2]) if len(parts) >= 2 else container
    except ValueError:
        raise ComposeError(f"{where}: port {raw!r} is not HOST:CONTAINER") from None
    return host, container


def _words(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return tuple(raw.split())
    return tuple(str(word) for word in raw)


def parse_compose(text: str, *, source: str) -> dict[str, ComposeService]:
    """The services of a compose file; ComposeError when it is not one."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ComposeError(f"{source}: not valid YAML ({str(error).splitlines()[0]})") from None
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict) or not services:
        raise ComposeError(f"{source}: no services: mapping")
    parsed: dict[str, ComposeService] = {}
    for name, raw in services.items():
        where = f"{source}: service {name}"
        if isinstance(raw, dict) and raw.get("profiles"):
            continue  # opt-in (e.g. profile "monitoring"): not what `make infra-up` starts
        if not isinstance(raw, dict) or not isinstance(raw.get("image"), str):
            raise ComposeError(f"{where}: needs an image")
        health: Any = raw.get("healthcheck") or {}
        parsed[name] = ComposeService(
            name=name,
            image=raw["image"],
            ports=tuple(_port_pair(port, where) for port in raw.get("ports") or ()),
            health_test=_words(health.get("test") if isinstance(health, dict) else None),
            command=_words(raw.get("command")),
        )
    return parsed


def infra_env_urls(makefile_text: str) -> dict[str, str]:
    """service -> URL of the TEST_<SERVICE>_URL lines `make infra-up` writes."""
    return {name.lower(): url for name, url in _INFRA_ENV_LINE.findall(makefile_text)}


def compose_problems(
    services: Mapping[str, ComposeService],
    *,
    used: Sequence[str],
    specs: Mapping[Any, ContainerSpec],
    infra_urls: Mapping[str, str],
) -> list[str]:
    """Every disagreement between the compose file and testkit, one line each."""
    problems: list[str] = []
    if set(services) != set(used):
        problems.append(
            f"compose services {sorted(services)} differ from the services this project uses "
            f"{sorted(used)}"
        )
    for name in sorted(set(services) & set(used)):
        service, spec = services[name], specs[name]
        if service.image != spec.image:
            problems.append(
                f"{name}: compose image {service.image} but testcontainers starts {spec.image}"
            )
        if spec.port not in {container for _, container in service.ports}:
            problems.append(f"{name}: compose does not publish container port {spec.port}")
        url = infra_urls.get(name)
        host_ports = {host for host, container in service.ports if container == spec.port}
        if url is None:
            problems.append(f"{name}: make infra-up writes no TEST_{name.upper()}_URL")
        elif urlsplit(url).port not in host_ports:
            problems.append(
                f"{name}: make infra-up points at port {urlsplit(url).port} but compose "
                f"publishes {sorted(host_ports)}"
            )
        problems += _health_problems(service)
        if name == "nats" and "-js" not in service.command:
            problems.append("nats: compose command lacks -js (JetStream), which testkit starts")
    return problems


def _health_problems(service: ComposeService) -> list[str]:
    probe = HEALTH_PROBES.get(service.name)
    test = " ".join(service.health_test)
    if not service.health_test:
        return [f"{service.name}: no healthcheck (infra-up --wait would not wait for it)"]
    if probe is not None and probe not in test:
        return [f"{service.name}: healthcheck {test!r} does not run {probe}"]
    if service.name == "nats":
        monitor = re.search(r":(\d+)/healthz", test)
        command = " ".join(service.command)
        if monitor is None or f"-m {monitor.group(1)}" not in command:
            return [f"nats: healthcheck {test!r} probes a monitoring port the command lacks (-m)"]
    return []


def image_problems(
    where: str, images: Sequence[tuple[str, str]], specs: Mapping[Any, ContainerSpec]
) -> list[str]:
    """(service, image) pairs found elsewhere (a workflow) against testcontainers' images."""
    return [
        f"{where}: {service} image {image} but testcontainers starts {specs[service].image}"
        for service, image in images
        if service in specs and image != specs[service].image
    ]
