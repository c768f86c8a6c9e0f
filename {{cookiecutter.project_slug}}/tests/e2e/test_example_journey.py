"""Example e2e tests: an app as a real uvicorn process (testkit.server), driven over real HTTP.

The app is tests/e2e/example_app.py; point ``APP`` at your own ``module:factory``. Requests go
through urllib from the standard library, so the example needs no HTTP client package.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e.example_app import STOPPED_LINE

from testkit.server import RunningServer, ServerStartError, run_uvicorn

APP = "e2e.example_app:create_app"
# uvicorn imports APP from its working directory: tests/, where `e2e` is a package.
TESTS_DIR = Path(__file__).resolve().parent.parent


def call(server: RunningServer, method: str, path: str, payload: object = None) -> tuple[int, Any]:
    """One request; the status and the decoded JSON body, for success and error answers alike."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(
        server.base_url + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5.0) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log_path = tmp_path_factory.mktemp("e2e") / "example_app.log"
    with run_uvicorn(APP, log_path=log_path, cwd=TESTS_DIR, startup_timeout=15.0) as running:
        yield running


def test_a_user_writes_a_note_and_reads_it_back(server: RunningServer) -> None:
    status, created = call(server, "POST", "/notes", {"text": "buy pelican food"})
    assert status == 201, created
    assert created["text"] == "buy pelican food"

    assert call(server, "GET", f"/notes/{created['id']}") == (200, created)
    status, listing = call(server, "GET", "/notes")
    assert status == 200
    assert created in listing["items"]


def test_bad_input_and_unknown_ids_get_clear_errors(server: RunningServer) -> None:
    status, body = call(server, "POST", "/notes", {"text": ""})
    assert status == 422
    assert "1 to 500 characters" in body["detail"]
    assert call(server, "GET", "/notes/999999") == (404, {"detail": "no note '999999'"})


def test_the_server_log_records_each_request(server: RunningServer) -> None:
    call(server, "GET", "/notes/424242")
    # uvicorn's access log: the request went through a real server, not an in-process client.
    assert '"GET /notes/424242 HTTP/1.1" 404' in server.log_text()


def test_sigterm_runs_the_lifespan_shutdown(tmp_path: Path) -> None:
    log_path = tmp_path / "example_app.log"
    with run_uvicorn(APP, log_path=log_path, cwd=TESTS_DIR, startup_timeout=15.0) as running:
        assert call(running, "GET", "/healthz") == (200, {"status": "ok"})
        assert STOPPED_LINE not in running.log_text()
    # Leaving the block sent SIGTERM; uvicorn shut down gracefully and the app saw it.
    assert STOPPED_LINE in log_path.read_text()


def test_an_app_that_cannot_start_fails_fast_quoting_its_log(tmp_path: Path) -> None:
    with (
        pytest.raises(ServerStartError, match="exited with code") as raised,
        run_uvicorn(
            "e2e.no_such_module:create_app", log_path=tmp_path / "broken.log", cwd=TESTS_DIR
        ),
    ):
        pytest.fail("the server must not start")
    assert "no_such_module" in str(raised.value)
