"""Every API body survives JSON serialisation unchanged; so do cursors and queries."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from {{ cookiecutter.package_name }}.models import TITLE_MAX_LENGTH
from {{ cookiecutter.package_name }}.pagination import (
    Cursor,
    decode_cursor,
    encode_cursor,
)
from {{ cookiecutter.package_name }}.schemas import (
    ApiKeyCreated,
    DocumentCreate,
    DocumentPage,
    DocumentUpdate,
    ReadinessReport,
    SearchResults,
    TenantCreated,
)
from {{ cookiecutter.package_name }}.search_query import (
    InvalidQueryError,
    normalise_query,
)

# Aware datetimes at fixed UTC offsets, as psycopg returns timestamptz values. Whole
# minutes only, as RFC 3339 offsets are written; named zones are left out because in
# their DST folds Python itself compares equal instants as unequal.
offsets = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
timestamps = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets
)
texts = st.text(max_size=300)
ids = st.uuids()


def _validated(model: type[BaseModel], **fields: Any) -> BaseModel:
    """The model, or a discarded example when the drawn values are not valid input."""
    try:
        return model(**fields)
    except ValidationError:
        assume(False)
        raise  # unreachable: assume(False) raises


def _survives_json(value: BaseModel) -> None:
    assert type(value).model_validate_json(value.model_dump_json()) == value


document_out = st.fixed_dictionaries(
    {
        "id": ids,
        "title": st.text(min_size=1, max_size=TITLE_MAX_LENGTH),
        "body": texts,
        "created_at": timestamps,
        "updated_at": timestamps,
    }
)


@given(title=st.text(max_size=TITLE_MAX_LENGTH + 5), body=texts)
def test_document_create_round_trips(title: str, body: str) -> None:
    _survives_json(_validated(DocumentCreate, title=title, body=body))


@given(title=st.none() | st.text(max_size=50), body=st.none() | texts)
def test_document_update_round_trips(title: str | None, body: str | None) -> None:
    _survives_json(_validated(DocumentUpdate, title=title, body=body))


@given(items=st.lists(document_out, max_size=5), next_cursor=st.none() | st.text(max_size=40))
def test_document_page_round_trips(items: list[dict[str, Any]], next_cursor: str | None) -> None:
    _survives_json(DocumentPage.model_validate({"items": items, "next_cursor": next_cursor}))


@given(
    hits=st.lists(
        st.fixed_dictionaries(
            {
                "id": ids,
                "title": st.text(max_size=50),
                "rank": st.floats(min_value=0.0, max_value=1.0, width=32),
            }
        ),
        max_size=5,
    ),
    query=st.text(max_size=50),
)
def test_search_results_round_trip(hits: list[dict[str, Any]], query: str) -> None:
    _survives_json(SearchResults.model_validate({"query": query, "hits": hits}))


@given(
    name=st.text(min_size=1, max_size=100),
    key_id=st.text(max_size=32),
    key=st.text(max_size=80),
    created_at=timestamps,
    revoked_at=st.none() | timestamps,
)
def test_tenant_created_round_trips(
    name: str, key_id: str, key: str, created_at: datetime, revoked_at: datetime | None
) -> None:
    api_key = ApiKeyCreated(
        id=uuid.uuid4(),
        key_id=key_id,
        name=name,
        created_at=created_at,
        revoked_at=revoked_at,
        key=key,
    )
    tenant = {"id": uuid.uuid4(), "name": name, "created_at": created_at}
    _survives_json(TenantCreated.model_validate({"tenant": tenant, "api_key": api_key}))


@given(
    postgres=st.sampled_from(["ok", "down"]),
    redis=st.sampled_from(["ok", "degraded"]),
    status=st.sampled_from(["ok", "degraded", "unavailable"]),
)
def test_readiness_report_round_trips(postgres: str, redis: str, status: str) -> None:
    report = ReadinessReport.model_validate(
        {"status": status, "checks": {"postgres": postgres, "redis": redis}}
    )
    _survives_json(report)


@given(created_at=timestamps, row_id=ids)
def test_cursors_round_trip(created_at: datetime, row_id: uuid.UUID) -> None:
    cursor = Cursor(created_at=created_at, id=row_id)
    decoded = decode_cursor(encode_cursor(cursor))
    assert decoded == cursor
    assert decoded.created_at.utcoffset() == created_at.utcoffset()


@given(raw=st.text(max_size=400))
def test_normalising_a_normalised_query_changes_nothing(raw: str) -> None:
    try:
        once = normalise_query(raw)
    except InvalidQueryError:
        assume(False)
        raise
    assert normalise_query(once.text) == once
