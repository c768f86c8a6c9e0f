"""`make generate-fixtures` writes seeded demo data the served API accepts."""

from __future__ import annotations

import psycopg
import pytest

from _fixtures.generate import build_parser, generate
from _fixtures.service import SettingsFactory

from {{ cookiecutter.package_name }} import credentials

pytestmark = pytest.mark.anyio


async def test_generated_tenants_keys_and_documents_are_written_and_the_keys_verify(
    settings_factory: SettingsFactory, service_database: str
) -> None:
    settings = settings_factory()

    generated = await generate(settings, seed=5, tenants=2, documents=3)

    with psycopg.connect(service_database) as connection:
        tenants: dict[str, str] = dict(
            connection.execute("SELECT id::text, name FROM tenants").fetchall()
        )
        documents = connection.execute(
            "SELECT tenant_id::text, count(*) FROM documents GROUP BY tenant_id"
        ).fetchall()
        hashes: dict[str, str] = dict(
            connection.execute("SELECT key_id, secret_hash FROM api_keys").fetchall()
        )
    assert tenants == {row.tenant_id: row.name for row in generated}
    assert dict(documents) == {row.tenant_id: 3 for row in generated}
    pepper = settings.api_key_pepper.get_secret_value()
    for row in generated:
        _, key_id, secret = row.api_key.split("_", 2)
        assert hashes[key_id] == credentials.hash_secret(
            key_id=key_id, secret=secret, pepper=pepper
        )


async def test_the_same_seed_generates_the_same_rows(
    settings_factory: SettingsFactory, service_database: str
) -> None:
    first = await generate(settings_factory(), seed=9, tenants=1, documents=1)
    with psycopg.connect(service_database, autocommit=True) as connection:
        connection.execute("TRUNCATE tenants CASCADE")

    again = await generate(settings_factory(), seed=9, tenants=1, documents=1)

    assert again == first


def test_a_count_below_one_is_rejected_naming_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--tenants", "0"])

    assert exited.value.code == 2
    assert "--tenants: must be a whole number of at least 1, got '0'" in capsys.readouterr().err
