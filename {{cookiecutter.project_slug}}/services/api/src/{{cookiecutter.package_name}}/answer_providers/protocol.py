"""What every answer provider receives and returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SourceDocument:
    """A retrieved document as a provider sees it; ``id`` is what a citation must name."""

    id: str
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Usage:
    """What one answer cost: the provider's token counts and their price in US dollars."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


FREE = Usage()


@dataclass(frozen=True, slots=True)
class ProviderAnswer:
    """A provider's answer. ``citations`` are claims, checked by the caller, never trusted.
    ``usage`` is what it cost (zero for a provider without a model, like the extractive one)."""

    text: str
    citations: tuple[str, ...]
    usage: Usage = FREE


class AnswerProviderError(RuntimeError):
    """The provider could not answer (unreachable, timed out, or replied with an error)."""


class AnswerProvider(Protocol):
    name: str

    async def answer(
        self, *, question: str, documents: tuple[SourceDocument, ...]
    ) -> ProviderAnswer: ...

    async def aclose(self) -> None: ...
