"""`make dlq-list` / `make dlq-replay` (dead_letters_cli) against a real database."""

from __future__ import annotations

import io
import uuid
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from _helpers.event_consumer import applied_event_ids, dead_letters, document_event

from {{ cookiecutter.package_name }}.dead_letters_cli import main
from {{ cookiecutter.package_name }}.projection_consumer import (
    CONSUMER_NAME,
)


@pytest.fixture
def cli_env(service_database: str, clean_app_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_DATABASE_URL", service_database)


def _dead_letter(connection: psycopg.Connection[Any], data: bytes, headers: dict[str, str]) -> int:
    row = connection.execute(
        "INSERT INTO dead_letters (consumer, stream, stream_sequence, subject, headers, data, "
        "error, attempts) VALUES (%s, 'KB_DOCUMENT_EVENTS', 12, 'kb.tenant.x.documents', %s, "
        "%s, 'IntegrityError: tenant missing', 5) RETURNING id",
        (CONSUMER_NAME, Jsonb(headers), data),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_list_then_replay_after_the_fix(
    cli_env: None, admin_connection: psycopg.Connection[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    tenant_id = uuid.uuid4()
    event = document_event("kb", event_id=5_000, tenant_id=tenant_id)
    letter_id = _dead_letter(admin_connection, event.data, event.headers)

    code, listed = _run("list")
    assert code == 0
    assert f"#{letter_id} pending consumer={CONSUMER_NAME} attempts=5" in listed
    assert "error: IntegrityError: tenant missing" in listed
    assert "'Nats-Msg-Id': 'event-5000'" in listed
    assert listed.endswith("1 pending dead letters\n")

    # Not fixed yet: the replay fails, the letter stays pending with the new error.
    code, replayed = _run("replay")
    assert code == 1
    assert f"#{letter_id} failed: IntegrityError" in replayed
    assert "0 applied, 0 duplicate, 1 failed" in replayed

    admin_connection.execute("INSERT INTO tenants (id, name) VALUES (%s, 'fixed')", (tenant_id,))
    code, replayed = _run("replay", "--id", str(letter_id))
    assert (code, replayed) == (
        0,
        f"#{letter_id} applied\nreplayed 1 dead letters: 1 applied, 0 duplicate, 0 failed\n",
    )
    assert applied_event_ids(admin_connection) == [5_000]
    assert dead_letters(admin_connection)[0].replayed

    # Replayed letters are gone from the default listing and cannot be replayed again.
    assert _run("list") == (0, "0 pending dead letters\n")
    code, listed = _run("list", "--all")
    assert f"#{letter_id} replayed" in listed
    assert _run("replay", "--id", str(letter_id))[0] == 1
    assert f"no pending dead letter with id {letter_id}" in capsys.readouterr().err
    assert applied_event_ids(admin_connection) == [5_000]


def test_an_unreachable_database_is_one_line(
    clean_app_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APP_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("APP_DB_CONNECT_TIMEOUT_SECONDS", "1")
    assert _run("list")[0] == 1
    error = capsys.readouterr().err
    assert error.startswith("dead_letters_cli: database at APP_DATABASE_URL failed: ")
    assert error.count("\n") == 1


def test_a_bad_database_url_names_the_variable(
    clean_app_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APP_DATABASE_URL", "mysql://x")
    assert _run("list")[0] == 2
    assert capsys.readouterr().err.startswith("dead_letters_cli: APP_DATABASE_URL: ")
