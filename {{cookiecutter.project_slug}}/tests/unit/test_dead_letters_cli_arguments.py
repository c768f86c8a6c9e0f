"""The dead-letter CLI's arguments: parsed once into a request; a bad one is a one-line error."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.dead_letters_cli import (
    Request,
    parse_request,
)


def test_list_defaults_to_the_pending_letters() -> None:
    assert parse_request(["list"]) == Request("list", None, include_replayed=False, limit=100)


def test_replay_takes_repeated_ids() -> None:
    request = parse_request(["replay", "--id", "3", "--id", "7"])
    assert (request.command, request.ids) == ("replay", (3, 7))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: {list,replay}"),
        (["purge"], "invalid choice: 'purge'"),
        (["replay", "--id", "x"], "argument --id: must be a dead letter id (1 or more), got 'x'"),
        (["replay", "--id", "0"], "argument --id: must be a dead letter id (1 or more), got '0'"),
        (["list", "--limit", "-2"], "argument --limit: must be a positive integer, got '-2'"),
    ],
)
def test_a_bad_argument_is_one_line_naming_it(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_request(argv)
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert message in error
    assert error.startswith("dead_letters_cli")
