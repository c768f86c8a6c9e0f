"""Micro-benchmarks of the service's hot paths: query building for search and /ask, ranking
weights, citation checks, and response serialisation.

Each also asserts its result, so the benchmark cannot go fast by doing the wrong thing. Timed by
`make perf-micro` (compared with perf/baselines/micro via --benchmark-compare-fail); in plain
`make test` they run once each (--benchmark-disable).
"""

from __future__ import annotations

import datetime as dt
import uuid

from pytest_benchmark.fixture import BenchmarkFixture

from {{ cookiecutter.package_name }}.citations import check_citations
from {{ cookiecutter.package_name }}.retrieval import question_to_query
from {{ cookiecutter.package_name }}.schemas import (
    DocumentOut,
    DocumentPage,
    SearchHit,
    SearchResults,
)
from {{ cookiecutter.package_name }}.search_query import (
    normalise_query,
    rank_weights,
)

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
HITS = [
    SearchHit(id=uuid.UUID(int=i), title=f"Replication guide {i}", rank=1 / (i + 2))
    for i in range(50)
]
PAGE = DocumentPage(
    items=[
        DocumentOut(
            id=uuid.UUID(int=i),
            title=f"Guide {i}",
            body="word " * 200,
            created_at=NOW,
            updated_at=NOW,
        )
        for i in range(50)
    ],
    next_cursor=None,
)


def test_normalise_a_messy_search_query(benchmark: BenchmarkFixture) -> None:
    # Full-width letters (NFKC folds them), a tab, upper case and doubled spaces.
    raw = '  \uff32\uff45\uff50lication\tLAG  "read replicas" -sharding '

    query = benchmark(normalise_query, raw, limit=20)

    assert query.text == 'replication lag "read replicas" -sharding'


def test_question_becomes_an_or_query(benchmark: BenchmarkFixture) -> None:
    question = "How does replication lag affect caching, or indexing, under heavy write load?"

    query = benchmark(question_to_query, question, limit=5)

    assert query.text.startswith("how or does or replication or lag")
    assert " or or " not in query.text


def test_rank_weights(benchmark: BenchmarkFixture) -> None:
    assert benchmark(rank_weights, title=1.0, body=0.4) == [0.0, 0.0, 0.4, 1.0]


def test_check_citations_of_twenty_documents(benchmark: BenchmarkFixture) -> None:
    retrieved = [uuid.UUID(int=i) for i in range(20)]
    cited = [str(uuid.UUID(int=i)) for i in range(0, 40, 2)]

    checked = benchmark(check_citations, cited, retrieved=retrieved)

    assert len(checked.accepted) == 10
    assert len(checked.rejected) == 10


def test_serialise_fifty_search_hits(benchmark: BenchmarkFixture) -> None:
    results = SearchResults(query="replication", hits=HITS)

    payload = benchmark(results.model_dump_json)

    assert SearchResults.model_validate_json(payload) == results


def test_serialise_a_page_of_fifty_documents(benchmark: BenchmarkFixture) -> None:
    payload = benchmark(PAGE.model_dump_json)

    assert DocumentPage.model_validate_json(payload) == PAGE
