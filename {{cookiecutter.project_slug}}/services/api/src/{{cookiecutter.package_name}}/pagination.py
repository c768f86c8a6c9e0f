"""Keyset pagination: opaque cursors and page splitting (pure, no I/O).

Lists are ordered newest first by (created_at, id). A cursor names the last row of a
page, so the next page is "rows strictly before it" and stays stable while rows are
added, unlike OFFSET. Cursors are not signed: a forged one can only seek inside the
caller's own tenant, which the query already restricts.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class InvalidCursorError(ValueError):
    """The cursor was not produced by this API (or was truncated)."""


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    created_at: datetime
    id: uuid.UUID


@dataclass(frozen=True, slots=True)
class PageWindow:
    """How many fetched rows belong on the page, and the cursor of the next page."""

    size: int
    next_cursor: str | None


def encode_cursor(cursor: Cursor) -> str:
    payload = json.dumps({"t": cursor.created_at.isoformat(), "id": str(cursor.id)})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor:
    padded = token + "=" * (-len(token) % 4)
    try:
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        created_at = datetime.fromisoformat(payload["t"])
        row_id = uuid.UUID(payload["id"])
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise InvalidCursorError(
            "cursor must be a next_cursor value returned by this endpoint"
        ) from exc
    if created_at.tzinfo is None:
        raise InvalidCursorError("cursor must be a next_cursor value returned by this endpoint")
    return Cursor(created_at=created_at, id=row_id)


def page_window(fetched: Sequence[Cursor], *, limit: int) -> PageWindow:
    """Decide the page from the keys of ``limit + 1`` fetched rows; the extra row signals more."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    size = min(len(fetched), limit)
    has_more = len(fetched) > limit
    return PageWindow(size=size, next_cursor=encode_cursor(fetched[size - 1]) if has_more else None)
