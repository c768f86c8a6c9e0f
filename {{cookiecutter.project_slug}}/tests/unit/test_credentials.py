"""API key format, hashing and verification."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.credentials import (
    KEY_PREFIX,
    ParsedKey,
    hash_secret,
    issue_key,
    parse_key,
    tokens_match,
    verify_secret,
)

PEPPER = "unit-test-pepper"


def test_an_issued_key_parses_and_verifies_against_its_stored_hash() -> None:
    issued = issue_key(pepper=PEPPER)
    parsed = parse_key(issued.plaintext)
    assert parsed is not None
    assert parsed.key_id == issued.key_id
    assert verify_secret(key=parsed, secret_hash=issued.secret_hash, pepper=PEPPER)


def test_the_stored_hash_does_not_contain_the_secret() -> None:
    issued = issue_key(pepper=PEPPER)
    parsed = parse_key(issued.plaintext)
    assert parsed is not None
    assert parsed.secret not in issued.secret_hash
    assert issued.plaintext.startswith(f"{KEY_PREFIX}_")


def test_issued_keys_are_unique() -> None:
    keys = {issue_key(pepper=PEPPER).plaintext for _ in range(50)}
    assert len(keys) == 50


def test_verification_fails_with_another_pepper() -> None:
    issued = issue_key(pepper=PEPPER)
    parsed = parse_key(issued.plaintext)
    assert parsed is not None
    assert not verify_secret(key=parsed, secret_hash=issued.secret_hash, pepper="other-pepper")


def test_verification_fails_for_a_changed_secret() -> None:
    issued = issue_key(pepper=PEPPER)
    parsed = parse_key(issued.plaintext)
    assert parsed is not None
    flipped = ("B" if parsed.secret[0] == "A" else "A") + parsed.secret[1:]
    tampered = ParsedKey(key_id=parsed.key_id, secret=flipped)
    assert not verify_secret(key=tampered, secret_hash=issued.secret_hash, pepper=PEPPER)


def test_a_hash_is_bound_to_its_key_id() -> None:
    secret = "x" * 43
    assert hash_secret(key_id="a" * 16, secret=secret, pepper=PEPPER) != hash_secret(
        key_id="b" * 16, secret=secret, pepper=PEPPER
    )


def test_surrounding_whitespace_is_ignored_when_parsing() -> None:
    issued = issue_key(pepper=PEPPER)
    assert parse_key(f"  {issued.plaintext}\n") == parse_key(issued.plaintext)


VALID_ID = "0123456789abcdef"
VALID_SECRET = "A" * 42 + "_"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "kb",
        f"xx_{VALID_ID}_{VALID_SECRET}",  # wrong prefix
        f"kb_{VALID_ID[:-1]}_{VALID_SECRET}",  # short key id
        f"kb_{VALID_ID.upper()}_{VALID_SECRET}",  # key ids are lowercase hex
        f"kb_{VALID_ID}_{VALID_SECRET[:-1]}",  # short secret
        f"kb_{VALID_ID}_{VALID_SECRET}A",  # long secret
        f"kb_{VALID_ID}_{VALID_SECRET[:-1]}=",  # outside the URL-safe alphabet
        f"kb_{VALID_ID}",
    ],
)
def test_malformed_keys_do_not_parse(raw: str) -> None:
    assert parse_key(raw) is None


def test_a_well_formed_key_with_underscores_in_the_secret_parses() -> None:
    assert parse_key(f"kb_{VALID_ID}_{VALID_SECRET}") == ParsedKey(VALID_ID, VALID_SECRET)


def test_tokens_match_only_when_equal() -> None:
    assert tokens_match("admin-token", "admin-token")
    assert not tokens_match("admin-token", "admin-tokeN")
    assert not tokens_match("", "admin-token")
