"""Test data still fits the current schemas (`make validate-test-data`): golden and fixture
files parse, cassettes are vcrpy recordings of the provider's API shape{% if cookiecutter.include_sample_service == 'yes' %}, and the factories
build rows the API's pydantic schemas accept{% endif %}."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml
{%- if cookiecutter.include_sample_service == 'yes' %}
from pydantic import BaseModel

from _fixtures.factories import ApiKeyFactory, DocumentFactory, TenantFactory
from testkit.cassettes import Version, read_cassettes, recorded_version

from {{ cookiecutter.package_name }} import schemas
from {{ cookiecutter.package_name }}.settings import Settings
{%- else %}

from testkit.cassettes import read_cassettes
{%- endif %}

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
CASSETTES = TESTS / "cassettes"
PARSERS = {".json": json.loads, ".toml": tomllib.loads, ".yaml": yaml.safe_load}
DATA_FILES = sorted(
    path
    for suffix in PARSERS
    for path in [*TESTS.rglob(f"*{suffix}"), *(ROOT / "perf").rglob(f"*{suffix}")]
    if not path.is_relative_to(CASSETTES)
)


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_the_golden_or_fixture_file_parses(path: Path) -> None:
    PARSERS[path.suffix](path.read_text(encoding="utf-8"))


def test_the_cassettes_are_recordings_of_the_providers_api_shape() -> None:
    recordings = read_cassettes(CASSETTES, root=ROOT) if CASSETTES.is_dir() else []
    problems = [problem for recording in recordings for problem in recording.problems]
    assert problems == [], "\n".join(problems)
{%- if cookiecutter.include_sample_service == 'yes' %}
    assert recordings, "no cassettes in tests/cassettes"


def test_the_cassettes_were_recorded_with_the_services_configured_model() -> None:
    # `make replay-frozen` freezes the version the recordings agree on (testkit.cassettes):
    # they must agree, and on the model the service is configured to ask for.
    recorded = recorded_version(read_cassettes(CASSETTES, root=ROOT))
    assert recorded == Version("openai", Settings(env="development").openai_model)


@pytest.mark.parametrize(
    ("factory", "response", "request_schema"),
    [
        (TenantFactory, schemas.TenantOut, schemas.TenantCreate),
        (DocumentFactory, schemas.DocumentOut, schemas.DocumentCreate),
        (ApiKeyFactory, schemas.ApiKeyOut, schemas.ApiKeyCreate),
    ],
    ids=["tenant", "document", "api_key"],
)
def test_the_factories_build_what_the_schemas_accept(
    factory: type, response: type[BaseModel], request_schema: type[BaseModel]
) -> None:
    for row in factory.build_batch(5):  # type: ignore[attr-defined]
        response.model_validate(row)
        fields = {name: getattr(row, name) for name in request_schema.model_fields}
        request_schema.model_validate(fields)
{%- endif %}
