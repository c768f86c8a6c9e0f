"""A document's text cut into chunks (the ingest saga's INDEX step stores them). Pure.

Paragraphs (blank-line separated) are kept whole and packed together up to a size bound;
only a paragraph longer than the bound is cut, at the bound.
"""

from __future__ import annotations

CHUNK_MAX_CHARS = 2_000


def chunk_text(text: str, *, max_chars: int = CHUNK_MAX_CHARS) -> tuple[str, ...]:
    """The chunks of ``text`` in order; joined with blank lines they hold all its paragraphs."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    pieces: list[str] = []
    for paragraph in (part.strip() for part in text.split("\n\n")):
        pieces.extend(paragraph[i : i + max_chars] for i in range(0, len(paragraph), max_chars))
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 2 + len(piece) <= max_chars:
            chunks[-1] = f"{chunks[-1]}\n\n{piece}"
        else:
            chunks.append(piece)
    return tuple(chunks)
