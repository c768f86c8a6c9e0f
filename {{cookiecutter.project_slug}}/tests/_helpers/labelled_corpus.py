"""The labelled retrieval corpus shipped in tests/rag/corpus.json, typed."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

CORPUS_PATH = Path(__file__).resolve().parents[1] / "rag" / "corpus.json"


@dataclass(frozen=True, slots=True)
class LabelledDocument:
    id: uuid.UUID
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    question: str
    relevant: frozenset[uuid.UUID]


@dataclass(frozen=True, slots=True)
class LabelledCorpus:
    documents: tuple[LabelledDocument, ...]
    queries: tuple[LabelledQuery, ...]

    def document(self, document_id: uuid.UUID) -> LabelledDocument:
        return next(d for d in self.documents if d.id == document_id)


def load_corpus(path: Path = CORPUS_PATH) -> LabelledCorpus:
    raw = json.loads(path.read_text())
    return LabelledCorpus(
        documents=tuple(
            LabelledDocument(id=uuid.UUID(d["id"]), title=d["title"], body=d["body"])
            for d in raw["documents"]
        ),
        queries=tuple(
            LabelledQuery(q["question"], frozenset(uuid.UUID(r) for r in q["relevant"]))
            for q in raw["queries"]
        ),
    )
