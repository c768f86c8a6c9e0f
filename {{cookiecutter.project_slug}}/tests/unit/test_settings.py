"""Settings validation: default secrets refused outside development, URLs checked."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.settings import (
    DEFAULT_ADMIN_TOKEN,
    DEFAULT_API_KEY_PEPPER,
    Settings,
)

STRONG = "s" * 32


@pytest.fixture(autouse=True)
def _no_app_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("APP_ENV", "APP_ADMIN_TOKEN", "APP_API_KEY_PEPPER", "APP_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_development_runs_with_the_default_secrets() -> None:
    settings = Settings(env="development")
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
        Settings(env=env, **secrets)
    message = str(excinfo.value)
    assert f"{variable} must be set when APP_ENV is '{env}'" in message


def test_short_secret_is_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="APP_ADMIN_TOKEN must be at least 16 characters"):
        Settings(env="production", admin_token="short", api_key_pepper=STRONG)


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("APP_ADMIN_TOKEN", "a" * 20)
    monkeypatch.setenv("APP_API_KEY_PEPPER", "p" * 20)
    settings = Settings()
    assert settings.env == "production"
    assert settings.admin_token.get_secret_value() == "a" * 20


def test_unknown_env_names_the_allowed_values() -> None:
    with pytest.raises(ValidationError, match="'development', 'test', 'staging' or 'production'"):
        Settings(env="prod")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@db:5432/kb",
        "postgres://u@db:5432/kb",
        "postgresql+psycopg://u@db:5432/kb",
    ],
)
def test_database_url_is_pointed_at_the_psycopg_driver(url: str) -> None:
    assert Settings(database_url=url).database_url == "postgresql+psycopg://u@db:5432/kb"


def test_database_url_with_another_driver_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValidationError, match="APP_DATABASE_URL must start with postgresql"):
        Settings(database_url="mysql://u@db/kb")


def test_redis_url_with_another_scheme_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValidationError, match="APP_REDIS_URL must start with redis://"):
        Settings(redis_url="http://cache:6379")


def test_secrets_do_not_appear_in_the_settings_repr() -> None:
    settings = Settings(env="production", admin_token=STRONG, api_key_pepper=STRONG)
    assert STRONG not in repr(settings)
