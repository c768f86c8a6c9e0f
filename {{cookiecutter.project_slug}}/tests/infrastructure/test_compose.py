"""docker-compose.test.yml agrees with testkit: services, images, ports and health checks."""

from __future__ import annotations

from pathlib import Path

from testkit.consistency.compose import compose_problems, infra_env_urls, parse_compose
from testkit.infra import installed_services
from testkit.infra.testcontainers import SPECS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.test.yml"


def test_the_compose_file_starts_what_testkit_would_start() -> None:
    services = parse_compose(COMPOSE.read_text(encoding="utf-8"), source=COMPOSE.name)
    infra_urls = infra_env_urls((ROOT / "make" / "testing.mk").read_text(encoding="utf-8"))
    problems = compose_problems(
        services, used=installed_services(), specs=SPECS, infra_urls=infra_urls
    )
    assert problems == [], "\n".join(problems)
