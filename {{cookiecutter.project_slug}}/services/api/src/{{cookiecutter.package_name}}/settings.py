"""Service configuration, read from APP_* environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "APP_"

# Development defaults for the secrets. They make `uvicorn --factory` work on a laptop
# with no configuration, and are refused everywhere else (see _refuse_default_secrets).
DEFAULT_ADMIN_TOKEN = "dev-admin-token"
DEFAULT_API_KEY_PEPPER = "dev-api-key-pepper"
MIN_SECRET_LENGTH = 16

_DRIVER_SCHEME = "postgresql+psycopg://"
# libpq-style URLs (what testkit, docker and most hosts hand out) are accepted and
# pointed at the psycopg 3 driver, so one URL serves both psql and the service.
_LIBPQ_SCHEMES = ("postgresql://", "postgres://")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    env: Literal["development", "test", "staging", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    db_statement_timeout_ms: int = Field(default=5_000, gt=0)
    db_connect_timeout_seconds: int = Field(default=3, gt=0)
    db_pool_size: int = Field(default=5, gt=0)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    db_application_name: str = "knowledge-base-api"
    # Whole-request deadline (request_timeout.py): a hung dependency ends in 503, not a wait.
    # Above the other bounds (database, OpenAI and ingest timeouts) so those answer first.
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = "kb:"
    redis_decode_responses: bool = False
    redis_timeout_seconds: float = Field(default=0.5, gt=0)
    redis_client_name: str = "knowledge-base-api"
    search_cache_ttl_seconds: int = Field(default=60, gt=0)
    rate_limit_per_minute: int = Field(default=120, gt=0)
    rate_limit_fail_open: bool = True
    # NATS: the outbox relay publishes to it; /ws hears live events from it.
    nats_url: str = "nats://127.0.0.1:4222"
    nats_subject_prefix: str = Field(default="kb", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
    relay_enabled: bool = True
    relay_interval_seconds: float = Field(default=0.5, gt=0)
    relay_batch_size: int = Field(default=100, gt=0, le=10_000)
    ws_queue_size: int = Field(default=256, gt=0)
    # The document projection's JetStream consumer (projection_consumer.py): a failing
    # message is redelivered with exponential backoff, then moved to the dead_letters table
    # after CONSUMER_MAX_ATTEMPTS deliveries (redelivery.py). Unacknowledged deliveries come
    # back after CONSUMER_ACK_WAIT_SECONDS (a consumer that died mid-message).
    projection_consumer_enabled: bool = True
    consumer_max_attempts: int = Field(default=5, ge=1, le=1_000)
    consumer_backoff_seconds: float = Field(default=0.5, gt=0)
    consumer_backoff_max_seconds: float = Field(default=30.0, gt=0)
    consumer_ack_wait_seconds: float = Field(default=30.0, gt=0)
    consumer_batch_size: int = Field(default=50, gt=0, le=1_000)
    admin_token: SecretStr = SecretStr(DEFAULT_ADMIN_TOKEN)
    api_key_pepper: SecretStr = SecretStr(DEFAULT_API_KEY_PEPPER)
    # /ask (helper ASK): retrieval depth and the answer provider. "openai" speaks the
    # OpenAI-compatible chat-completions API; the key is a SecretStr so it never reaches a log.
    ask_top_k: int = Field(default=5, ge=1, le=20)
    answer_provider: Literal["extractive", "openai"] = "extractive"
    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: SecretStr | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout_seconds: float = Field(default=20.0, gt=0)
    # The model's prices in USD per million tokens (gpt-4o-mini's list prices by default): the
    # provider reports each answer's cost, and the perf gate caps it (PERF_COST_CEILING).
    openai_usd_per_million_input_tokens: float = Field(default=0.15, ge=0)
    openai_usd_per_million_output_tokens: float = Field(default=0.60, ge=0)
    # The answer provider's circuit breaker (answer_providers/circuit_breaker.py): this many
    # consecutive failures open it (/ask answers 503 at once); after the cool-down one trial
    # call goes through, and closes it again if it succeeds.
    answer_breaker_failures: int = Field(default=5, ge=1, le=1_000)
    answer_breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    # URL ingest (helper INGEST): size, time and redirect bounds of one fetch, and the hosts
    # (comma-separated) exempt from the public-address check, e.g. an intranet wiki.
    ingest_max_bytes: int = Field(default=2_000_000, gt=0)
    ingest_timeout_seconds: float = Field(default=10.0, gt=0)
    ingest_max_redirects: int = Field(default=5, ge=0, le=20)
    ingest_allowed_hosts: str = ""
    # The ingest saga's recovery sweep (ingest_saga_runner.py): how often it looks for sagas
    # left unfinished by a crash, and how long one must sit still before it is compensated
    # (above request_timeout_seconds, so a live request is never overtaken).
    saga_recovery_interval_seconds: float = Field(default=30.0, gt=0)
    saga_stale_after_seconds: float = Field(default=120.0, gt=0)
    # Largest request body accepted, checked before the body is read (413 above it).
    max_request_bytes: int = Field(default=1_048_576, gt=0)

    @property
    def ingest_allowed_host_set(self) -> frozenset[str]:
        """APP_INGEST_ALLOWED_HOSTS as host names, lower case, without a trailing dot."""
        entries = self.ingest_allowed_hosts.split(",")
        hosts = (entry.strip().lower().removesuffix(".") for entry in entries)
        return frozenset(host for host in hosts if host)

    @field_validator("database_url")
    @classmethod
    def _use_psycopg_driver(cls, value: str) -> str:
        if value.startswith(_DRIVER_SCHEME):
            return value
        for scheme in _LIBPQ_SCHEMES:
            if value.startswith(scheme):
                return _DRIVER_SCHEME + value.removeprefix(scheme)
        raise ValueError(
            f"{ENV_PREFIX}DATABASE_URL must start with postgresql+psycopg://, postgresql:// "
            f"or postgres://, got {value.split('://', 1)[0]!r}"
        )

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                f"{ENV_PREFIX}REDIS_URL must start with redis://, rediss:// or unix://, "
                f"got {value.split('://', 1)[0]!r}"
            )
        return value

    @field_validator("openai_base_url")
    @classmethod
    def _openai_base_url_scheme(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(
                f"{ENV_PREFIX}OPENAI_BASE_URL must start with https:// or http://, got {value!r}"
            )
        return value.rstrip("/")

    @field_validator("nats_url")
    @classmethod
    def _nats_scheme(cls, value: str) -> str:
        if not value.startswith(("nats://", "tls://")):
            raise ValueError(
                f"{ENV_PREFIX}NATS_URL must start with nats:// or tls://, "
                f"got {value.split('://', 1)[0]!r}"
            )
        return value

    @model_validator(mode="after")
    def _openai_needs_a_key(self) -> Settings:
        if self.answer_provider == "openai" and self.openai_api_key is None:
            raise ValueError(
                f"{ENV_PREFIX}OPENAI_API_KEY must be set when "
                f"{ENV_PREFIX}ANSWER_PROVIDER is 'openai'"
            )
        return self

    @model_validator(mode="after")
    def _backoff_within_its_cap(self) -> Settings:
        if self.consumer_backoff_seconds > self.consumer_backoff_max_seconds:
            raise ValueError(
                f"{ENV_PREFIX}CONSUMER_BACKOFF_SECONDS ({self.consumer_backoff_seconds}) must "
                f"not exceed {ENV_PREFIX}CONSUMER_BACKOFF_MAX_SECONDS "
                f"({self.consumer_backoff_max_seconds})"
            )
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.env == "development":
            return self
        for field_name, default in (
            ("admin_token", DEFAULT_ADMIN_TOKEN),
            ("api_key_pepper", DEFAULT_API_KEY_PEPPER),
        ):
            variable = f"{ENV_PREFIX}{field_name.upper()}"
            secret: SecretStr = getattr(self, field_name)
            if secret.get_secret_value() == default:
                raise ValueError(
                    f"{variable} must be set when {ENV_PREFIX}ENV is {self.env!r}: "
                    "the development default is refused outside development"
                )
            if len(secret.get_secret_value()) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"{variable} must be at least {MIN_SECRET_LENGTH} characters "
                    f"when {ENV_PREFIX}ENV is {self.env!r}"
                )
        return self
