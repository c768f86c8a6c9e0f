"""Query normalisation and rank weights: what reaches Postgres, and how it is weighted."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.search_query import (
    MAX_QUERY_LENGTH,
    MAX_RESULT_LIMIT,
    InvalidQueryError,
    normalise_query,
    rank_weights,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgres", "postgres"),
        ("  Postgres   Full\tText \n", "postgres full text"),
        ("STRASSE Straße", "strasse strasse"),
        ("ﬁle", "file"),  # NFKC folds the ligature, so it matches "file"
        ("tab\x00nul\x07bell", "tab nul bell"),
        ('"exact phrase" OR -excluded', '"exact phrase" or -excluded'),
    ],
)
def test_normalise_query_folds_case_width_and_whitespace(raw: str, expected: str) -> None:
    assert normalise_query(raw).text == expected


def test_equal_searches_normalise_to_equal_queries() -> None:
    assert normalise_query("Full  TEXT", limit=5) == normalise_query(" full text ", limit=5)
    assert normalise_query("full text", limit=5) != normalise_query("full text", limit=6)


@pytest.mark.parametrize("raw", ["", "   ", "\t\n", "\x00\x01"])
def test_query_without_text_is_rejected(raw: str) -> None:
    with pytest.raises(InvalidQueryError, match="q must contain at least one non-space"):
        normalise_query(raw)


def test_query_length_is_checked_after_whitespace_collapses() -> None:
    assert len(normalise_query("a" + " " * 500 + "b").text) == 3
    with pytest.raises(InvalidQueryError, match=f"at most {MAX_QUERY_LENGTH} characters"):
        normalise_query("a" * (MAX_QUERY_LENGTH + 1))


@pytest.mark.parametrize("limit", [0, -1, MAX_RESULT_LIMIT + 1])
def test_limit_outside_range_is_rejected(limit: int) -> None:
    with pytest.raises(InvalidQueryError, match=f"limit must be between 1 and {MAX_RESULT_LIMIT}"):
        normalise_query("postgres", limit=limit)


def test_rank_weights_follow_postgres_d_c_b_a_order() -> None:
    # ts_rank_cd reads {D, C, B, A}; titles are label A and bodies label B.
    assert rank_weights(title=1.0, body=0.4) == [0.0, 0.0, 0.4, 1.0]


def test_title_matches_outrank_body_matches_by_default() -> None:
    *_, body, title = rank_weights()
    assert title > body > 0


@pytest.mark.parametrize(("title", "body"), [(1.5, 0.4), (1.0, -0.1)])
def test_rank_weights_outside_unit_interval_are_rejected(title: float, body: float) -> None:
    with pytest.raises(ValueError, match="weight must be between 0 and 1"):
        rank_weights(title=title, body=body)
