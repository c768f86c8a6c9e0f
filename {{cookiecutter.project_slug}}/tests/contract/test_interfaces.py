"""Every call the service makes on its collaborators, and every enum member it names, exists."""

from __future__ import annotations

import textwrap
from http import HTTPStatus
from pathlib import Path

import pytest
from contract.interfaces import CallSite, call_problem, collaborator_calls, enum_references

from _fixtures.service import SERVICE_DIR

PACKAGE = "{{ cookiecutter.package_name }}"
SOURCE_ROOT = SERVICE_DIR / "src" / PACKAGE
CALLS = collaborator_calls(SOURCE_ROOT)


def test_the_scan_finds_the_calls_on_every_kind_of_collaborator() -> None:
    """Guards the scanner itself: if it stopped resolving a kind, the check below would pass
    vacuously."""
    owners = {call.owner.__name__ for call in CALLS}

    assert {"Redis", "AsyncSession", "AsyncEngine", "JetStreamContext", "AsyncClient"} <= owners


@pytest.mark.parametrize("call", CALLS, ids=str)
def test_each_collaborator_call_matches_the_installed_library(call: CallSite) -> None:
    problem = call_problem(call)
    assert problem is None, problem


def test_a_misspelt_method_and_an_unknown_keyword_are_caught(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        textwrap.dedent(
            """
            from redis.asyncio import Redis
            import httpx

            async def f(redis: Redis) -> None:
                await redis.sett("k", "v")
                await redis.set("k", "v", expire_in=3)
                async with httpx.AsyncClient() as client:
                    await client.get("https://example.test", timeout=1, retries=2)
            """
        )
    )

    problems = [call_problem(call) for call in collaborator_calls(tmp_path)]

    assert problems[0] is not None
    assert "Redis.sett: no such method" in problems[0]
    assert problems[1] is not None
    assert "unexpected keyword argument 'expire_in'" in problems[1]
    assert problems[2] is not None
    assert "unexpected keyword argument 'retries'" in problems[2]


def test_every_enum_member_the_service_names_exists() -> None:
    references = enum_references(SOURCE_ROOT, PACKAGE)

    assert references, "no enum references found: the scan is broken"
    missing = [
        f"{path.name}:{line} {owner.__name__}.{name}"
        for path, line, owner, name in references
        if name not in owner.__members__
    ]
    assert not missing, f"enum members that do not exist: {missing}"


def test_a_missing_enum_member_is_caught(tmp_path: Path) -> None:
    (tmp_path / "uses.py").write_text("from http import HTTPStatus\nx = HTTPStatus.NOT_A_STATUS\n")

    references = enum_references(tmp_path, "scratch")

    assert [(owner, name) for _, _, owner, name in references] == [(HTTPStatus, "NOT_A_STATUS")]
    assert "NOT_A_STATUS" not in HTTPStatus.__members__
