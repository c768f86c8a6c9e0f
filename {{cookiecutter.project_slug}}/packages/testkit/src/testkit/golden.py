"""GOLDEN mode: external HTTP replayed from cassettes recorded with vcrpy; RECORD=1 records.

The `golden_http` fixture puts a vcrpy cassette around one test, stored as
tests/cassettes/<module>/<test>.json.
In GOLDEN mode a request with no recording fails the test with one line naming the request and
the closest recorded one (never a silent network call: record mode "none"). RECORD=1 re-records,
with credentials scrubbed before anything is written. Outside GOLDEN mode the fixture does
nothing, so one test can run against a fake in MOCK mode and against recordings in GOLDEN.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testkit import options
from testkit.modes import Mode
from testkit.state import get_state

DEFAULT_CASSETTE_DIR = "tests/cassettes"
# Credentials never reach a cassette: these headers and query parameters are replaced.
SCRUBBED_HEADERS: tuple[str, ...] = (
    "authorization",
    "proxy-authorization",
    "api-key",
    "x-api-key",
    "openai-organization",
    "cookie",
    "set-cookie",
)
SCRUBBED_QUERY_PARAMETERS: tuple[str, ...] = ("api_key", "api-key", "key", "access_token", "token")
SCRUBBED = "<scrubbed>"
# The host is configuration (a vendor, a gateway, a local stub), the request is the contract:
# a cassette recorded against one base URL replays against another.
MATCH_ON: tuple[str, ...] = ("method", "path", "query", "body")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True, slots=True)
class GoldenHttp:
    """What `golden_http` set up for the test."""

    active: bool
    """True in GOLDEN mode: HTTP goes to the cassette instead of the network."""
    recording: bool
    """True with RECORD=1: real requests are made and written to the cassette."""
    path: Path


def cassette_path(cassette_dir: Path, module_path: Path, test_name: str) -> Path:
    """tests/cassettes/<module stem>/<test name>.json, parametrize ids made file-safe."""
    return cassette_dir / module_path.stem / (_UNSAFE.sub("_", test_name).strip("_") + ".json")


def describe_request(request: Any) -> str:
    return f"{request.method} {request.uri}"


def unmatched_message(exc: Any, path: Path) -> str:
    """One line for a request the cassette cannot answer: what was asked, what is closest."""
    similar: Sequence[tuple[Any, Sequence[str], Sequence[tuple[str, str]]]] = getattr(
        exc, "similar_requests", ()
    )
    if similar:
        closest, _succeeded, failed = similar[0]
        differing = ", ".join(name for name, _ in failed) or "nothing (already played)"
        nearest = f"closest recorded: {describe_request(closest)} (differs in: {differing})"
    elif path.exists():
        nearest = "closest recorded: none (the cassette holds nothing similar)"
    else:
        nearest = "closest recorded: none (the cassette file does not exist)"
    return (
        f"GOLDEN: no recording for {describe_request(exc.failed_request)} in {path}; {nearest}. "
        "Record it with RECORD=1 TEST_MODE=GOLDEN (see docs/testing.md)."
    )


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    # vcrpy's filter_headers only covers requests; a response can carry a cookie too.
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in SCRUBBED_HEADERS:
            headers[name] = [SCRUBBED]
    return response


def cassette_dir(config: pytest.Config) -> Path:
    raw = options.get_setting(config, options.CASSETTE_DIR) or DEFAULT_CASSETTE_DIR
    return (config.rootpath / raw).resolve()


@pytest.fixture
def golden_http(request: pytest.FixtureRequest) -> Iterator[GoldenHttp]:
    """Replay (GOLDEN) or record (GOLDEN + RECORD=1) this test's HTTP; inert in other modes."""
    config = request.config
    path = cassette_path(cassette_dir(config), request.path, request.node.name)
    recording = options.parse_flag(options.RECORD, options.get_setting(config, options.RECORD))
    if get_state(config).mode.mode is not Mode.GOLDEN:
        yield GoldenHttp(active=False, recording=False, path=path)
        return
    try:
        import vcr
    except ImportError:  # pragma: no cover - depends on the environment
        pytest.fail("TEST_MODE=GOLDEN needs vcrpy: install testkit[golden]", pytrace=False)
    recorder = vcr.VCR(
        record_mode="all" if recording else "none",
        # JSON, not vcrpy's default YAML: readable diffs, and no YAML loader quirks on replay.
        serializer="json",
        match_on=MATCH_ON,
        filter_headers=[(name, SCRUBBED) for name in SCRUBBED_HEADERS],
        filter_query_parameters=[(name, SCRUBBED) for name in SCRUBBED_QUERY_PARAMETERS],
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )
    if recording:
        path.parent.mkdir(parents=True, exist_ok=True)
    with recorder.use_cassette(str(path)):
        yield GoldenHttp(active=True, recording=recording, path=path)


class GoldenReporter:
    """Rewrites vcrpy's multi-line "can't overwrite" error into the one-line GOLDEN message."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.excinfo is None or not report.failed:
            return report
        unmatched = _find_unmatched(call.excinfo.value)
        if unmatched is not None:
            path = Path(getattr(unmatched.cassette, "_path", "<unknown cassette>"))
            report.longrepr = unmatched_message(unmatched, path)
        return report


def _find_unmatched(error: BaseException) -> Any:
    """vcrpy's error, also when the code under test wrapped it in an exception of its own."""
    try:
        from vcr.errors import CannotOverwriteExistingCassetteException
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, CannotOverwriteExistingCassetteException):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
