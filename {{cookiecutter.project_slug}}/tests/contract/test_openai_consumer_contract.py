"""Consumer contract of the openai AnswerProvider client: what it sends and what it relies on.

Checked against the in-process fake (it stands for a paid external API) and against every
committed cassette, so a client change that the recordings (or the real API) would not accept
fails here first, with the field named.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from _fixtures.service import OPENAI_TEST_MODEL
from _helpers.openai_stub import FakeOpenAI
from testkit.golden import SCRUBBED

from {{ cookiecutter.package_name }}.answer_providers.openai import (
    OpenAIProvider,
    parse_completion,
)
from {{ cookiecutter.package_name }}.answer_providers.protocol import (
    AnswerProviderError,
    SourceDocument,
)

pytestmark = pytest.mark.anyio

CASSETTES = sorted((Path(__file__).parents[1] / "cassettes").rglob("*.json"))
REQUEST_FIELDS = {"model", "messages", "temperature", "response_format"}
DOCUMENTS = (SourceDocument(id="doc-1", title="Backups", body="Backups run nightly."),)


def assert_request_shape(method: str, path: str, headers: dict[str, str], body: Any) -> None:
    assert (method, path) == ("POST", "/v1/chat/completions")
    assert headers["authorization"].startswith("Bearer ") or headers["authorization"] == SCRUBBED
    assert headers["content-type"] == "application/json"
    assert set(body) == REQUEST_FIELDS, (
        f"request fields changed: {sorted(set(body) ^ REQUEST_FIELDS)}"
    )
    assert isinstance(body["model"], str)
    assert body["model"]
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert all(
        set(m) == {"role", "content"} and isinstance(m["content"], str) for m in body["messages"]
    )
    assert body["temperature"] == 0
    assert body["response_format"] == {"type": "json_object"}


async def test_client_sends_the_agreed_request_to_the_fake(fake_openai: FakeOpenAI) -> None:
    provider = OpenAIProvider(
        client=httpx.AsyncClient(
            base_url="https://api.openai.com/v1",
            headers={"Authorization": "Bearer sk-contract"},
            transport=fake_openai.transport(),
        ),
        model=OPENAI_TEST_MODEL,
    )
    try:
        answer = await provider.answer(question="When do backups run?", documents=DOCUMENTS)
    finally:
        await provider.aclose()
    [request] = fake_openai.requests
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert_request_shape(request.method, request.url.path, headers, json.loads(request.content))
    assert headers["authorization"] == "Bearer sk-contract"
    assert answer.citations == ("doc-1",)


def test_the_response_fields_the_client_relies_on_are_only_choices_message_content() -> None:
    minimal = {"choices": [{"message": {"content": '{"answer": "a", "citations": ["x"]}'}}]}
    answer = parse_completion(minimal)
    assert (answer.text, answer.citations) == ("a", ("x",))


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"choices": []},
        {"choices": [{"message": {}}]},
        {"choices": [{"message": {"content": 1}}]},
    ],
    ids=["no-choices", "empty-choices", "no-content", "content-not-text"],
)
def test_a_reply_without_the_relied_on_fields_is_a_provider_error(payload: Any) -> None:
    with pytest.raises(AnswerProviderError, match=r"choices\[0\]\.message\.content"):
        parse_completion(payload)


def test_cassettes_exist_for_the_openai_provider() -> None:
    assert CASSETTES, (
        "no cassettes under tests/cassettes: record them with RECORD=1 TEST_MODE=GOLDEN"
    )


@pytest.mark.parametrize("cassette", CASSETTES, ids=[p.stem for p in CASSETTES])
def test_every_recording_matches_the_contract(cassette: Path) -> None:
    for interaction in json.loads(cassette.read_text())["interactions"]:
        request, response = interaction["request"], interaction["response"]
        headers = {k.lower(): v[0] for k, v in request["headers"].items()}
        assert headers["authorization"] == SCRUBBED, f"{cassette} holds a credential"
        assert_request_shape(
            request["method"], httpx.URL(request["uri"]).path, headers, json.loads(request["body"])
        )
        assert response["status"]["code"] == 200
        answer = parse_completion(json.loads(response["body"]["string"]))
        assert answer.text
