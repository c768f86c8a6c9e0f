from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from testkit.header import format_header, template_version
from testkit.infra.addresses import check_scheme, host_port, mask_password
from testkit.infra.protocol import Probe, ProbeStatus
from testkit.infra.resolve import resolve
from testkit.isolation import unique_name, with_database, with_search_path


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://app:s3cret@db:5432/app", "postgresql://app:***@db:5432/app"),
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
    ],
)
def test_passwords_are_masked_and_everything_else_kept(url: str, masked: str) -> None:
    assert mask_password(url) == masked


def test_host_and_port_default_to_the_services_standard_port() -> None:
    assert host_port("postgresql://u@db/app") == ("db", 5432)
    assert host_port("redis://cache") == ("cache", 6379)
    assert host_port("nats://bus:4333") == ("bus", 4333)
    assert host_port("postgresql:///app?host=/var/run/postgresql") is None


def test_a_url_with_the_wrong_scheme_is_named_with_the_allowed_schemes() -> None:
    assert check_scheme("redis", "http://x:1", "TEST_REDIS_URL") == (
        "TEST_REDIS_URL='http://x:1' must start with redis:// or rediss://"
    )
    assert check_scheme("redis", "rediss://x:1", "TEST_REDIS_URL") is None


def test_the_schema_url_sets_search_path_through_libpq_options() -> None:
    url = with_search_path("postgresql://u@h:5432/db?sslmode=disable", "t_main_ab12")

    parts = urlsplit(url)
    assert parts.path == "/db"
    assert parse_qs(parts.query) == {
        "sslmode": ["disable"],
        "options": ["-csearch_path=t_main_ab12"],
    }
    assert "options=-csearch_path%3Dt_main_ab12" in url


def test_the_worker_database_url_keeps_the_server_and_credentials() -> None:
    assert (
        with_database("postgresql://u:p@h:5/postgres", "tk_gw1_00")
        == "postgresql://u:p@h:5/tk_gw1_00"
    )


def test_unique_names_carry_the_worker_and_never_repeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")

    names = {unique_name("tk", separator=":") for _ in range(1000)}

    assert len(names) == 1000
    assert all(name.startswith("tk:gw3:") for name in names)


def test_the_header_is_one_line_of_facts() -> None:
    resolutions = [
        resolve(
            "postgres", [Probe("url", ProbeStatus.AVAILABLE, "postgresql://127.0.0.1:5432/test")]
        ),
        resolve("redis", [Probe("url", ProbeStatus.SKIPPED, "TEST_REDIS_URL not set")]),
    ]

    assert format_header("MOCK", 123, resolutions, "0.2.0") == (
        "testkit: mode=MOCK seed=123 postgres=url(postgresql://127.0.0.1:5432/test) "
        "redis=unavailable(TEST_REDIS_URL not set) template=0.2.0"
    )


def test_the_template_release_is_read_from_the_file_the_template_writes(tmp_path: Path) -> None:
    assert template_version(tmp_path) is None
    (tmp_path / ".template-version").write_text("0.2.0\n", encoding="utf-8")
    assert template_version(tmp_path) == "0.2.0"
