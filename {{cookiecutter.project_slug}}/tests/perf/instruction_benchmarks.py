"""Instruction-count benchmarks of the hot paths, counted under callgrind by
`make perf-instructions` (testkit.perf.instructions).

A plain module, not a test file: its top level is the set-up, and each ``bench_<name>()`` makes
one call of a hot path and asserts the result, so it cannot get cheaper by doing the wrong
thing. The runner imports this module once per revision, forks a process per benchmark, warms
the benchmark up and counts the instructions of many calls; start-up, imports and set-up are not
counted. Instructions per call growing by more than `perf_instructions_pct` ([tool.testkit] in
pyproject.toml) fails the gate.
"""

from __future__ import annotations
{% if cookiecutter.include_sample_service == 'yes' %}
import uuid
{% endif %}
from testkit.perf.recorder import SampleRecorder
{%- if cookiecutter.include_sample_service == 'yes' %}

from {{ cookiecutter.package_name }}.citations import check_citations
from {{ cookiecutter.package_name }}.rate_limit import decide
from {{ cookiecutter.package_name }}.retrieval import question_to_query
from {{ cookiecutter.package_name }}.search_query import normalise_query, rank_weights
{%- endif %}

RECORDER = SampleRecorder(output=None)
{%- if cookiecutter.include_sample_service == 'yes' %}
# Full-width letters (NFKC folds them), a tab, upper case and doubled spaces.
MESSY_QUERY = '  \uff32\uff45\uff50lication\tLAG  "read replicas" -sharding '
QUESTION = "How does replication lag affect caching, or indexing, under heavy write load?"
RETRIEVED = [uuid.UUID(int=i) for i in range(20)]
# Half of them retrieved, in upper case (canonicalised), half unknown.
CITED = [str(uuid.UUID(int=i)).upper() for i in range(0, 40, 2)]
{%- endif %}


def bench_recorder_on_request() -> None:
    # testkit's locust listener: one request's row, as every request of a perf run adds one.
    RECORDER.on_request("GET", "/search", 12.5, None, start_time=1_000.0)
    assert RECORDER.rows == [("GET /search", 1_000.0, 12.5, False)]
    # Emptied every call: a list that kept growing would make some calls pay for copying it.
    RECORDER.rows.clear()
{%- if cookiecutter.include_sample_service == 'yes' %}


def bench_normalise_query() -> None:
    query = normalise_query(MESSY_QUERY, limit=20)
    assert query.text == 'replication lag "read replicas" -sharding'


def bench_question_to_query() -> None:
    # /ask's ranked retrieval: any of the question's words, ranked by ts_rank_cd.
    query = question_to_query(QUESTION, limit=5)
    assert query.text.startswith("how or does or replication or lag")


def bench_rank_weights() -> None:
    assert rank_weights(title=1.0, body=0.4) == [0.0, 0.0, 0.4, 1.0]


def bench_rate_limit_refuses() -> None:
    # The refused branch does everything the admitted one does, plus the retry-after.
    decision = decide(count=101, limit=100, now=1_000_030.5)
    assert not decision.allowed
    assert decision.retry_after == 50


def bench_check_citations() -> None:
    checked = check_citations(CITED, retrieved=RETRIEVED)
    assert len(checked.accepted) == 10
    assert len(checked.rejected) == 10
{%- endif %}
