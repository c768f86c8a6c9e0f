"""The chaos scenarios' harness (tests/_fixtures/chaos.py: the service on broken dependencies),
loaded for this tier only: the other tiers never import it."""

from __future__ import annotations

import pytest

# Before the import: pytest rewrites the asserts only of modules registered before they load.
pytest.register_assert_rewrite("_fixtures.chaos")

from _fixtures.chaos import chaos_dependencies, chaos_service  # noqa: E402, F401 (fixtures)
