"""API key format, hashing and constant-time comparison (pure, no I/O).

A key looks like ``kb_<key id>_<secret>``. The key id is public and indexed, so a
request finds its row with one lookup; only a keyed hash of the secret is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

KEY_PREFIX = "kb"
_KEY_ID_BYTES = 8
_SECRET_BYTES = 32
_KEY_ID_PATTERN = re.compile(r"[0-9a-f]{16}")
# token_urlsafe(32) gives 43 characters of the URL-safe base64 alphabet.
_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, slots=True)
class ParsedKey:
    key_id: str
    secret: str


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly generated key: ``plaintext`` is shown to the caller once, never stored."""

    key_id: str
    plaintext: str
    secret_hash: str


def issue_key(*, pepper: str) -> IssuedKey:
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return IssuedKey(
        key_id=key_id,
        plaintext=f"{KEY_PREFIX}_{key_id}_{secret}",
        secret_hash=hash_secret(key_id=key_id, secret=secret, pepper=pepper),
    )


def parse_key(raw: str) -> ParsedKey | None:
    """Split a presented key into id and secret; None when it is not a well-formed key."""
    prefix, _, rest = raw.strip().partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX:
        return None
    if not _KEY_ID_PATTERN.fullmatch(key_id) or not _SECRET_PATTERN.fullmatch(secret):
        return None
    return ParsedKey(key_id=key_id, secret=secret)


def hash_secret(*, key_id: str, secret: str, pepper: str) -> str:
    # HMAC-SHA256 rather than a slow password hash: the secret holds 256 random bits,
    # so guessing is hopeless and a slow KDF would only add latency to every request.
    # The pepper lives outside the database, so a leaked table alone verifies nothing.
    # The key id is part of the message so a hash cannot be moved to another key row.
    message = f"{key_id}:{secret}".encode()
    return hmac.new(pepper.encode(), message, hashlib.sha256).hexdigest()


def verify_secret(*, key: ParsedKey, secret_hash: str, pepper: str) -> bool:
    expected = hash_secret(key_id=key.key_id, secret=key.secret, pepper=pepper)
    return hmac.compare_digest(expected, secret_hash)


def tokens_match(presented: str, expected: str) -> bool:
    """Constant-time comparison of a presented bearer token (e.g. the admin token)."""
    return hmac.compare_digest(presented.encode(), expected.encode())
