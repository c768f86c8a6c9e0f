from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from testkit.tiers import TIERS, tier_of


def test_there_are_twelve_tiers() -> None:
    assert set(TIERS) == {
        "unit", "integration", "e2e", "property", "contract", "chaos",
        "perf", "rag", "realtime", "security", "adversarial", "observability",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("path", "tier"),
    [
        ("/repo/tests/unit/test_a.py", "unit"),
        ("/repo/tests/integration/db/test_b.py", "integration"),
        ("/repo/packages/testkit/tests/unit/test_c.py", "unit"),
        ("/repo/tests/_fixtures/test_d.py", None),
        ("/repo/tests/test_top_level.py", None),
        ("/repo/unit/test_e.py", None),
        ("/repo/tests/e2e/tests/unit/test_f.py", "e2e"),
    ],
)
def test_the_tier_is_the_first_tier_folder_right_after_a_tests_folder(
    path: str, tier: str | None
) -> None:
    assert tier_of(PurePosixPath(path)) == tier
