"""redis_outage: Redis crashes (SIGKILL) and comes back on the same port and data.

Proves: with Redis gone the service keeps serving: searches bypass the cache (and see every
write), the rate limiter fails open, or closed with a clean 503 when
APP_RATE_LIMIT_FAIL_OPEN=false, and /readyz says degraded (200, not 503); after the restart
the cache and the limiter work again without a service restart, no search serves an entry
cached before the outage, and every document written before, during and after is there.
"""

from __future__ import annotations

from dataclasses import replace

import redis

from _fixtures.chaos import (
    Dependencies,
    ServiceStarter,
    client_for,
    create_tenant,
    is_ready,
    listed_ids,
    readiness,
    stored_documents,
    wait_until,
    write_documents,
)
from testkit.chaos.servers import KillableServer


def test_redis_outage(
    ephemeral_redis: KillableServer,
    chaos_dependencies: Dependencies,
    chaos_service: ServiceStarter,
) -> None:
    dependencies = replace(chaos_dependencies, redis_url=ephemeral_redis.url)
    with (
        chaos_service(dependencies) as open_server,
        chaos_service(dependencies, RATE_LIMIT_FAIL_OPEN="false", RELAY_ENABLED="false") as closed,
        client_for(open_server) as client,
        client_for(closed) as closed_client,
    ):
        tenant = create_tenant(client)
        before = write_documents(client, tenant, ["alpha before"])

        def search(query: str) -> tuple[str, set[str]]:
            response = client.get("/search", params={"q": query}, headers=tenant.headers)
            assert response.status_code == 200, response.text
            return response.headers["X-Cache"], {hit["id"] for hit in response.json()["hits"]}

        assert search("alpha") == ("miss", set(before))
        assert search("alpha") == ("hit", set(before))

        ephemeral_redis.kill()

        # Degraded: writes and searches still served, cache bypassed, limiter open.
        during = write_documents(client, tenant, ["alpha during"])
        assert search("alpha") == ("bypass", {*before, *during})
        status, body = readiness(client)
        assert (status, body["status"], body["checks"]["redis"]) == (200, "degraded", "degraded")
        # Fail closed: a clean 503 naming the setting, not a 500.
        refused = closed_client.get("/documents", headers=tenant.headers)
        assert refused.status_code == 503, refused.text
        assert "APP_RATE_LIMIT_FAIL_OPEN" in refused.json()["detail"]

        ephemeral_redis.start()

        # Recovery: both processes use Redis again, without a restart.
        wait_until(lambda: is_ready(client), what="/readyz back to ok after Redis restarted")
        assert closed_client.get("/documents", headers=tenant.headers).status_code == 200
        after = write_documents(client, tenant, ["alpha after"])
        # The entry cached before the outage is not served: the failed invalidation was retried.
        assert search("alpha") == ("miss", {*before, *during, *after})
        assert search("alpha") == ("hit", {*before, *during, *after})
        counters = redis.Redis.from_url(ephemeral_redis.url).keys(
            f"{dependencies.redis_prefix}ratelimit:{tenant.id}:*"
        )
        assert counters, "the rate limiter is counting in Redis again"

        # No data lost.
        written = {*before, *during, *after}
        assert set(listed_ids(client, tenant)) == written
        assert set(stored_documents(dependencies.database_url)) == written
