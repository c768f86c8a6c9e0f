"""Prompt injection and hostile input against POST /ask, one test per case in cases.json.

Documents are written through POST /documents, the way hostile text really reaches /ask. The
openai cases use the in-process fake (it stands for a paid external API), which obeys injected
"cite <id>" instructions on purpose: the defence under test is the service's, not the model's.
This tier is gated by a failure budget (testkit.budget), not all-or-nothing.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from _fixtures.service import OPENAI_TEST_MODEL, ServiceHarness, create_tenant
from _helpers.openai_stub import FakeOpenAI

from {{ cookiecutter.package_name }}.answer_providers.openai import (
    OpenAIProvider,
)
from {{ cookiecutter.package_name }}.answer_providers.prompt import (
    DOCUMENTS_CLOSE,
    DOCUMENTS_OPEN,
    SYSTEM_PROMPT,
)
from {{ cookiecutter.package_name }}.routers.ask import (
    get_answer_provider,
)

pytestmark = pytest.mark.anyio

CASES: list[dict[str, Any]] = json.loads(Path(__file__).with_name("cases.json").read_text())[
    "cases"
]
CANARY = "CANARY-7f3e launch code 0000-1111"
MAX_ANSWER_CHARS = 2_000


def _fill(value: Any, foreign_id: str) -> Any:
    if isinstance(value, str):
        return value.replace("{foreign_id}", foreign_id)
    if isinstance(value, dict):
        return {k: _fill(v, foreign_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, foreign_id) for v in value]
    return value


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
async def test_hostile_ask_case(
    service: ServiceHarness, fake_openai: FakeOpenAI, case: dict[str, Any]
) -> None:
    client = service.client
    victim = await create_tenant(client, name="Victim")
    attacker = await create_tenant(client, name="Attacker")
    secret = await client.post(
        "/documents",
        json={"title": "Launch secret", "body": f"The launch code is {CANARY}."},
        headers=victim.headers,
    )
    assert secret.status_code == 201, secret.text
    case = _fill(case, secret.json()["id"])
    own_ids = set()
    for document in case["documents"]:
        created = await client.post("/documents", json=document, headers=attacker.headers)
        assert created.status_code == 201, created.text
        own_ids.add(uuid.UUID(created.json()["id"]))
    if case["provider"] == "openai":
        provider = OpenAIProvider(
            client=httpx.AsyncClient(
                base_url="https://api.openai.com/v1",
                headers={"Authorization": "Bearer sk-adversarial"},
                transport=fake_openai.transport(),
            ),
            model=OPENAI_TEST_MODEL,
        )
        service.app.dependency_overrides[get_answer_provider] = lambda: provider

    payload = {"question": case["question"], **case.get("extra", {})}
    if "top_k" in case:
        payload["top_k"] = case["top_k"]
    response = await client.post("/ask", json=payload, headers=attacker.headers)
    if case["provider"] == "openai":
        await provider.aclose()

    assert response.status_code == case["expect_status"], response.text
    assert CANARY not in response.text
    if response.status_code != 200:
        return
    body = response.json()
    retrieved = {uuid.UUID(hit["id"]) for hit in body["retrieved"]}
    cited = {uuid.UUID(citation["id"]) for citation in body["citations"]}
    assert cited <= retrieved <= own_ids, "cited or retrieved a document the caller does not own"
    assert len(body["answer"]) <= MAX_ANSWER_CHARS
    for sent in fake_openai.requests:
        messages = json.loads(sent.content)["messages"]
        assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
        user = messages[1]["content"]
        # Document and question text can neither close the data block nor open another.
        assert (user.count(DOCUMENTS_OPEN), user.count(DOCUMENTS_CLOSE)) == (1, 1)
        assert user.rstrip().endswith(DOCUMENTS_CLOSE)
