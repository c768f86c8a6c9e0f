"""Keyset pagination: cursors and page windows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from {{ cookiecutter.package_name }}.pagination import (
    Cursor,
    InvalidCursorError,
    decode_cursor,
    encode_cursor,
    page_window,
)

T0 = datetime(2024, 5, 17, 12, 30, 15, 123456, tzinfo=UTC)


def _cursors(count: int) -> list[Cursor]:
    return [Cursor(created_at=T0 - timedelta(seconds=i), id=uuid.uuid4()) for i in range(count)]


def test_a_cursor_survives_encoding() -> None:
    cursor = Cursor(created_at=T0, id=uuid.uuid4())
    assert decode_cursor(encode_cursor(cursor)) == cursor


def test_cursors_are_url_safe() -> None:
    token = encode_cursor(Cursor(created_at=T0, id=uuid.uuid4()))
    assert token.replace("-", "").replace("_", "").isalnum()


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-cursor",
        "eyJ0IjogIjIwMjQifQ",  # {"t": "2024"}: no id
        "eyJ0IjogIjIwMjQtMDUtMTdUMTI6MDA6MDAiLCAiaWQiOiAiMSJ9",  # bad uuid
        "W10",  # []
    ],
)
def test_foreign_cursors_are_rejected_with_a_clear_message(token: str) -> None:
    with pytest.raises(InvalidCursorError, match="cursor must be a next_cursor value"):
        decode_cursor(token)


def test_a_cursor_without_a_timezone_is_rejected() -> None:
    naive = encode_cursor(Cursor(created_at=T0.replace(tzinfo=None), id=uuid.uuid4()))
    with pytest.raises(InvalidCursorError):
        decode_cursor(naive)


def test_a_full_fetch_means_another_page_starting_after_the_last_item() -> None:
    fetched = _cursors(4)  # limit + 1 rows fetched
    window = page_window(fetched, limit=3)
    assert window.size == 3
    assert window.next_cursor is not None
    assert decode_cursor(window.next_cursor) == fetched[2]


@pytest.mark.parametrize("count", [0, 1, 3])
def test_a_short_fetch_is_the_last_page(count: int) -> None:
    window = page_window(_cursors(count), limit=3)
    assert window.size == count
    assert window.next_cursor is None


def test_a_limit_below_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="limit must be at least 1, got 0"):
        page_window(_cursors(2), limit=0)
