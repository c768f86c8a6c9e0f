"""Settings validation: default secrets refused outside development, URLs checked."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.settings import (
    DEFAULT_ADMIN_TOKEN,
    DEFAULT_API_KEY_PEPPER,
    Settings,
)

STRONG = "s" * 32

# The developer's own APP_* variables must not decide these tests.
pytestmark = pytest.mark.usefixtures("clean_app_env")


def _settings(**values: Any) -> Settings:
    """Settings from keyword values of any type, as the environment would provide them."""
    return Settings(**values)


def test_development_runs_with_the_default_secrets() -> None:
    settings = _settings(env="development")
    assert settings.admin_token.get_secret_value() == DEFAULT_ADMIN_TOKEN
    assert settings.api_key_pepper.get_secret_value() == DEFAULT_API_KEY_PEPPER


@pytest.mark.parametrize("env", ["test", "staging", "production"])
@pytest.mark.parametrize(
    ("field", "variable"),
    [("admin_token", "APP_ADMIN_TOKEN"), ("api_key_pepper", "APP_API_KEY_PEPPER")],
)
def test_default_secret_is_refused_outside_development_naming_the_variable(
    env: str, field: str, variable: str
) -> None:
    secrets = {"admin_token": STRONG, "api_key_pepper": STRONG}
    del secrets[field]
    with pytest.raises(ValidationError) as excinfo:
        _settings(env=env, **secrets)
    assert f"{variable} must be set when APP_ENV is '{env}'" in str(excinfo.value)


def test_production_from_the_environment_without_secrets_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(ValidationError, match="APP_ADMIN_TOKEN must be set"):
        Settings()


def test_short_secret_is_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="APP_ADMIN_TOKEN must be at least 16 characters"):
        _settings(env="production", admin_token="short", api_key_pepper=STRONG)


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("APP_ADMIN_TOKEN", "a" * 20)
    monkeypatch.setenv("APP_API_KEY_PEPPER", "p" * 20)
    settings = Settings()
    assert settings.env == "production"
    assert settings.admin_token.get_secret_value() == "a" * 20


def test_unknown_env_names_the_allowed_values() -> None:
    with pytest.raises(ValidationError, match="'development', 'test', 'staging' or 'production'"):
        _settings(env="prod")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@db:5432/kb",
        "postgres://u@db:5432/kb",
        "postgresql+psycopg://u@db:5432/kb",
    ],
)
def test_database_url_is_pointed_at_the_psycopg_driver(url: str) -> None:
    assert _settings(database_url=url).database_url == "postgresql+psycopg://u@db:5432/kb"


def test_database_url_with_another_driver_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValidationError, match="APP_DATABASE_URL must start with postgresql"):
        _settings(database_url="mysql://u@db/kb")


def test_redis_url_with_another_scheme_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValidationError, match="APP_REDIS_URL must start with redis://"):
        _settings(redis_url="http://cache:6379")


def test_secrets_do_not_appear_in_the_settings_repr() -> None:
    settings = _settings(env="production", admin_token=STRONG, api_key_pepper=STRONG)
    assert STRONG not in repr(settings)
