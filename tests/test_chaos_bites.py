"""The chaos scenarios bite: break the baked service the way they guard against, and they fail.

One default bake is installed once. Each case patches the service, runs one scenario under a
deadline of its own (a subprocess timeout, so a scenario that hangs instead of failing is
caught too), and restores the files:

- nats_outage fails for a service that skips the outbox and publishes to NATS directly
  (events written while NATS is down are lost);
- postgres_latency fails, within its own request deadline, for a service whose database
  connections carry no statement_timeout (requests to a stalled database hang);
- the service's patterns, each broken: a saga recovery sweep that compensates nothing
  (saga_step_failure), no move to the dead-letter table (poison_message), a circuit breaker
  that never opens (provider_outage).

The control runs every scenario unmutated: they pass, so each failure is the mutation's doing.
The random-fault soak (`make chaos-soak`) runs briefly on the same bake and must print its
summary with every invariant passed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from _bake import Edit, edited, installed_default_bake, make, run_in

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("chaos-bake")]

PACKAGE = "services/api/src/acme_knowledge_base"
# A scenario that neither passes nor fails within this hangs: the bite test says so.
SCENARIO_DEADLINE_SECONDS = 240


DIRECT_PUBLISH = (
    # The write records no outbox event...
    Edit(
        f"{PACKAGE}/crud/documents.py",
        "    await record_event(\n        session,\n        tenant_id=tenant_id,\n"
        "        event_type=EventType.DOCUMENT_CREATED,",
        "    _skipped_event = dict(\n        tenant_id=tenant_id,\n"
        "        event_type=EventType.DOCUMENT_CREATED,",
    ),
    # ...and the route publishes it to NATS itself after the commit, when connected.
    Edit(
        f"{PACKAGE}/routers/documents.py",
        "from acme_knowledge_base.dependencies import (\n",
        "from acme_knowledge_base.event_messages import EventMessage, tenant_subject\n"
        "from acme_knowledge_base.dependencies import (\n    ResourcesDep,\n",
    ),
    Edit(
        f"{PACKAGE}/routers/documents.py",
        "    response: Response,\n    idempotency_key: IdempotencyKey = None,\n) -> DocumentOut:",
        "    response: Response,\n    resources: ResourcesDep,\n"
        "    idempotency_key: IdempotencyKey = None,\n) -> DocumentOut:",
    ),
    Edit(
        f"{PACKAGE}/routers/documents.py",
        "    await session.commit()\n    await cache.invalidate(tenant_id=principal.tenant_id)\n"
        "    return DocumentOut.model_validate(document)\n\n\n@router.get",
        "    await session.commit()\n"
        "    if resources.nats.client is not None:\n"
        "        message = EventMessage(\n"
        "            id=document.id.int % 2**62, previous_id=None, tenant_id=principal.tenant_id,\n"
        "            type='document.created', created_at=document.created_at,\n"
        "            payload={'document': {'id': str(document.id)}},\n"
        "        )\n"
        "        await resources.nats.client.jetstream().publish(\n"
        "            tenant_subject(resources.settings.nats_subject_prefix, principal.tenant_id),\n"
        "            message.to_json().encode(),\n"
        "        )\n"
        "    await cache.invalidate(tenant_id=principal.tenant_id)\n"
        "    return DocumentOut.model_validate(document)\n\n\n@router.get",
    ),
)

NO_STATEMENT_TIMEOUT = (
    Edit(
        f"{PACKAGE}/db.py",
        '    options.append(f"-c statement_timeout={settings.db_statement_timeout_ms}")\n',
        "",
    ),
)

# The service's patterns, each broken where it does its work:
PATTERN_MUTATIONS = {
    # the recovery sweep compensates nothing: sagas a crash left mid-way stay half-done
    "saga_step_failure": Edit(
        f"{PACKAGE}/ingest_saga_runner.py",
        "    for saga_id in stale_ids:\n",
        "    for saga_id in stale_ids[:0]:\n",
    ),
    # a poison message is never moved to the dead-letter table: redelivered until it expires
    "poison_message": Edit(
        f"{PACKAGE}/redelivery.py",
        "    if failure is FailureKind.MESSAGE and attempt >= policy.max_attempts:\n",
        "    if False:\n",
    ),
    # the answer provider's circuit breaker never opens
    "provider_outage": Edit(
        f"{PACKAGE}/answer_providers/circuit_breaker.py",
        "            fail_max=failures,\n",
        "            fail_max=10**9,\n",
    ),
}

NATS_OUTAGE = "tests/chaos/test_nats_outage.py"
POSTGRES_LATENCY = "tests/chaos/test_postgres_latency.py"


@pytest.fixture(scope="session")
def chaos_project(
    template: Path, cookiecutter_config: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return installed_default_bake(template, tmp_path_factory.mktemp("chaos"), cookiecutter_config)


def run_scenarios(project: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    """The scenarios, under the deadline: a hang fails here with TimeoutExpired, named."""
    try:
        return run_in(
            project,
            str(project / ".venv/bin/pytest"),
            *("-q", "-p", "no:randomly", "-rf", *paths),
            timeout=SCENARIO_DEADLINE_SECONDS,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{paths} hung past {SCENARIO_DEADLINE_SECONDS}s instead of failing")


def failed_tests(output: str) -> list[str]:
    return re.findall(r"^FAILED (\S+)", output, flags=re.MULTILINE)


def test_nats_outage_catches_a_service_that_skips_the_outbox(chaos_project: Path) -> None:
    with edited(chaos_project, *DIRECT_PUBLISH):
        result = run_scenarios(chaos_project, NATS_OUTAGE)
    output = result.stdout
    assert result.returncode == 1, output[-4000:]
    assert failed_tests(output) == [f"{NATS_OUTAGE}::test_nats_outage"], output[-4000:]


def test_postgres_latency_catches_a_database_without_timeout(chaos_project: Path) -> None:
    with edited(chaos_project, *NO_STATEMENT_TIMEOUT):
        result = run_scenarios(chaos_project, POSTGRES_LATENCY)
    # Failed (not hung: run_scenarios would have said so), and because a request hung.
    assert result.returncode == 1, result.stdout[-4000:]
    assert failed_tests(result.stdout) == [f"{POSTGRES_LATENCY}::test_postgres_latency"]
    assert "a request to a stalled database hung" in result.stdout, result.stdout[-4000:]


@pytest.mark.parametrize("scenario", sorted(PATTERN_MUTATIONS))
def test_each_patterns_scenario_catches_the_pattern_broken(
    chaos_project: Path, scenario: str
) -> None:
    path = f"tests/chaos/test_{scenario}.py"
    with edited(chaos_project, PATTERN_MUTATIONS[scenario]):
        result = run_scenarios(chaos_project, path)
    assert result.returncode == 1, result.stdout[-4000:]
    assert failed_tests(result.stdout) == [f"{path}::test_{scenario}"], result.stdout[-4000:]


def test_the_unmutated_scenarios_pass(chaos_project: Path) -> None:
    patterns = [f"tests/chaos/test_{scenario}.py" for scenario in sorted(PATTERN_MUTATIONS)]
    result = run_scenarios(chaos_project, NATS_OUTAGE, POSTGRES_LATENCY, *patterns)
    assert result.returncode == 0, result.stdout[-4000:]


def test_the_chaos_soak_passes_with_its_invariant_summary_and_replays_its_seed(
    chaos_project: Path,
) -> None:
    knobs = ("CHAOS_DURATION=8", "CHAOS_PROBABILITY=0.6", "CHAOS_SEED=20261207")
    result = make(chaos_project, "chaos-soak", *knobs, services=True, timeout=240)
    output = result.stdout
    assert result.returncode == 0, output[-4000:]
    assert "replay: make chaos-soak CHAOS_SEED=20261207" in output, output[-4000:]
    assert "faults injected by kind:" in output
    assert "PASS  no acknowledged write or ingest lost" in output
    assert "PASS  every ingest saga finished" in output
    assert "verdict: PASS" in output
    assert "FAIL" not in output, output[-4000:]
