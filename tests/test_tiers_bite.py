"""The tiers bite: break the baked service on purpose and the matching tier fails (slow).

One default bake is installed once; each case patches one source file, runs the tiers that
must catch the break, and restores the file. The cases follow the template's promises:
a tenant leak fails security and rag, a renamed response field fails contract with a diff
naming it, a disabled SSRF check fails security, a write without its outbox event fails
integration or realtime, and a citation of a document that was never retrieved fails rag.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from _bake import SEARCH_TENANT_FILTER, Edit, edited, installed_default_bake, run_in

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("mutation-bake")]

PACKAGE = "services/api/src/acme_knowledge_base"


@dataclass(frozen=True)
class Mutation(Edit):
    tests: tuple[str, ...]  # pytest arguments selecting the tiers that must catch it
    failing_in: tuple[str, ...]  # test folders that must report a failure
    expected_text: str = ""  # a line fragment the failure output must contain


MUTATIONS = {
    "search-without-tenant-filter": Mutation(
        f"{PACKAGE}/crud/documents.py",
        *SEARCH_TENANT_FILTER,
        ("tests/security", "tests/rag"),
        ("tests/security/", "tests/rag/"),
    ),
    "renamed-response-field": Mutation(
        f"{PACKAGE}/schemas.py",
        "    id: uuid.UUID\n    title: str\n    body: str\n    created_at: datetime\n",
        "    id: uuid.UUID\n    title: str = Field(serialization_alias='heading')\n"
        "    body: str\n    created_at: datetime\n",
        ("tests/contract/test_openapi_snapshot.py",),
        ("tests/contract/",),
        "field title",
    ),
    "ssrf-check-disabled": Mutation(
        f"{PACKAGE}/ssrf.py",
        "reason = blocked_reason(address)",
        "reason = None",
        ("tests/security/test_ssrf.py",),
        ("tests/security/",),
    ),
    "write-without-outbox-event": Mutation(
        f"{PACKAGE}/crud/documents.py",
        "    await record_event(\n        session,\n        tenant_id=tenant_id,\n"
        "        event_type=EventType.DOCUMENT_CREATED,",
        "    _lost_event = dict(\n        tenant_id=tenant_id,\n"
        "        event_type=EventType.DOCUMENT_CREATED,",
        ("tests/integration/test_outbox.py", "tests/realtime"),
        ("tests/integration/", "tests/realtime/"),
    ),
    "citation-of-unretrieved-document": Mutation(
        f"{PACKAGE}/citations.py",
        "        if canonical in allowed:\n            accepted[allowed[canonical]] = None",
        "        if canonical in allowed or len(canonical) == 36:\n"
        "            accepted[allowed.get(canonical, uuid.UUID(canonical))] = None",
        ("tests/rag",),
        ("tests/rag/",),
    ),
}


@pytest.fixture(scope="session")
def mutable_project(
    template: Path, cookiecutter_config: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return installed_default_bake(template, tmp_path_factory.mktemp("mutable"), cookiecutter_config)


def run_tiers(project: Path, tests: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    return run_in(
        project, str(project / ".venv/bin/pytest"), "-q", "-p", "no:randomly", "-rf", *tests
    )


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_the_matching_tier_catches_the_break(mutable_project: Path, name: str) -> None:
    mutation = MUTATIONS[name]
    with edited(mutable_project, mutation):
        result = run_tiers(mutable_project, mutation.tests)

    output = result.stdout
    assert result.returncode == 1, output[-4000:]
    failed = re.findall(r"^FAILED (\S+)", output, flags=re.MULTILINE)
    for folder in mutation.failing_in:
        assert any(nodeid.startswith(folder) for nodeid in failed), (folder, failed)
    assert mutation.expected_text in output


def test_the_unmutated_tiers_pass(mutable_project: Path) -> None:
    # The control: without a mutation the same selections pass, so each failure above
    # is the mutation's doing.
    selections = sorted({test for mutation in MUTATIONS.values() for test in mutation.tests})
    result = run_tiers(mutable_project, tuple(selections))
    assert result.returncode == 0, result.stdout[-4000:]


def run_make(project: Path, target: str) -> subprocess.CompletedProcess[str]:
    return run_in(project, "make", target, "ARGS=-p no:randomly")


# Run with the bake's own Python: prometheus_client's text parser, as Prometheus would read it.
PARSE_UNIT_METRICS = """
from prometheus_client.parser import text_string_to_metric_families

