"""Pick the configured provider (APP_ANSWER_PROVIDER)."""

from __future__ import annotations

from {{ cookiecutter.package_name }}.answer_providers.extractive import (
    ExtractiveProvider,
)
from {{ cookiecutter.package_name }}.answer_providers.openai import (
    OpenAIProvider,
)
from {{ cookiecutter.package_name }}.answer_providers.protocol import (
    AnswerProvider,
)
from {{ cookiecutter.package_name }}.settings import Settings


def build_answer_provider(settings: Settings) -> AnswerProvider:
    if settings.answer_provider == "openai":
        return OpenAIProvider.from_settings(settings)
    return ExtractiveProvider()
