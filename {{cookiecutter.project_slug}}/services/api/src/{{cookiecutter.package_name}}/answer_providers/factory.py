"""Pick the configured provider (APP_ANSWER_PROVIDER) and put it behind its circuit breaker."""

from __future__ import annotations

import time
from collections.abc import Callable

from {{ cookiecutter.package_name }}.answer_providers.circuit_breaker import (
    ProviderCircuitBreaker,
)
from {{ cookiecutter.package_name }}.answer_providers.extractive import (
    ExtractiveProvider,
)
from {{ cookiecutter.package_name }}.answer_providers.guarded import (
    GuardedProvider,
)
from {{ cookiecutter.package_name }}.answer_providers.openai import (
    OpenAIProvider,
)
from {{ cookiecutter.package_name }}.answer_providers.protocol import (
    AnswerProvider,
)
from {{ cookiecutter.package_name }}.settings import Settings


def build_answer_provider(
    settings: Settings, *, clock: Callable[[], float] = time.monotonic
) -> GuardedProvider:
    """The provider every /ask call goes through; ``clock`` times the breaker's cool-down."""
    provider: AnswerProvider
    if settings.answer_provider == "openai":
        provider = OpenAIProvider.from_settings(settings)
    else:
        provider = ExtractiveProvider()
    breaker = ProviderCircuitBreaker(
        failures=settings.answer_breaker_failures,
        cooldown_seconds=settings.answer_breaker_cooldown_seconds,
        clock=clock,
    )
    return GuardedProvider(provider, breaker)
