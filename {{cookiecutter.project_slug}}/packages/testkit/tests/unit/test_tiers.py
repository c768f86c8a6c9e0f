from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from testkit.tiers import (
    ONE_PROCESS_TIERS,
    SLOW_MARKER,
    SLOW_TIERS,
    TIERS,
    make_fragment,
    tier_of,
)


def test_there_are_thirteen_tiers() -> None:
    assert set(TIERS) == {
        "unit", "integration", "e2e", "property", "contract", "chaos",
        "perf", "rag", "realtime", "security", "adversarial", "observability",
        "infrastructure",
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


def test_the_make_fragment_is_the_one_the_tiers_write() -> None:
    # packages/testkit/tests/unit/ -> the project root, where make/tiers.mk lives in a bake.
    fragment = Path(__file__).resolve().parents[4] / "make" / "tiers.mk"
    if not fragment.is_file():
        pytest.skip("testkit outside its project: no make/tiers.mk to compare")
    assert fragment.read_text(encoding="utf-8") == make_fragment(), (
        "make/tiers.mk differs from testkit.tiers.TIERS: run `make tiers-fragment`"
    )


def test_the_fragment_defines_every_tier_and_its_help_in_order() -> None:
    lines = make_fragment().splitlines()
    assert f"KNOWN_TIERS := {' '.join(TIERS)}" in lines
    assert [line.split(" := ")[0] for line in lines if line.startswith("TIER_HELP_")] == [
        f"TIER_HELP_{name}" for name in TIERS
    ]


def test_the_one_process_tiers_are_tiers_and_reach_make() -> None:
    assert {"perf", "infrastructure"} <= set(ONE_PROCESS_TIERS) <= set(TIERS)
    assert f"ONE_PROCESS_TIERS := {' '.join(ONE_PROCESS_TIERS)}" in make_fragment().splitlines()


def test_the_slow_tiers_are_tiers_and_the_marker_reaches_make() -> None:
    assert {"chaos"} <= set(SLOW_TIERS) <= set(TIERS)
    assert f"SLOW_MARKER := {SLOW_MARKER}" in make_fragment().splitlines()
