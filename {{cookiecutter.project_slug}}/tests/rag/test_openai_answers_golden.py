"""Answers of the openai provider: GOLDEN replays the cassettes, MOCK asks the in-process fake.

The same assertions hold in both modes (and in LIVE_SMOKE against the real API): the answer
cites the labelled relevant document and nothing outside the documents it was given.
"""

from __future__ import annotations

import pytest

from _helpers.labelled_corpus import load_corpus
from testkit.golden import GoldenHttp

from {{ cookiecutter.package_name }}.answer_providers.openai import (
    OpenAIProvider,
)
from {{ cookiecutter.package_name }}.answer_providers.protocol import (
    SourceDocument,
)

pytestmark = pytest.mark.anyio

CORPUS = load_corpus()
# Three questions, each answered from its relevant document plus two distractors.
CASES = [query for query in CORPUS.queries if len(query.relevant) == 1][:3]


@pytest.mark.parametrize("case", range(len(CASES)), ids=[f"q{i}" for i in range(len(CASES))])
async def test_openai_answer_cites_the_relevant_document(
    openai_provider: OpenAIProvider, golden_http: GoldenHttp, case: int
) -> None:
    query = CASES[case]
    [relevant] = query.relevant
    distractors = [d for d in CORPUS.documents if d.id != relevant][case : case + 2]
    documents = tuple(
        SourceDocument(id=str(d.id), title=d.title, body=d.body)
        for d in (*distractors[:1], CORPUS.document(relevant), *distractors[1:])
    )
    answer = await openai_provider.answer(question=query.question, documents=documents)
    assert answer.text
    assert str(relevant) in answer.citations
    assert set(answer.citations) <= {d.id for d in documents}
    if golden_http.active and not golden_http.recording:
        assert golden_http.path.is_file(), f"replayed from {golden_http.path}"
