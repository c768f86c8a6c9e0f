"""Request and response bodies of the HTTP API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from {{ cookiecutter.package_name }}.models import (
    BODY_MAX_LENGTH,
    NAME_MAX_LENGTH,
    TITLE_MAX_LENGTH,
)


def _no_nul(value: str) -> str:
    # Postgres text cannot hold NUL; refuse it here with a 422 instead of a 500 later.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH),
    AfterValidator(_no_nul),
]
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX_LENGTH),
    AfterValidator(_no_nul),
]
Body = Annotated[str, StringConstraints(max_length=BODY_MAX_LENGTH), AfterValidator(_no_nul)]


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResponseBody(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TenantCreate(RequestBody):
    name: Name


class TenantOut(ResponseBody):
    id: uuid.UUID
    name: str
    created_at: datetime


class ApiKeyCreate(RequestBody):
    name: Name = "default"


class ApiKeyOut(ResponseBody):
    id: uuid.UUID
    key_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The API key. Shown once: only a hash of it is stored.")


class TenantCreated(BaseModel):
    tenant: TenantOut
    api_key: ApiKeyCreated


class DocumentCreate(RequestBody):
    title: Title
    body: Body


class DocumentUpdate(RequestBody):
    title: Title | None = None
    body: Body | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> DocumentUpdate:
        if self.title is None and self.body is None:
            raise ValueError("give at least one of title, body")
        return self


class DocumentOut(ResponseBody):
    id: uuid.UUID
    title: str
    body: str
    created_at: datetime
    updated_at: datetime


class DocumentPage(BaseModel):
    items: list[DocumentOut]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null on the last."
    )


class SearchHit(BaseModel):
    id: uuid.UUID
    title: str
    rank: float = Field(ge=0.0, le=1.0)


class SearchResults(BaseModel):
    query: str = Field(description="The query as normalised for matching.")
    hits: list[SearchHit]


class DocumentStats(BaseModel):
    """The caller's row of the document projection, a read model fed by the document events:
    eventually consistent (it lags writes by the relay and the consumer), never authoritative."""

    documents: int = Field(ge=0, description="Documents stored: created minus deleted.")
    documents_created: int = Field(ge=0)
    documents_updated: int = Field(ge=0)
    documents_deleted: int = Field(ge=0)
    last_ingest_at: datetime | None = Field(
        description="Creation time of the newest document; null before the first one."
    )
    last_event_at: datetime | None = Field(description="Time of the newest event counted.")
    last_event_id: int = Field(
        ge=0, description="The newest event counted (0: none yet); compare with /ws event ids."
    )
    events_applied: int = Field(ge=0)


# "down": the service cannot work without it (Postgres). "degraded": it works around
# the loss (Redis: cache bypassed, rate limit per APP_RATE_LIMIT_FAIL_OPEN).
CheckStatus = Literal["ok", "degraded", "down"]


class ReadinessReport(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    checks: dict[str, CheckStatus]
