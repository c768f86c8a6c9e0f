from __future__ import annotations

from pathlib import Path

from testkit.infra.local_binary import find_pg_ctl, plan_postgres_user


def test_a_non_root_user_runs_postgres_as_itself() -> None:
    plan = plan_postgres_user(euid=1000, user_exists=False, runuser=None)

    assert plan.run_as is None
    assert plan.problem is None


def test_root_runs_postgres_as_the_postgres_system_user() -> None:
    assert (
        plan_postgres_user(euid=0, user_exists=True, runuser="/usr/sbin/runuser").run_as
        == "postgres"
    )


def test_root_without_a_postgres_user_gets_a_reason_instead_of_a_server() -> None:
    plan = plan_postgres_user(euid=0, user_exists=False, runuser="/usr/sbin/runuser")

    assert plan.run_as is None
    assert plan.problem is not None
    assert "no 'postgres' system user" in plan.problem


def _fake_pg_ctl(root: Path, version: str) -> Path:
    binary = root / version / "bin" / "pg_ctl"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    return binary


def test_pg_ctl_off_path_is_found_in_the_newest_versioned_directory(tmp_path: Path) -> None:
    _fake_pg_ctl(tmp_path, "9.6")
    newest = _fake_pg_ctl(tmp_path, "16")
    _fake_pg_ctl(tmp_path, "15")

    found = find_pg_ctl(path=str(tmp_path / "empty"), search_globs=(f"{tmp_path}/*/bin/pg_ctl",))

    assert found == newest


def test_pg_ctl_on_path_wins_over_versioned_directories(tmp_path: Path) -> None:
    on_path = _fake_pg_ctl(tmp_path, "path")
    _fake_pg_ctl(tmp_path, "17")

    found = find_pg_ctl(path=str(on_path.parent), search_globs=(f"{tmp_path}/*/bin/pg_ctl",))

    assert found == on_path
