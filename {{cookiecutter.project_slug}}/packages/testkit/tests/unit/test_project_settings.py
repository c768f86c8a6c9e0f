"""[tool.testkit]: one schema, one reader; every key's range is enforced the same way for every
gate, and an unknown key is refused instead of leaving a default silently in force."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.cli import main
from testkit.project_settings import (
    BY_KEY,
    DEFAULTS,
    SCHEMA,
    ProjectSetting,
    ProjectSettingsError,
    markdown_table,
    project_settings_from,
    read_project_settings,
)


def test_a_missing_file_gives_every_default_from_the_schema(tmp_path: Path) -> None:
    settings = read_project_settings(tmp_path / "pyproject.toml")

    assert settings == DEFAULTS
    assert {key: settings.source(key) for key in BY_KEY} == dict.fromkeys(BY_KEY, "default")
    assert settings.number("coverage_threshold") == 80.0
    assert settings.globs("impact_ignore") == ("*.md", "docs/**", "LICENSE")


def test_a_value_given_says_where_it_came_from(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.testkit]\nperf_p95_pct = 30\nimpact_ignore = ['*.txt']\n")

    settings = read_project_settings(pyproject)

    assert settings.number("perf_p95_pct") == 30.0
    assert settings.source("perf_p95_pct") == str(pyproject)
    assert settings.globs("impact_ignore") == ("*.txt",)
    assert settings.source("perf_p50_pct") == "default"


def test_an_unknown_key_is_refused_naming_it_and_the_settings(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.testkit]\ncoverage_treshold = 90\n")

    with pytest.raises(ProjectSettingsError) as caught:
        read_project_settings(pyproject)

    message = str(caught.value)
    assert "has no setting 'coverage_treshold'" in message
    assert "coverage_threshold" in message.split("the settings are: ")[1]
    assert "\n" not in message


def test_unreadable_toml_is_one_line_naming_the_file(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.testkit\n")

    with pytest.raises(ProjectSettingsError, match="is not readable TOML"):
        read_project_settings(pyproject)


PERCENTS = [setting for setting in SCHEMA if setting.kind == "percent"]


@pytest.mark.parametrize("setting", PERCENTS, ids=lambda s: s.key)
def test_every_percent_takes_its_bounds_and_refuses_beyond_them(setting: ProjectSetting) -> None:
    key, low, high = setting.key, setting.low, setting.high
    assert project_settings_from({key: high}, "p").number(key) == high
    refused: list[object] = [high + 1, "10", True, float("nan")]
    if setting.low_included:
        assert project_settings_from({key: low}, "p").number(key) == low
        refused.append(low - 1)
    else:
        refused.append(low)
    for raw in refused:
        with pytest.raises(ProjectSettingsError, match=f"{key} in p must be a number"):
            project_settings_from({key: raw}, "p")


@pytest.mark.parametrize("raw", ["*.md", [1], [["a"]]])
def test_globs_must_be_a_list_of_strings(raw: object) -> None:
    with pytest.raises(ProjectSettingsError, match="must be a list of glob strings"):
        project_settings_from({"impact_always_run": raw}, "p")


def test_every_default_is_within_its_own_range() -> None:
    for setting in PERCENTS:
        assert isinstance(setting.default, float), setting
        assert setting.accepts(setting.default), setting


def test_the_docs_hold_the_settings_table_of_this_schema() -> None:
    # packages/testkit/tests/unit/ -> the project root of a bake, where docs/testing.md lives.
    docs = Path(__file__).resolve().parents[4] / "docs" / "testing.md"
    if not docs.is_file():
        pytest.skip("testkit outside its project: no docs/testing.md to compare")
    assert markdown_table() in docs.read_text(encoding="utf-8"), (
        "docs/testing.md's settings table differs: paste `testkit options --markdown` there"
    )


def test_testkit_options_prints_the_values_with_their_source_and_the_run_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.testkit]\nperf_p99_pct = 40\n")

    assert main(["options", "--root", str(tmp_path)]) == 0

    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if line.startswith("perf_p99_pct ")]
    assert row.split()[1:2] == [str(tmp_path / "pyproject.toml")]
    assert row.split()[-1] == "40"
    assert "TEST_MODE" in out


def test_testkit_options_refuses_a_bad_value_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.testkit]\nperf_p95_pct = 0\n")

    assert main(["options", "--root", str(tmp_path)]) == 2

    assert capsys.readouterr().err == (
        f"testkit options: [tool.testkit] perf_p95_pct in {tmp_path / 'pyproject.toml'} "
        "must be a number above 0 to 1000, got 0\n"
    )
