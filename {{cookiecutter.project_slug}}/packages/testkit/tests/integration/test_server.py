"""testkit.server against real uvicorn processes serving tiny ASGI apps written by pytester."""

from __future__ import annotations

import os
import socket
import urllib.request
from pathlib import Path

import pytest

from testkit.server import ServerStartError, run_uvicorn, server_environment

# A framework-free ASGI app: the test environment of a project without the service has
# uvicorn but no web framework. GREETING proves the environment reached the server;
# HEALTH_STATUS lets a test keep the health path failing; HANG_ON_SHUTDOWN ignores SIGTERM's
# graceful shutdown so the SIGKILL fallback has to act.
APP_SOURCE = """
import asyncio
import os
import sys


def create_app():
    if os.environ.get("CRASH_ON_START"):
        sys.exit("refusing to start: CRASH_ON_START is set")

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    if os.environ.get("HANG_ON_SHUTDOWN"):
                        await asyncio.sleep(3600)
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        status = 200
        if scope["path"] == "/healthz":
            status = int(os.environ.get("HEALTH_STATUS", "200"))
        body = os.environ.get("GREETING", "").encode()
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app
"""


@pytest.fixture
def app_dir(pytester: pytest.Pytester) -> Path:
    pytester.makepyfile(tiny_app=APP_SOURCE)
    return pytester.path


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
    return body.decode()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_the_server_answers_with_the_given_environment_logs_and_is_gone_afterwards(
    app_dir: Path,
) -> None:
    log_path = app_dir / "logs" / "server.log"

    with run_uvicorn(
        "tiny_app:create_app", log_path=log_path, env={"GREETING": "hello"}, cwd=app_dir
    ) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert _get(server.base_url + "/anything") == "hello"
        assert _pid_alive(server.pid)

    assert not _port_open(server.port)
    # Reaped by the runner, so the pid no longer exists (not even as a zombie).
    assert not _pid_alive(server.pid)
    log = log_path.read_text()
    assert "Uvicorn running on" in log
    assert "GET /anything" in log
    # SIGTERM, not SIGKILL: uvicorn ran its graceful shutdown to the end.
    assert "Finished server process" in server.log_text()


def test_a_server_that_exits_at_start_up_raises_quoting_its_log(app_dir: Path) -> None:
    log_path = app_dir / "server.log"

    with (
        pytest.raises(ServerStartError, match="exited with code 1") as raised,
        run_uvicorn(
            "tiny_app:create_app", log_path=log_path, env={"CRASH_ON_START": "1"}, cwd=app_dir
        ),
    ):
        pytest.fail("the block must not run when the server never became healthy")

    assert "refusing to start: CRASH_ON_START is set" in str(raised.value)
    assert str(log_path) in str(raised.value)


def test_an_unhealthy_server_times_out_naming_the_url_and_last_status_and_is_stopped(
    app_dir: Path,
) -> None:
    log_path = app_dir / "server.log"

    with (
        pytest.raises(ServerStartError) as raised,
        run_uvicorn(
            "tiny_app:create_app",
            log_path=log_path,
            env={"HEALTH_STATUS": "503"},
            cwd=app_dir,
            startup_timeout=2,
        ),
    ):
        pytest.fail("the block must not run when the server never became healthy")

    message = str(raised.value)
    assert "/healthz did not answer 200 within 2s (last: HTTP 503)" in message
    # The failed server was stopped, not leaked: its graceful shutdown is in the log.
    assert "Shutting down" in log_path.read_text()


def test_a_server_ignoring_sigterm_is_killed_after_the_stop_timeout(app_dir: Path) -> None:
    log_path = app_dir / "server.log"

    with run_uvicorn(
        "tiny_app:create_app",
        log_path=log_path,
        env={"HANG_ON_SHUTDOWN": "1"},
        cwd=app_dir,
        stop_timeout=1,
    ) as server:
        pid = server.pid

    assert not _pid_alive(pid)
    # uvicorn started its graceful shutdown (SIGTERM) but never finished it (SIGKILL).
    log = log_path.read_text()
    assert "Shutting down" in log
    assert "Finished server process" not in log


def test_a_health_path_without_a_leading_slash_is_refused(app_dir: Path) -> None:
    with (
        pytest.raises(ValueError, match=r"health_path must start with '/', got 'healthz'"),
        run_uvicorn("tiny_app:create_app", log_path=app_dir / "x.log", health_path="healthz"),
    ):
        pass


def test_the_environment_drops_prefixed_variables_then_applies_the_given_ones() -> None:
    base = {"PATH": "/bin", "APP_SECRET": "from-shell", "APP_PORT": "1", "OTHER": "kept"}

    environment = server_environment({"APP_PORT": "9000"}, base=base, drop_prefixes=("APP_",))

    assert environment == {
        "PATH": "/bin",
        "OTHER": "kept",
        "APP_PORT": "9000",
        "PYTHONUNBUFFERED": "1",
    }


def test_an_inner_suite_can_share_one_server_through_a_session_fixture(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(tiny_app=APP_SOURCE)
    pytester.makeconftest(
        """
        import pytest
        from testkit.server import run_uvicorn

        @pytest.fixture(scope="session")
        def live(tmp_path_factory):
            log = tmp_path_factory.mktemp("srv") / "server.log"
            with run_uvicorn("tiny_app:create_app", log_path=log, env={"GREETING": "hi"}) as s:
                yield s
        """
    )
    pytester.makepyfile(
        test_live="""
        import urllib.request

        PIDS = set()

        def test_one(live):
            PIDS.add(live.pid)
            assert urllib.request.urlopen(live.base_url + "/a").read() == b"hi"

        def test_two_sees_the_same_process(live):
            PIDS.add(live.pid)
            assert urllib.request.urlopen(live.base_url + "/b").read() == b"hi"
            assert len(PIDS) == 1
        """
    )

    result = pytester.runpytest("-p", "no:randomly")

    result.assert_outcomes(passed=2)
