"""Search query normalisation and ranking parameters (pure, no I/O).

Postgres does the matching (websearch_to_tsquery) and the ranking (ts_rank_cd); this
module decides what text reaches it and how title and body matches are weighted, so
both can be tested without a database.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

MAX_QUERY_LENGTH = 256
# The raw parameter may carry whitespace that normalisation collapses; this bounds
# the work done before the normalised length can be checked.
MAX_RAW_QUERY_LENGTH = 4 * MAX_QUERY_LENGTH
DEFAULT_RESULT_LIMIT = 10
MAX_RESULT_LIMIT = 50
# ts_rank_cd normalisation flag 32 maps a rank r to r / (r + 1): scores land in [0, 1)
# so clients can compare them across queries.
RANK_NORMALIZATION = 32
TITLE_WEIGHT = 1.0
BODY_WEIGHT = 0.4


class InvalidQueryError(ValueError):
    """The query has nothing to search for, or is too long."""


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A normalised query: equal searches produce equal values (and share a cache entry)."""

    text: str
    limit: int


def normalise_query(raw: str, *, limit: int = DEFAULT_RESULT_LIMIT) -> SearchQuery:
    """NFKC-fold, casefold and collapse whitespace; reject empty or oversized queries.

    Postgres lowercases lexemes itself and websearch_to_tsquery reads "or" in any case,
    so casefolding changes no result; it only lets "Foo" and "foo" share a cache entry.
    Control characters (NUL would make Postgres reject the statement) become spaces.
    """
    if not 1 <= limit <= MAX_RESULT_LIMIT:
        raise InvalidQueryError(f"limit must be between 1 and {MAX_RESULT_LIMIT}, got {limit}")
    text = unicodedata.normalize("NFKC", raw)
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    text = " ".join(text.casefold().split())
    if not text:
        raise InvalidQueryError("q must contain at least one non-space character")
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidQueryError(f"q must be at most {MAX_QUERY_LENGTH} characters, got {len(text)}")
    return SearchQuery(text=text, limit=limit)


def rank_weights(*, title: float = TITLE_WEIGHT, body: float = BODY_WEIGHT) -> list[float]:
    """The ts_rank_cd weight array. Postgres orders it {D, C, B, A}: the reverse of
    the labels, so title (label A) goes last and body (label B) third."""
    for name, value in (("title", title), ("body", body)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} weight must be between 0 and 1, got {value}")
    return [0.0, 0.0, body, title]
