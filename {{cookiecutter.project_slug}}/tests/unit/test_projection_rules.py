"""What each document event adds to the projection, and the fold a rebuild uses. No I/O."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from {{ cookiecutter.package_name }}.event_messages import EventMessage
from {{ cookiecutter.package_name }}.projection_rules import (
    InvalidEventError,
    ProjectionDelta,
    TenantTotals,
    delta_for,
    fold,
    parse_event,
)

TENANT = uuid.UUID("00000000-0000-4000-8000-000000000001")
DOCUMENT = uuid.UUID("00000000-0000-4000-8000-0000000000d1")
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _event(event_id: int, event_type: str, payload: dict[str, object]) -> EventMessage:
    return EventMessage(
        id=event_id,
        previous_id=None,
        tenant_id=TENANT,
        type=event_type,
        created_at=T0 + timedelta(seconds=event_id),
        payload=payload,
    )


def _written(created_at: datetime = T0) -> dict[str, object]:
    return {"document": {"id": str(DOCUMENT), "title": "t", "created_at": created_at.isoformat()}}


def test_a_created_event_counts_a_document_and_its_ingest_time() -> None:
    delta = delta_for(_event(3, "document.created", _written(T0)))
    assert delta == ProjectionDelta(
        event_id=3, tenant_id=TENANT, event_at=T0 + timedelta(seconds=3), created=1, ingested_at=T0
    )


def test_updated_and_deleted_events_count_without_an_ingest_time() -> None:
    updated = delta_for(_event(4, "document.updated", _written()))
    deleted = delta_for(_event(5, "document.deleted", {"document": {"id": str(DOCUMENT)}}))
    assert updated is not None
    assert deleted is not None
    assert (updated.updated, updated.ingested_at) == (1, None)
    assert (deleted.deleted, deleted.ingested_at) == (1, None)


def test_an_event_type_the_projection_does_not_count_changes_nothing() -> None:
    assert delta_for(_event(6, "document.ingest_failed", {"anything": 1})) is None


@pytest.mark.parametrize(
    ("event_type", "payload", "where"),
    [
        (
            "document.created",
            {"document": {"id": "not-a-uuid", "created_at": T0.isoformat()}},
            "id",
        ),
        ("document.created", {"document": {"id": str(DOCUMENT)}}, "created_at"),
        (
            "document.created",
            {"document": {"id": str(DOCUMENT), "created_at": "2026-01-01T12:00"}},
            "created_at",
        ),
        ("document.deleted", {}, "document"),
    ],
)
def test_a_payload_off_its_schema_is_a_poison_message_naming_the_field(
    event_type: str, payload: dict[str, object], where: str
) -> None:
    with pytest.raises(InvalidEventError, match=rf"{event_type} event 7: payload\.[\w.]*{where}"):
        delta_for(_event(7, event_type, payload))


def test_parse_event_reads_what_the_relay_writes() -> None:
    message = _event(8, "document.created", _written())
    assert parse_event(message.to_json().encode()) == message


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff\xfe not json", "not a document event"),
        (b'{"id": 1}', "not a document event: KeyError"),
        (b"[]", "not a document event"),
        (
            json.dumps(
                {
                    "id": 0,
                    "previous_id": None,
                    "tenant_id": str(TENANT),
                    "type": "document.created",
                    "created_at": T0.isoformat(),
                    "payload": {},
                }
            ).encode(),
            "event id must be at least 1, got 0",
        ),
        (
            json.dumps(
                {
                    "id": 9,
                    "previous_id": None,
                    "tenant_id": str(TENANT),
                    "type": "document.created",
                    "created_at": "2026-01-01T12:00:00",
                    "payload": {},
                }
            ).encode(),
            "event 9: created_at has no time zone",
        ),
    ],
)
def test_parse_event_refuses_what_is_not_an_event(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidEventError, match=message):
        parse_event(raw)


def test_fold_counts_each_event_once_and_keeps_the_latest_times() -> None:
    created = ProjectionDelta(1, TENANT, T0, created=1, ingested_at=T0)
    later = ProjectionDelta(
        2, TENANT, T0 + timedelta(hours=1), created=1, ingested_at=T0 + timedelta(hours=1)
    )
    deleted = ProjectionDelta(3, TENANT, T0 + timedelta(hours=2), deleted=1)
    totals = fold([deleted, later, created, later, deleted])
    assert totals == {
        TENANT: TenantTotals(
            documents_created=2,
            documents_updated=0,
            documents_deleted=1,
            last_ingest_at=T0 + timedelta(hours=1),
            last_event_at=T0 + timedelta(hours=2),
            last_event_id=3,
            events_applied=3,
        )
    }
    assert totals[TENANT].documents == 1


def test_a_delete_seen_before_its_create_never_shows_a_negative_count() -> None:
    totals = fold([ProjectionDelta(5, TENANT, T0, deleted=1)])
    assert totals[TENANT].documents == 0
    assert totals[TENANT].documents_deleted == 1
