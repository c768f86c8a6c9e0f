from __future__ import annotations

import pytest

from testkit.cli import main

DEAD_URLS = {
    "TEST_POSTGRES_URL": "postgresql://app:pw@127.0.0.1:1/app",
    "TEST_REDIS_URL": "redis://127.0.0.1:1/0",
    "TEST_NATS_URL": "nats://127.0.0.1:1",
}


@pytest.fixture
def dead_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, url in DEAD_URLS.items():
        monkeypatch.setenv(variable, url)


@pytest.mark.usefixtures("dead_urls")
def test_infra_prints_each_installed_services_source_with_the_password_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["infra"]) == 0

    output = capsys.readouterr().out
    assert (
        "postgres: unavailable(postgresql://app:***@127.0.0.1:1/app (TEST_POSTGRES_URL)" in output
    )
    assert "pw@" not in output


@pytest.mark.usefixtures("dead_urls")
def test_infra_check_fails_with_exit_1_and_says_which_service_failed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["infra", "--check"]) == 1

    output = capsys.readouterr().out
    assert "postgres: unavailable(" in output
    assert "-> failed: postgres unavailable: postgresql://app:***@127.0.0.1:1/app" in output


def test_an_unknown_command_is_rejected_by_argparse_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["infar"])

    assert exited.value.code == 2
    assert "invalid choice: 'infar'" in capsys.readouterr().err
