"""Every pre_gen rejection: one line naming option, value and what is allowed; nothing left."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _bake import TEMPLATE_ROOT, TOOLS_BIN, bake, clean_env, cruft_create_command
from cookiecutter.exceptions import FailedHookException

SLUG = "a distribution name: lowercase letters, digits and single '-'"
PACKAGE = "a lowercase Python identifier"
TEXT = "text without control characters, tabs or line breaks"
EMAIL = "an email address like jane@example.com"
YES_NO = "'yes', 'no'"


PROJECT_SETTINGS = (
    TEMPLATE_ROOT / "{{cookiecutter.project_slug}}/packages/testkit/src/testkit/project_settings.py"
)


def project_settings() -> ModuleType:
    """testkit's [tool.testkit] schema, loaded from the template (standard library only)."""
    spec = importlib.util.spec_from_file_location("template_project_settings", PROJECT_SETTINGS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def hook_rules() -> dict[str, Any]:
    """The pre-generation hook's RULES, its Jinja placeholders (the answers) blanked out."""
    text = (TEMPLATE_ROOT / "hooks" / "pre_gen_project.py").read_text(encoding="utf-8")
    module = ModuleType("template_pre_gen_hook")
    sys.modules[module.__name__] = module
    exec(
        compile(re.sub(r"\{\{[^}]*\}\}", "''", text), "pre_gen_project.py", "exec"), module.__dict__
    )
    rules: dict[str, object] = module.RULES
    return rules


def percent(high: int, low: int = 0) -> str:
    return f"a whole number from {low} to {high}"


# (option, bad value, part of the allowed-values text the message must contain)
BAD_VALUES: list[tuple[str, str, str]] = [
    ("project_name", "", f"non-empty {TEXT}"),
    ("project_name", "   ", f"non-empty {TEXT}"),
    ("project_name", "Acme\nCorp", TEXT),
    ("project_name", "Acme\x00Corp", TEXT),
    ("project_name", "Acme\u2028Corp", TEXT),
    ("project_name", "Acme\u202eCorp", TEXT),  # bidi override ("Trojan Source")
    ("project_slug", "bad slug", SLUG),
    ("project_slug", "Bad_Slug", SLUG),
    ("project_slug", "-x", SLUG),
    ("project_slug", "x-", SLUG),
    ("project_slug", "a--b", SLUG),
    ("project_slug", "1abc", SLUG),
    ("project_slug", "a" * 65, "at most 64 characters"),
    ("project_slug", "testkit", "not 'testkit'"),
    ("project_slug", "../escape", SLUG),
    ("package_name", "class", PACKAGE),
    ("package_name", "json", "not a keyword, a standard-library module"),
    ("package_name", "1abc", PACKAGE),
    ("package_name", "testkit", "testkit"),
    ("package_name", "redis", "a library the project imports"),
    ("package_name", "Acme", PACKAGE),
    ("package_name", "my-pkg", PACKAGE),
    ("description", "line one\nline two", TEXT),
    ("description", "carriage\rreturn", TEXT),
    ("description", "tab\there", TEXT),
    ("description", "next\u0085line", TEXT),
    ("description", "para\u2029graph", TEXT),
    ("description", "\x1b[31mred", TEXT),
    ("author_name", "Jane\nDoe", TEXT),
    ("author_name", "Jane\x7fDoe", TEXT),
    ("author_email", "jane", EMAIL),
    ("author_email", "jane@", EMAIL),
    ("author_email", "@example.com", EMAIL),
    ("author_email", "jane@example", EMAIL),
    ("author_email", "jane doe@example.com", EMAIL),
    ("author_email", "jane@example.com\n", EMAIL),
    ("python_version", "3.10", "'3.11', '3.12', '3.13'"),
    ("python_version", "3.14", "'3.11', '3.12', '3.13'"),
    ("python_version", "3.11.4", "'3.11', '3.12', '3.13'"),
    ("python_version", "py311", "'3.11', '3.12', '3.13'"),
    ("include_sample_service", "Yes", YES_NO),
    ("include_sample_service", "y", YES_NO),
    ("include_sample_service", "true", YES_NO),
    ("include_sample_service", "yse", YES_NO),
    ("use_redis", "nope", YES_NO),
    ("use_nats", "off", YES_NO),
    ("ci_provider", "gitlab", "'github', 'none'"),
    ("ci_provider", "GitHub", "'github', 'none'"),
    ("coverage_threshold", "eighty", percent(100)),
    ("coverage_threshold", "101", percent(100)),
    ("coverage_threshold", "-1", percent(100)),
    ("coverage_threshold", "80.5", percent(100)),
    ("coverage_threshold", "05", percent(100)),  # TOML forbids leading zeros
    ("coverage_threshold", " 80", percent(100)),
    ("coverage_threshold", "1e2", percent(100)),
    ("coverage_threshold", "\uff18\uff10", percent(100)),  # fullwidth digits pass int()
    ("flaky_budget_percent", "101", percent(100)),
    ("perf_p50_pct", "1001", percent(1000, 1)),
    ("perf_p95_pct", "-5", percent(1000, 1)),
    ("perf_p95_pct", "0", percent(1000, 1)),  # the perf gate needs a limit above 0
    ("perf_p99_pct", "twenty", percent(1000, 1)),
    ("perf_throughput_pct", "101", percent(100, 1)),
    ("perf_throughput_pct", "0", percent(100, 1)),
    ("adversarial_budget_percent", "150", percent(100)),
    ("license", "GPL-3.0", "'MIT', 'Apache-2.0', 'BSD-3-Clause', 'Proprietary'"),
    ("license", "mit", "'MIT', 'Apache-2.0', 'BSD-3-Clause', 'Proprietary'"),
    ("_uv_exclude_newer", "yesterday", "a UTC time like 2026-12-06T00:00:00Z"),
    ("_uv_exclude_newer", "2026-12-06", "a UTC time like 2026-12-06T00:00:00Z"),
    ("_uv_exclude_newer", "2026-13-01T00:00:00Z", "a UTC time like 2026-12-06T00:00:00Z"),
]


def rejected_lines(
    template: Path, config: Path, output: Path, capfd: pytest.CaptureFixture[str], **options: str
) -> list[str]:
    """Bake expecting the pre_gen hook to refuse; returns its stderr lines."""
    output.mkdir()
    capfd.readouterr()
    with pytest.raises(FailedHookException):
        bake(template, output, config, options)
    assert list(output.iterdir()) == [], "a rejected bake left files behind"
    lines = capfd.readouterr().err.splitlines()
    assert lines, "the hook failed without saying why"
    assert all(line.startswith("ERROR: ") for line in lines), lines
    return lines


@pytest.mark.parametrize(("option", "value", "allowed"), BAD_VALUES)
def test_bad_value_is_rejected_with_one_line_naming_it(
    option: str,
    value: str,
    allowed: str,
    template: Path,
    cookiecutter_config: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    lines = rejected_lines(
        template, cookiecutter_config, tmp_path / "out", capfd, **{option: value}
    )

    # cookiecutter renders each value with Jinja, whose lexer turns CR into LF first.
    shown = value.replace("\r", "\n")
    naming_option = [line for line in lines if line.startswith(f"ERROR: {option}=")]
    assert len(naming_option) == 1, lines
    assert naming_option[0].startswith(f"ERROR: {option}={shown!r} is invalid: ")
    assert allowed in naming_option[0]


def test_every_option_has_a_rejection_case() -> None:
    context = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    # The private options users may still pass as extra context are validated too.
    options = {key for key in context if not key.startswith("_")} | {"_uv_exclude_newer"}
    assert options == {option for option, _, _ in BAD_VALUES}


def test_slug_escaping_the_output_directory_leaves_nothing(
    template: Path, cookiecutter_config: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    rejected_lines(template, cookiecutter_config, tmp_path / "out", capfd, project_slug="../escape")
    assert not (tmp_path / "escape").exists()


def test_bad_slug_gives_exactly_one_line(
    template: Path, cookiecutter_config: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # package_name derives from the slug; only the slug is reported, since fixing it fixes both.
    lines = rejected_lines(
        template, cookiecutter_config, tmp_path / "out", capfd, project_slug="bad slug"
    )
    assert lines == [
        "ERROR: project_slug='bad slug' is invalid: a distribution name: lowercase letters,"
        " digits and single '-', starting with a letter, at most 64 characters, not 'testkit'"
    ]


def test_slug_derived_from_project_name_says_so(
    template: Path, cookiecutter_config: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    lines = rejected_lines(
        template, cookiecutter_config, tmp_path / "out", capfd, project_name="2048 Game"
    )
    assert lines == [
        f"ERROR: project_slug='2048-game' is invalid: {SLUG}, starting with a letter, at most"
        " 64 characters, not 'testkit' (derived from project_name; set project_slug explicitly)"
    ]


def test_all_invalid_options_are_reported_together(
    template: Path, cookiecutter_config: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    lines = rejected_lines(
        template,
        cookiecutter_config,
        tmp_path / "out",
        capfd,
        python_version="3.10",
        use_nats="maybe",
        coverage_threshold="200",
        license="WTFPL",
    )
    assert [line.split("=")[0] for line in lines] == [
        "ERROR: python_version",
        "ERROR: use_nats",
        "ERROR: coverage_threshold",
        "ERROR: license",
    ]


def test_boundary_values_are_accepted(
    template: Path, cookiecutter_config: Path, tmp_path: Path
) -> None:
    slug = "a" + "-b2" * 21  # 64 characters
    project = bake(
        template,
        tmp_path,
        cookiecutter_config,
        {
            "project_slug": slug,
            "package_name": "a1_b",
            "author_email": "first.last+tag@mail.example.co.uk",
            "coverage_threshold": "0",
            "flaky_budget_percent": "100",
            "perf_p50_pct": "1000",
            "perf_p95_pct": "1",
            "perf_p99_pct": "999",
            "perf_throughput_pct": "100",
            "adversarial_budget_percent": "0",
            "license": "Proprietary",
            "python_version": "3.13",
        },
    )
    assert project.name == slug
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["name"] == slug
    # Every gate reads [tool.testkit] through testkit's one reader: it takes these values.
    settings = project_settings().read_project_settings(project / "pyproject.toml")
    assert settings.number("perf_p95_pct") == 1.0
    assert pyproject["tool"]["testkit"] == {
        "coverage_threshold": 0,
        "flaky_budget_percent": 100,
        "perf_p50_pct": 1000,
        "perf_p95_pct": 1,
        "perf_p99_pct": 999,
        "perf_throughput_pct": 100,
        "perf_instructions_pct": 2.0,
        "perf_cost_ceiling": 0.01,
        "adversarial_budget_percent": 0,
    }


def run_cli(command: list[str], cwd: Path, tmpdir: Path) -> subprocess.CompletedProcess[str]:
    tmpdir.mkdir()
    return subprocess.run(
        command,
        cwd=cwd,
        env=clean_env(TMPDIR=str(tmpdir)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cookiecutter_cli_rejects_bad_slug_and_leaves_nothing(
    template: Path, cookiecutter_config: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    result = run_cli(
        [
            str(TOOLS_BIN / "cookiecutter"),
            "--no-input",
            "--config-file",
            str(cookiecutter_config),
            str(template),
            "project_slug=bad slug",
        ],
        cwd=work,
        tmpdir=tmp_path / "tmp",
    )

    assert result.returncode != 0
    assert result.stderr.splitlines()[0].startswith("ERROR: project_slug='bad slug' is invalid: ")
    assert list(work.iterdir()) == []
    # cookiecutter runs the hook from a temporary file it never deletes; the hook does.
    assert list((tmp_path / "tmp").iterdir()) == []


def test_cruft_create_rejects_bad_option_and_leaves_nothing(
    template_repo: Path, cookiecutter_config: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    output.mkdir()
    result = run_cli(
        cruft_create_command(
            template_repo,
            cookiecutter_config,
            output,
            "--extra-context",
            json.dumps({"project_slug": "bad slug", "python_version": "3.14"}),
        ),
        cwd=tmp_path,
        tmpdir=tmp_path / "tmp",
    )

    assert result.returncode != 0
    assert result.stderr.splitlines()[:2] == [
        f"ERROR: project_slug='bad slug' is invalid: {SLUG}, starting with a letter, at most"
        " 64 characters, not 'testkit'",
        "ERROR: python_version='3.14' is invalid: '3.11', '3.12', '3.13'",
    ]
    assert list(output.iterdir()) == []
    assert list((tmp_path / "tmp").iterdir()) == [], "cruft's clone or a hook copy was left"


def test_the_hook_and_testkits_schema_agree_on_every_gate_limit() -> None:
    schema = project_settings()
    rules = hook_rules()
    shared = [key for key in rules if key in schema.BY_KEY]
    assert shared == [
        "coverage_threshold",
        "flaky_budget_percent",
        "perf_p50_pct",
        "perf_p95_pct",
        "perf_p99_pct",
        "perf_throughput_pct",
        "adversarial_budget_percent",
    ]
    for key in shared:
        setting = schema.BY_KEY[key]
        low, high = int(setting.low), int(setting.high)
        for value in (low - 1, low, low + 1, high - 1, high, high + 1):
            # The hook takes whole numbers (cookiecutter answers); pyproject.toml any number.
            assert rules[key].accepts(str(value)) == setting.accepts(float(value)), (key, value)
