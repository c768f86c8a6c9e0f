"""An OpenAI-compatible chat-completions provider (OpenAI, Azure-style gateways, vLLM, Ollama).

The contract this client relies on is pinned by tests/contract/test_openai_consumer_contract.py.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import Any

import httpx

from {{ cookiecutter.package_name }}.answer_providers.prompt import (
    chat_messages,
)
from {{ cookiecutter.package_name }}.answer_providers.protocol import (
    FREE,
    AnswerProviderError,
    ProviderAnswer,
    SourceDocument,
    Usage,
)
from {{ cookiecutter.package_name }}.settings import Settings

logger = logging.getLogger(__name__)

CHAT_COMPLETIONS_PATH = "/chat/completions"
TOKENS_PER_PRICE_UNIT = 1_000_000


@dataclass(frozen=True, slots=True)
class Pricing:
    """US dollars per million tokens, as providers list their prices."""

    input_usd: float = 0.0
    output_usd: float = 0.0


def _token_count(value: Any) -> int:
    # A missing or malformed count is unknown, not an error: the answer is still good.
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_of(payload: Any, pricing: Pricing) -> Usage:
    """The reply's ``usage`` (prompt_tokens, completion_tokens) priced; zero when absent
    (some OpenAI-compatible servers leave it out)."""
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(usage, dict):
        return FREE
    input_tokens = _token_count(usage.get("prompt_tokens"))
    output_tokens = _token_count(usage.get("completion_tokens"))
    cost = (
        input_tokens * pricing.input_usd + output_tokens * pricing.output_usd
    ) / TOKENS_PER_PRICE_UNIT
    return Usage(input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=cost)


def build_request_body(
    *, model: str, question: str, documents: tuple[SourceDocument, ...]
) -> dict[str, Any]:
    return {
        "model": model,
        "messages": chat_messages(question=question, documents=documents),
        # Deterministic as the API allows: the same question and documents, the same answer.
        "temperature": 0,
        "response_format": {"type": "json_object"},
    }


def parse_completion(payload: Any) -> ProviderAnswer:
    """choices[0].message.content, itself JSON {"answer", "citations"}; plain text is kept
    as the answer with no citations rather than failing the request."""
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise AnswerProviderError(
            "openai provider: reply has no choices[0].message.content"
        ) from exc
    if not isinstance(content, str):
        raise AnswerProviderError("openai provider: choices[0].message.content is not a string")
    try:
        parsed = json.loads(content)
    except json.JSONDecodeError:
        return ProviderAnswer(text=content.strip(), citations=())
    if not isinstance(parsed, dict) or not isinstance(parsed.get("answer"), str):
        return ProviderAnswer(text=content.strip(), citations=())
    raw_citations = parsed.get("citations")
    citations = (
        tuple(c for c in raw_citations if isinstance(c, str))
        if isinstance(raw_citations, list)
        else ()
    )
    return ProviderAnswer(text=parsed["answer"].strip(), citations=citations)


class OpenAIProvider:
    name = "openai"

    def __init__(
        self, *, client: httpx.AsyncClient, model: str, pricing: Pricing = Pricing()
    ) -> None:
        self._client = client
        self._model = model
        self._pricing = pricing

    @classmethod
    def from_settings(
        cls, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> OpenAIProvider:
        """``transport`` is for tests (an in-process fake); production uses the network."""
        if settings.openai_api_key is None:
            raise ValueError("APP_OPENAI_API_KEY is required by the openai answer provider")
        client = httpx.AsyncClient(
            base_url=settings.openai_base_url,
            headers={"Authorization": f"Bearer {settings.openai_api_key.get_secret_value()}"},
            timeout=settings.openai_timeout_seconds,
            transport=transport,
        )
        pricing = Pricing(
            input_usd=settings.openai_usd_per_million_input_tokens,
            output_usd=settings.openai_usd_per_million_output_tokens,
        )
        return cls(client=client, model=settings.openai_model, pricing=pricing)

    async def answer(
        self, *, question: str, documents: tuple[SourceDocument, ...]
    ) -> ProviderAnswer:
        body = build_request_body(model=self._model, question=question, documents=documents)
        try:
            response = await self._client.post(CHAT_COMPLETIONS_PATH, json=body)
        except httpx.HTTPError as exc:
            # The exception text names the URL, never the headers: safe to log.
            logger.warning("openai provider unreachable: %s", type(exc).__name__)
            raise AnswerProviderError(
                f"openai provider unreachable ({type(exc).__name__})"
            ) from exc
        if response.status_code != httpx.codes.OK:
            raise AnswerProviderError(f"openai provider replied HTTP {response.status_code}")
        try:
            payload = response.json()
        except ValueError as exc:
            raise AnswerProviderError("openai provider replied with invalid JSON") from exc
        return replace(parse_completion(payload), usage=usage_of(payload, self._pricing))

    async def aclose(self) -> None:
        await self._client.aclose()
