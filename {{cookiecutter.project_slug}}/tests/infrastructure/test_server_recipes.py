"""Each server recipe this project uses starts a real server that answers its health check.

One start per kind, through the killable-server fixtures the chaos tier uses (the recipes of
testkit.infra.server_recipes): the local-binary source and the chaos tests rely on them.
"""

from __future__ import annotations

import pytest

from testkit.infra import installed_services
from testkit.infra.readiness import nats_answers, postgres_answers, redis_answers
from testkit.infra.server_processes import HOST, KillableServer


@pytest.mark.parametrize("kind", installed_services())
def test_the_recipe_starts_a_server_that_answers(kind: str, request: pytest.FixtureRequest) -> None:
    server: KillableServer = request.getfixturevalue(f"ephemeral_{kind}")
    assert server.running
    probe = {
        "postgres": lambda: postgres_answers(server.url),
        "redis": lambda: redis_answers(server.url),
        "nats": lambda: nats_answers(HOST, server.port),
    }[kind]()
    probe()  # raises when the server does not answer its protocol's health check