with open("reports/metrics.prom", encoding="utf-8") as metrics:
    families = {family.name: family for family in text_string_to_metric_families(metrics.read())}
assert all(name.startswith("testkit_") for name in families), sorted(families)
tests = {
    (sample.labels["tier"], sample.labels["outcome"]): sample.value
    for sample in families["testkit_tests"].samples
}
assert tests["unit", "passed"] > 0, tests
assert families["testkit_test_duration_seconds"].samples, "no duration histogram"
print(f"{len(families)} testkit_* families, {tests['unit', 'passed']:g} unit tests passed")
"""


def assert_unit_run_metrics(project: Path) -> None:
    """`make test-unit` wrote reports/metrics.prom: Prometheus text holding testkit_* metrics."""
    parsed = run_in(project, ".venv/bin/python", "-c", PARSE_UNIT_METRICS)
    assert parsed.returncode == 0, parsed.stdout


def test_a_module_that_fails_to_import_breaks_only_its_tier(mutable_project: Path) -> None:
    module = "tests/contract/test_openapi_snapshot.py"
    unimportable = Edit(
        module,
        "from __future__ import annotations\n",
        "from __future__ import annotations\n\nimport no_such_module  # noqa: F401\n",
    )
    with edited(mutable_project, unimportable):
        unit = run_make(mutable_project, "test-unit")
        assert_unit_run_metrics(mutable_project)  # before the contract run writes its own
        contract = run_make(mutable_project, "test-contract")

    assert unit.returncode == 0, unit.stdout[-4000:]
    assert contract.returncode != 0, contract.stdout[-4000:]
    assert "No module named 'no_such_module'" in contract.stdout
    expected = f"{module}: failed to collect, breaks tier contract (make test-contract)"
    assert expected in contract.stdout, contract.stdout[-4000:]


# Probes of the warnings policy (pyproject's filterwarnings): a deprecation raised by a module
# outside the project (exec'd under a third-party module name) is shown; ours fails the test,
# and so does any other category from anywhere.
WARNING_PROBES = """
import types
import warnings


def upstream(code: str) -> None:
    module = types.ModuleType("upstreamlib")
    exec(compile(code, "upstreamlib.py", "exec"), module.__dict__)


def test_third_party_deprecation_is_shown() -> None:
    upstream("import warnings\\nwarnings.warn('upstream api', DeprecationWarning)")


def test_own_deprecation_fails() -> None:
    warnings.warn("our api", DeprecationWarning)


def test_third_party_runtime_warning_fails() -> None:
    upstream("import warnings\\nwarnings.warn('upstream bug', RuntimeWarning)")
"""


def test_the_warnings_policy_fails_our_deprecations_and_shows_upstreams(
    mutable_project: Path,
) -> None:
    probe = mutable_project / "tests/unit/test_warnings_policy_probe.py"
    probe.write_text(WARNING_PROBES, encoding="utf-8")
    try:
        result = run_tiers(mutable_project, ("-rA", str(probe.relative_to(mutable_project))))
    finally:
        probe.unlink()

    output = result.stdout
    reported = re.findall(r"^(PASSED|FAILED) \S+::(\w+)", output, flags=re.MULTILINE)
    outcomes = {test: outcome for outcome, test in reported}
    assert outcomes == {
        "test_third_party_deprecation_is_shown": "PASSED",
        "test_own_deprecation_fails": "FAILED",
        "test_third_party_runtime_warning_fails": "FAILED",
    }, output[-4000:]
    assert "DeprecationWarning: upstream api" in output  # in the warnings summary
