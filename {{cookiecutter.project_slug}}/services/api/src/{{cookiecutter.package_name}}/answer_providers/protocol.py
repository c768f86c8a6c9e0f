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
class ProviderAnswer:
    """A provider's answer. ``citations`` are claims, checked by the caller, never trusted."""

    text: str
    citations: tuple[str, ...]


class AnswerProviderError(RuntimeError):
    """The provider could not answer (unreachable, timed out, or replied with an error)."""


class AnswerProvider(Protocol):
    name: str

    async def answer(
        self, *, question: str, documents: tuple[SourceDocument, ...]
    ) -> ProviderAnswer: ...

    async def aclose(self) -> None: ...
