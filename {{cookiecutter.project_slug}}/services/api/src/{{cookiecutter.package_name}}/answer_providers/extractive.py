"""The default provider: quotes the retrieved sentences that best match the question.

No network and no model: deterministic, free, and unable to follow instructions hidden in a
document, because it only selects sentences, it never executes them.
"""

from __future__ import annotations

import re

from {{ cookiecutter.package_name }}.answer_providers.protocol import (
    ProviderAnswer,
    SourceDocument,
)

NO_ANSWER = "No answer found in the retrieved documents."
MAX_SENTENCES = 3
# A "sentence" can be a whole document with no full stop; quote at most this much of one.
MAX_SENTENCE_CHARS = 500
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[^\W_]+")
# Words that say nothing about the topic; Postgres drops them from the search too.
_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "my",
        "of",
        "on",
        "or",
        "our",
        "should",
        "the",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def terms(text: str) -> frozenset[str]:
    """Casefolded content words; a crude stem (plural "s") so "keys" meets "key"."""
    words = (word.casefold() for word in _WORD.findall(text))
    return frozenset(
        word[:-1] if len(word) > 3 and word.endswith("s") else word
        for word in words
        if word not in _STOP_WORDS
    )


def sentences(text: str) -> list[str]:
    parts = (part.strip() for part in _SENTENCE_END.split(text))
    return [
        part if len(part) <= MAX_SENTENCE_CHARS else part[: MAX_SENTENCE_CHARS - 1] + "\u2026"
        for part in parts
        if part
    ]


class ExtractiveProvider:
    name = "extractive"

    def __init__(self, *, max_sentences: int = MAX_SENTENCES) -> None:
        self._max_sentences = max_sentences

    async def answer(
        self, *, question: str, documents: tuple[SourceDocument, ...]
    ) -> ProviderAnswer:
        wanted = terms(question)
        scored: list[tuple[int, int, int, str, str]] = []
        for doc_index, document in enumerate(documents):
            for sentence_index, sentence in enumerate(sentences(document.body)):
                overlap = len(wanted & terms(sentence))
                if overlap:
                    # Best overlap first; ties keep retrieval order, then text order.
                    scored.append((-overlap, doc_index, sentence_index, sentence, document.id))
        best = sorted(scored)[: self._max_sentences]
        if not best:
            return ProviderAnswer(text=NO_ANSWER, citations=())
        text = " ".join(sentence for *_, sentence, _ in best)
        citations = tuple(dict.fromkeys(document_id for *_, document_id in best))
        return ProviderAnswer(text=text, citations=citations)

    async def aclose(self) -> None:
        return None
