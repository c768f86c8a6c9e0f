"""GOLDEN mode as users meet it: record with RECORD=1 (credentials scrubbed), replay with no
server, and a request with no recording fails naming it and the closest recorded one.

The "external API" is a tiny http.server on loopback, so recording needs no network.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.usefixtures("clean_testkit_environment")

SECRET = "sk-live-do-not-record-0123456789"

SUITE = """
import json
import os
import urllib.request

CONTENT_TYPE = dict([("Content-Type", "application/json")])

def call(path):
    request = urllib.request.Request(
        os.environ["API_URL"] + path,
        data=json.dumps(dict(q="hello")).encode(),
        headers=dict(Authorization="Bearer SECRET", **CONTENT_TYPE),
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())

def test_answer(golden_http):
    assert golden_http.active
    assert call("PATH") == dict(answer=42)
"""


class _Api(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b'{"answer": 42}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "session=secret-cookie")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def api_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def write_suite(pytester: pytest.Pytester, path: str) -> None:
    pytester.makepyfile(
        **{"tests/rag/test_api.py": SUITE.replace("SECRET", SECRET).replace("PATH", path)}
    )


def test_record_scrubs_credentials_and_replay_needs_no_server(
    pytester: pytest.Pytester, api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(pytester, "/v1/answer")
    monkeypatch.setenv("API_URL", api_url)
    monkeypatch.setenv("TEST_MODE", "GOLDEN")
    monkeypatch.setenv("RECORD", "1")

    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)

    cassette = pytester.path / "tests" / "cassettes" / "test_api" / "test_answer.json"
    text = cassette.read_text()
    assert "/v1/answer" in text
    assert SECRET not in text
    assert "secret-cookie" not in text
    assert "<scrubbed>" in text

    # Replay: RECORD off and the API pointed at a port where nothing listens.
    monkeypatch.delenv("RECORD")
    monkeypatch.setenv("API_URL", "http://127.0.0.1:1")
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


def test_an_unrecorded_request_fails_naming_it_and_the_closest_recording(
    pytester: pytest.Pytester, api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(pytester, "/v1/answer")
    monkeypatch.setenv("API_URL", api_url)
    monkeypatch.setenv("TEST_MODE", "GOLDEN")
    monkeypatch.setenv("RECORD", "1")
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)

    write_suite(pytester, "/v2/answer")
    monkeypatch.delenv("RECORD")
    result = pytester.runpytest("-p", "no:randomly")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"GOLDEN: no recording for POST {api_url}/v2/answer in *test_answer.json; "
            f"closest recorded: POST {api_url}/v1/answer (differs in: path). "
            "Record it with RECORD=1 TEST_MODE=GOLDEN*"
        ]
    )


def test_a_missing_cassette_fails_and_says_the_file_does_not_exist(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suite(pytester, "/v1/answer")
    monkeypatch.setenv("API_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("TEST_MODE", "GOLDEN")

    result = pytester.runpytest("-p", "no:randomly")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "GOLDEN: no recording for POST http://127.0.0.1:1/v1/answer in *; "
            "closest recorded: none (the cassette file does not exist)*"
        ]
    )


def test_outside_golden_mode_the_fixture_is_inert(pytester: pytest.Pytester) -> None:
    inert = "def test_inert(golden_http):\n    assert not golden_http.active\n"
    pytester.makepyfile(**{"tests/unit/test_inert.py": inert})
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)
