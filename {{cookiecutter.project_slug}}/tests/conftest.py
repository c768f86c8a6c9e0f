"""Suite-wide configuration. Fixtures live in testkit and tests/_fixtures, not here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

pytest_plugins = [
{%- if cookiecutter.include_sample_service == 'yes' %}
    # Before factories, which imports it: pytest must register a plugin module before
    # anything else imports it, or it cannot rewrite that module's asserts.
    "_fixtures.service",
{%- endif %}
    "_fixtures.factories",
]

HYPOTHESIS_PROFILES = ("dev", "ci")
# One example database at the repository root; CI caches the directory between runs,
# so a failing example found once is replayed first on every later run.
_EXAMPLES = DirectoryBasedExampleDatabase(
    Path(__file__).resolve().parent.parent / ".hypothesis" / "examples"
)

settings.register_profile("dev", database=_EXAMPLES)
# CI: the same examples on every run (derandomize) plus replay of the saved failures.
# Hypothesis rejects derandomize and database in one call ("derandomize implies no
# database"), so the database is layered over a derandomized parent on purpose.
settings.register_profile(
    "ci", parent=settings(derandomize=True, print_blob=True), database=_EXAMPLES
)


def pytest_configure(config: pytest.Config) -> None:
    profile = os.environ.get("HYPOTHESIS_PROFILE", "dev")
    if profile not in HYPOTHESIS_PROFILES:
        raise pytest.UsageError(
            f"HYPOTHESIS_PROFILE must be one of {', '.join(HYPOTHESIS_PROFILES)}, got {profile!r}"
        )
    settings.load_profile(profile)
