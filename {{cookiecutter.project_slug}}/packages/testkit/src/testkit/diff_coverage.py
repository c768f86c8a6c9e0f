"""Coverage of the changed lines: diff-cover against a git base, as the diff-coverage gate's input.

`testkit diff-coverage` picks the base (DIFF_BASE, default origin/main; HEAD with a note when
that ref does not exist, which compares the uncommitted changes), runs diff-cover on
reports/coverage.xml and writes its JSON report with the base and the note added. When there
is no diff to take (not a git repository, no commit, no coverage report) it writes the reason
as {"error": ...} instead, so the gate fails saying why rather than passing on no data.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from testkit import report_files
from testkit.git import GitError, commit_of, git

DEFAULT_BASE = "origin/main"
FALLBACK_BASE = "HEAD"


@dataclass(frozen=True, slots=True)
class BaseChoice:
    """The ref to diff against, or why there is none; `note` explains a fallback."""

    ref: str | None
    note: str = ""
    error: str = ""


def choose_base(
    requested: str, *, is_repository: bool, requested_exists: bool, head_exists: bool
) -> BaseChoice:
    """The requested ref when it exists, else HEAD (the uncommitted changes), else an error."""
    if not is_repository:
        return BaseChoice(
            None,
            error="not a git repository: diff coverage needs git history "
            "(git init and commit, or run in a clone)",
        )
    if requested_exists:
        return BaseChoice(requested)
    if not head_exists:
        return BaseChoice(None, error="the git repository has no commit to compare with")
    return BaseChoice(
        FALLBACK_BASE,
        note=f"{requested} not found: compared the uncommitted changes with HEAD",
    )


def inspect_repository(root: Path, requested: str) -> BaseChoice:
    """Ask git what exists, then choose the base (see choose_base)."""
    try:
        is_repository = git(root, "rev-parse", "--is-inside-work-tree") == "true"
    except GitError:  # not a repository, or no git executable: no history either
        is_repository = False
    return choose_base(
        requested,
        is_repository=is_repository,
        requested_exists=is_repository and commit_of(root, requested) is not None,
        head_exists=is_repository and commit_of(root, "HEAD") is not None,
    )


def run_diff_cover(root: Path, coverage_xml: Path, base: str, output: Path) -> str:
    """Run diff-cover (JSON and Markdown reports next to `output`); '' or its error output."""
    markdown = output.with_suffix(".md")
    command = [
        sys.executable,
        "-m",
        "diff_cover.diff_cover_tool",
        str(coverage_xml),
        f"--compare-branch={base}",
        f"--format=json:{output},markdown:{markdown}",
        "--include-untracked",
        "--total-percent-float",
        "--quiet",
    ]
    completed = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    if completed.returncode != 0 or not output.is_file():
        lines = (completed.stderr or completed.stdout).strip().splitlines()
        return f"diff-cover failed: {lines[-1] if lines else f'exit {completed.returncode}'}"
    return ""


def measure(root: Path, coverage_xml: Path, requested: str, output: Path) -> dict[str, object]:
    """Write the diff-coverage report for `requested`; returns what was written."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    choice = inspect_repository(root, requested)
    report: dict[str, object]
    if choice.ref is None:
        report = {"error": choice.error}
    elif not coverage_xml.is_file():
        report = {"error": f"{coverage_xml} is missing: run `make coverage-gate` to write it"}
    elif failure := run_diff_cover(root, coverage_xml, choice.ref, output):
        report = {"error": failure}
    else:
        report = json.loads(output.read_text(encoding="utf-8"))
    report |= {"requested_base": requested, "compare_branch": choice.ref, "note": choice.note}
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "diff-coverage",
        help="coverage of the lines changed since a git base (diff-cover), for the gates",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--base", default=DEFAULT_BASE, help="git ref to diff against")
    parser.add_argument("--coverage", type=Path, default=report_files.COVERAGE)
    parser.add_argument("--output", type=Path, default=report_files.DIFF_COVERAGE)
    parser.add_argument("--root", type=Path, default=Path(), help="the repository's work tree")
    parser.set_defaults(handler=run_command)


def run_command(arguments: argparse.Namespace) -> int:
    base: str = arguments.base.strip() or DEFAULT_BASE
    report = measure(arguments.root, arguments.coverage, base, arguments.output)
    if "error" in report:
        print(f"testkit diff-coverage: {report['error']} (wrote {arguments.output})")
        return 1
    note = f"; {report['note']}" if report["note"] else ""
    print(
        f"testkit diff-coverage: {report.get('total_percent_covered')}% of "
        f"{report.get('total_num_lines')} changed lines covered vs {report['compare_branch']}"
        f"{note} (wrote {arguments.output})"
    )
    return 0
