"""Example property tests: invariants of testkit's URL handling, checked on generated input."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from testkit.infra.addresses import mask_password
from testkit.isolation import with_database, with_search_path

identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,40}", fullmatch=True)
hosts = st.sampled_from(["127.0.0.1", "db", "db.internal", "[::1]"])
ports = st.integers(min_value=1, max_value=65535)
secrets = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=30
)


@given(schema=identifiers, database=identifiers, host=hosts, port=ports)
def test_search_path_survives_the_round_trip_through_the_url(
    schema: str, database: str, host: str, port: int
) -> None:
    url = with_search_path(f"postgresql://app@{host}:{port}/{database}", schema)

    parts = urlsplit(url)
    assert parse_qs(parts.query)["options"] == [f"-csearch_path={schema}"]
    assert parts.path == f"/{database}"
    assert parts.port == port


@given(schema=identifiers, other=identifiers)
def test_setting_the_search_path_twice_keeps_only_the_last(schema: str, other: str) -> None:
    url = with_search_path(with_search_path("postgresql://h/db", schema), other)

    assert parse_qs(urlsplit(url).query)["options"] == [f"-csearch_path={other}"]


@given(user=identifiers, password=secrets, host=hosts, port=ports, database=identifiers)
def test_a_masked_url_never_shows_the_password_and_keeps_where_it_points(
    user: str, password: str, host: str, port: int, database: str
) -> None:
    url = f"postgresql://{user}:{quote(password, safe='')}@{host}:{port}/{database}"

    masked = mask_password(url)

    assert urlsplit(masked).password == "***"
    assert urlsplit(masked).hostname == urlsplit(url).hostname
    assert urlsplit(masked).port == port
    assert with_database(masked, "other").endswith("/other")
