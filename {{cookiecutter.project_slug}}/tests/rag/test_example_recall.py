"""Example rag tests: recall@k against a committed floor, and retrieval isolation by owner.

The pattern for a real retriever: a small labelled corpus (query -> the documents a good answer
needs), recall@k averaged over the queries and compared with a floor that only moves up, plus
a hypothesis property that no owner ever retrieves another owner's document.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rag.example_retriever import Document, recall_at_k, retrieve

OWNER = "acme"
K = 3
# Raise the floor when retrieval improves; a change that lowers recall fails the tier.
RECALL_FLOOR = 0.9

CORPUS = (
    Document("d1", OWNER, "Payroll runs on the last Friday of every month."),
    Document("d2", OWNER, "Expense reports need a receipt for anything over 50 euros."),
    Document("d3", OWNER, "Holiday requests go to your manager two weeks ahead."),
    Document("d4", OWNER, "The VPN needs a hardware key; lost keys are replaced by IT."),
    Document("d5", OWNER, "Payroll questions: write to the finance team, not IT."),
    Document("d6", OWNER, "Parental leave lasts sixteen weeks and is fully paid."),
    Document("d7", OWNER, "Office plants are watered by the facilities team on Mondays."),
    Document("d8", OWNER, "Receipt scanning: photograph the receipt in the expense app."),
)
# query -> the ids a good answer needs (labelled by hand).
LABELLED_QUERIES = {
    "when does payroll run": frozenset({"d1"}),
    "who answers payroll questions": frozenset({"d1", "d5"}),
    "how do I submit an expense receipt": frozenset({"d2", "d8"}),
    "I lost my VPN key": frozenset({"d4"}),
    "how many weeks of parental leave": frozenset({"d6"}),
}


def mean_recall(documents: tuple[Document, ...]) -> float:
    scores = [
        recall_at_k(retrieve(documents, owner=OWNER, query=query, k=K), relevant, K)
        for query, relevant in LABELLED_QUERIES.items()
    ]
    return sum(scores) / len(scores)


def test_recall_at_k_counts_relevant_documents_in_the_first_k_only() -> None:
    assert recall_at_k(["a", "b", "c"], frozenset({"a", "c"}), k=2) == 0.5
    assert recall_at_k(["c", "a"], frozenset({"a", "c"}), k=2) == 1.0
    with pytest.raises(ValueError, match="at least one"):
        recall_at_k(["a"], frozenset(), k=1)


def test_recall_at_k_meets_the_floor() -> None:
    recall = mean_recall(CORPUS)
    assert recall >= RECALL_FLOOR, f"recall@{K} {recall:.2f} fell below the floor {RECALL_FLOOR}"


def test_the_floor_catches_a_retriever_that_ignores_the_query() -> None:
    """Guards the floor itself: documents in id order, whatever was asked, must fail it."""
    scores = [
        recall_at_k(sorted(d.id for d in CORPUS)[:K], relevant, K)
        for relevant in LABELLED_QUERIES.values()
    ]
    assert sum(scores) / len(scores) < RECALL_FLOOR


_owners = st.sampled_from(["acme", "globex", "initech"])
_texts = st.lists(st.sampled_from(["payroll", "vpn", "leave", "receipt", "key"]), max_size=4)
_documents = st.lists(
    st.builds(lambda owner, text: (owner, " ".join(text)), _owners, _texts), max_size=12
).map(lambda rows: [Document(f"doc{i}", owner, text) for i, (owner, text) in enumerate(rows)])


@given(documents=_documents, owner=_owners, query=_texts.map(" ".join), k=st.integers(1, 5))
def test_an_owner_retrieves_only_its_own_documents_whatever_others_hold(
    documents: list[Document], owner: str, query: str, k: int
) -> None:
    own = [document for document in documents if document.owner == owner]
    owners_by_id = {document.id: document.owner for document in documents}

    found = retrieve(documents, owner=owner, query=query, k=k)

    assert {owners_by_id[document_id] for document_id in found} <= {owner}
    # Other owners' documents do not even change the ranking of this owner's.
    assert found == retrieve(own, owner=owner, query=query, k=k)
