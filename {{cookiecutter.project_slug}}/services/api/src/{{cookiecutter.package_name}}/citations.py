"""Citation checking: a provider's citations are claims; only retrieved documents may be cited."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CheckedCitations:
    accepted: tuple[uuid.UUID, ...]
    """Retrieved document ids the answer cites, in the provider's order, without repeats."""
    rejected: tuple[str, ...]
    """Everything else the provider cited: unknown, foreign or malformed ids."""


def check_citations(cited: Iterable[str], *, retrieved: Iterable[uuid.UUID]) -> CheckedCitations:
    allowed = {str(document_id): document_id for document_id in retrieved}
    accepted: dict[uuid.UUID, None] = {}
    rejected: list[str] = []
    for citation in cited:
        # Compare canonical forms: "ABC..." and "abc..." name the same UUID.
        try:
            canonical = str(uuid.UUID(citation.strip()))
        except ValueError:
            canonical = citation
        if canonical in allowed:
            accepted[allowed[canonical]] = None
        else:
            rejected.append(citation)
    return CheckedCitations(accepted=tuple(accepted), rejected=tuple(rejected))
