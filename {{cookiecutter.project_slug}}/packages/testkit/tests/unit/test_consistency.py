"""The infrastructure tier's comparisons (testkit.consistency) bite on each kind of drift."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from testkit.consistency.compose import compose_problems, infra_env_urls, parse_compose
from testkit.consistency.environment import documented, drift, literal_variables, section
from testkit.consistency.migrations import MigrationGraphError, walk_order
from testkit.consistency.workflows import make_targets_in, targets_from_database
from testkit.infra.testcontainers import SPECS

COMPOSE = """
services:
  postgres:
    image: postgres:16-alpine
    ports: ["127.0.0.1:5432:5432"]
    healthcheck: {test: ["CMD", "pg_isready", "-U", "postgres"]}
  nats:
    image: nats:2.10-alpine
    command: ["-js", "-m", "8222"]
    ports: ["127.0.0.1:4222:4222"]
    healthcheck: {test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8222/healthz"]}
"""
URLS = {
    "postgres": "postgresql://postgres@127.0.0.1:5432/postgres",
    "nats": "nats://127.0.0.1:4222",
}


def _problems(text: str, urls: dict[str, str] = URLS) -> list[str]:
    services = parse_compose(text, source="compose.yml")
    return compose_problems(services, used=("postgres", "nats"), specs=SPECS, infra_urls=urls)


def test_an_agreeing_compose_file_has_no_problems() -> None:
    assert _problems(COMPOSE) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("postgres:16-alpine", "postgres:15-alpine", "testcontainers starts postgres:16"),
        ('"-js", ', "", "lacks -js"),
        ("pg_isready", "true", "does not run pg_isready"),
        ('"-m", "8222"', '"-m", "8223"', "monitoring port"),
        ("5432:5432", "5433:5432", "points at port 5432"),
    ],
)
def test_each_drift_is_named(old: str, new: str, expected: str) -> None:
    problems = _problems(COMPOSE.replace(old, new))
    assert any(expected in problem for problem in problems), problems


def test_a_service_the_project_does_not_use_is_named() -> None:
    services = parse_compose(COMPOSE, source="compose.yml")
    problems = compose_problems(services, used=("postgres",), specs=SPECS, infra_urls=URLS)
    assert any("differ from the services" in problem for problem in problems)


def test_infra_env_urls_are_read_from_the_infra_up_recipe() -> None:
    recipe = "\t@printf '%s\\n' 'TEST_POSTGRES_URL=postgresql://p@127.0.0.1:5432/postgres' \\"
    assert infra_env_urls(recipe) == {"postgres": "postgresql://p@127.0.0.1:5432/postgres"}


def test_make_targets_are_read_from_each_command_of_a_script() -> None:
    script = textwrap.dedent(
        """\
        make lint typecheck
        SHARD=1 make -C sub -j 2 test-shard SHARDS=2 ARGS='-m "not unit"' && echo done
        git config user.name bot
        make $(TARGET) || true
        """
    )
    assert make_targets_in(script) == [("lint", "typecheck"), ("test-shard",), ()]


def test_targets_come_from_makes_database_without_files_it_only_considered() -> None:
    database = textwrap.dedent(
        """\
        # Not a target:
        Makefile:
        #  Implicit rule search has been done.
        test-unit: install
        \t$(PYTEST) -m unit
        lint typecheck: install
        VAR := value
        .PHONY: test-unit
        %.o: %.c
        """
    )
    assert targets_from_database(database) == {"test-unit", "lint", "typecheck"}


def test_environment_drift_names_both_directions(tmp_path: Path) -> None:
    source = tmp_path / "reader.py"
    # Written into a file: a literal here would count as a variable this package reads.
    source.write_text("import os\nos.environ.get('TESTKIT_' + 'X')\nos.getenv('TEST_READ')\n")
    read = literal_variables([source])
    guide = "## Environment variables\n\n| `TEST_OLD` |\n\n## Next\n`TEST_READ`\n"
    result = drift(documented(section(guide)), read)
    assert "TEST_READ is read by the code but not documented" in result.problems
    assert "TEST_OLD is documented but nothing reads it" in result.problems


def test_revisions_are_walked_parents_first_across_branches() -> None:
    parents = {"0005": ("0003",), "0004": ("0003",), "0003": ("0001",), "0001": ()}
    assert walk_order(parents) == ["0001", "0003", "0004", "0005"]
    with pytest.raises(MigrationGraphError, match="unknown 0009"):
        walk_order({"0001": ("0009",)})
