"""fix-quarantined's decision and file edit, replay-batch's file, replay-frozen's version check."""

from __future__ import annotations

import datetime as dt
import json
import tomllib

import pytest

from testkit.analytics.quarantine import QuarantineEntry, parse_quarantine
from testkit.analytics.quarantine_fix import decide, remove_entries
from testkit.analytics.replay import BatchFileError, parse_batch
from testkit.cassettes import CassetteError, frozen_problems, read_cassette

EXPIRES = dt.date(2030, 1, 1)
QUARANTINE = """# Quarantined tests: reason, owner, expiry.

# flaky since the cache change
[[quarantine]]
nodeid = "tests/unit/test_a.py::test_fixed"
reason = "raced"
owner = "jane"
expires = "2030-01-01"

# still flaky: see issue 7
[[quarantine]]
nodeid = "tests/unit/test_a.py::test_still_flaky"
reason = "timing"
owner = "joe"
expires = "2030-01-01"
"""


def _entry(nodeid: str) -> QuarantineEntry:
    return QuarantineEntry(nodeid, "r", "o", EXPIRES)


def test_only_a_test_that_passed_every_run_leaves_quarantine() -> None:
    entries = [
        _entry("t.py::fixed"),
        _entry("t.py::flaky"),
        _entry("t.py::gone"),
        _entry("t.py::p"),
    ]
    tally = {
        "t.py::fixed": (5, 0),
        "t.py::flaky": (4, 1),
        "t.py::p[1]": (5, 0),
        "t.py::p[2]": (4, 0),
    }
    verdicts = {verdict.nodeid: verdict for verdict in decide(entries, tally, runs=5)}
    assert [nodeid for nodeid, v in verdicts.items() if v.unquarantine] == ["t.py::fixed"]
    assert "5 passed, 0 failed in 5 reruns; passed every run" in verdicts["t.py::fixed"].evidence
    assert "stays quarantined" in verdicts["t.py::flaky"].evidence
    assert "not run" in verdicts["t.py::gone"].evidence
    assert verdicts["t.py::p"].cases == 2  # one case short of 5 passes: stays


def test_removing_an_entry_keeps_the_others_and_the_comments() -> None:
    edited = remove_entries(QUARANTINE, ["tests/unit/test_a.py::test_fixed"])
    entries = parse_quarantine(edited, source="q.toml")
    assert [entry.nodeid for entry in entries] == ["tests/unit/test_a.py::test_still_flaky"]
    assert "# Quarantined tests: reason, owner, expiry." in edited
    assert "# still flaky: see issue 7" in edited
    everything = remove_entries(
        QUARANTINE, [e.nodeid for e in parse_quarantine(QUARANTINE, source="q")]
    )
    assert tomllib.loads(everything) == {}
    assert "# Quarantined tests" in everything


def test_the_batch_file_lists_run_ids_one_a_line() -> None:
    assert parse_batch("# nightly\nr1\n\nr2  # flaky\n", source="runs.txt") == ("r1", "r2")
    with pytest.raises(BatchFileError, match=r"runs\.txt:2: run r1 is listed twice"):
        parse_batch("r1\nr1\n", source="runs.txt")
    with pytest.raises(BatchFileError, match="lists no run ids"):
        parse_batch("# nothing\n", source="runs.txt")


def _cassette(request_model: str, response_model: str) -> str:
    request = {"model": request_model, "messages": []}
    response = {"model": response_model, "choices": []}
    interaction = {
        "request": {
            "method": "POST",
            "uri": "http://h/v1/chat/completions",
            "body": json.dumps(request),
        },
        "response": {"status": {"code": 200}, "body": {"string": json.dumps(response)}},
    }
    return json.dumps({"version": 1, "interactions": [interaction]})


def test_a_recording_of_another_model_version_is_one_line_naming_it() -> None:
    same = read_cassette(_cassette("gpt-4o-mini", "gpt-4o-mini-2024-07-18"), source="a.json")
    assert frozen_problems(same, provider="openai", model="gpt-4o-mini") == []
    other = read_cassette(_cassette("gpt-4o-mini", "gpt-4o-2024-08-06"), source="b.json")
    problems = frozen_problems(other, provider="openai", model="gpt-4o-mini")
    assert len(problems) == 1
    assert problems[0].startswith("b.json (POST /v1/chat/completions): recorded model")
    assert "gpt-4o-2024-08-06" in problems[0]
    with pytest.raises(CassetteError, match="must be one of: openai; got 'acme'"):
        frozen_problems(same, provider="acme", model="m")


def test_a_request_without_the_providers_fields_is_a_shape_problem() -> None:
    document = json.loads(_cassette("m", "m"))
    document["interactions"][0]["request"]["body"] = json.dumps({"model": "m"})
    (recording,) = read_cassette(json.dumps(document), source="c.json")
    assert recording.problems == ("c.json: interaction 1: openai request body lacks messages",)
