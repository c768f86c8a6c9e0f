"""Server processes' pure parts: command lines, URLs, binaries, the root decision (none started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.chaos.servers import ephemeral
from testkit.infra.server_processes import child_pids
from testkit.infra.server_recipes import (
    find_pg_ctl,
    initdb_command,
    nats_command,
    plan_postgres_user,
    postgres_command,
    redis_command,
    server_url,
)


def test_durable_postgres_runs_in_the_foreground_and_keeps_synchronous_commit(
    tmp_path: Path,
) -> None:
    command = postgres_command(
        Path("/pg/bin/postgres"),
        datadir=tmp_path / "data",
        port=5999,
        socket_dir=tmp_path,
        durable=True,
    )

    assert command[0] == "/pg/bin/postgres"  # not pg_ctl: the process we start is the server
    assert command[command.index("-p") + 1] == "5999"
    assert command[command.index("-D") + 1] == str(tmp_path / "data")
    # A SIGKILL must not lose an acknowledged commit; fsync only matters for a kernel crash.
    assert "synchronous_commit=on" in command
    assert "fsync=off" in command
    assert "listen_addresses=127.0.0.1" in command


def test_the_session_postgres_trades_synchronous_commit_for_speed(tmp_path: Path) -> None:
    command = postgres_command(
        Path("/pg/bin/postgres"), datadir=tmp_path, port=5999, socket_dir=tmp_path, durable=False
    )

    assert "synchronous_commit=off" in command
    assert "synchronous_commit=on" not in command


def test_initdb_trusts_local_connections_for_the_postgres_role(tmp_path: Path) -> None:
    command = initdb_command(Path("/pg/bin/initdb"), datadir=tmp_path)

    assert command[:3] == ["/pg/bin/initdb", "-D", str(tmp_path)]
    assert {"-U", "postgres", "--auth=trust"} <= set(command)


def test_durable_redis_appends_and_fsyncs_every_write(tmp_path: Path) -> None:
    command = redis_command("redis-server", workdir=tmp_path, port=6399, durable=True)

    pairs = dict(zip(command[1::2], command[2::2], strict=True))
    assert pairs["--appendonly"] == "yes"
    assert pairs["--appendfsync"] == "always"
    assert pairs["--dir"] == str(tmp_path)
    assert (pairs["--port"], pairs["--bind"]) == ("6399", "127.0.0.1")


def test_the_session_redis_keeps_nothing_on_disk(tmp_path: Path) -> None:
    command = redis_command("redis-server", workdir=tmp_path, port=6399, durable=False)

    pairs = dict(zip(command[1::2], command[2::2], strict=True))
    assert "--appendonly" not in pairs
    assert pairs["--save"] == ""


def test_nats_keeps_jetstream_on_disk_in_its_workdir(tmp_path: Path) -> None:
    command = nats_command("nats-server", workdir=tmp_path, port=4333)

    assert "-js" in command
    assert command[command.index("-sd") + 1] == str(tmp_path / "jetstream")
    assert command[command.index("-p") + 1] == "4333"


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("postgres", "postgresql://postgres@127.0.0.1:7001/postgres"),
        ("redis", "redis://127.0.0.1:7001/0"),
        ("nats", "nats://127.0.0.1:7001"),
    ],
)
def test_urls_name_the_server_on_loopback(kind: str, url: str) -> None:
    assert server_url(kind, 7001) == url  # type: ignore[arg-type]


def test_an_unknown_kind_is_refused_naming_the_known_ones() -> None:
    expected = "unknown server kind 'mysql'; expected one of postgres"
    with pytest.raises(ValueError, match=expected), ephemeral("mysql"):  # type: ignore[arg-type]
        pass


def test_child_pids_reads_the_parent_field_after_the_command_name(tmp_path: Path) -> None:
    for pid, stat in {
        "10": "10 (postgres) S 1 10 10",
        "11": "11 (postgres: checkpointer) S 10 11 11",
        "12": "12 (odd ) name) S 10 12 12",
        "13": "13 (redis-server) S 2 13 13",
    }.items():
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "stat").write_text(stat)

    assert sorted(child_pids(10, proc=tmp_path)) == [11, 12]


def test_a_non_root_user_runs_postgres_as_itself() -> None:
    plan = plan_postgres_user(euid=1000, user_exists=False)

    assert plan.run_as is None
    assert plan.problem is None


def test_root_runs_postgres_as_the_postgres_system_user() -> None:
    assert plan_postgres_user(euid=0, user_exists=True).run_as == "postgres"


def test_root_without_a_postgres_user_gets_a_reason_instead_of_a_server() -> None:
    plan = plan_postgres_user(euid=0, user_exists=False)

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
