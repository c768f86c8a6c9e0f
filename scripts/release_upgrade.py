"""The upgrade a user makes: bake the previous template release, update it to this commit.

The releases are CHANGELOG.md's version headings (`## [0.1.0] - 2026-12-07`); a release's
commit is its tag `v<version>` when the repository has it, else the commit that added its
heading (a release is the commit that moves [Unreleased] under a version). The previous release
is the newest one whose commit is not HEAD's (at the first release there is none: nothing to
check, and the check says so).

For each tool that could bake that release (cruft always; copier when the release has
copier.yml), the check bakes it, commits it as a team would, adds a test of the team's own,
updates the project to HEAD (`cruft update`, `copier update`), and runs the generated
`make test` (`--make-arg` adds one argument to it, e.g. `--make-arg "ARGS=-m unit"`). It fails
when an update conflicts, loses the team's test, or leaves a project whose tests fail. HEAD
means the committed template: commit first.

    python scripts/release_upgrade.py [--make-arg "ARGS=-m unit"] [--keep DIR]
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
# The canary's environment for a bake's own make and uv (this run's virtualenv and make flags
# left out).
sys.path.insert(0, str(TEMPLATE_ROOT / "scripts"))
from canary import bake_env  # noqa: E402

CHANGELOG = "CHANGELOG.md"
RELEASE_HEADING = re.compile(r"^## \[(?P<version>\d+\.\d+\.\d+)\] - (?P<date>\d{4}-\d{2}-\d{2})$")
TOOLS_BIN = Path(sys.executable).parent
# The team's own test: it must survive the update, and it checks the update recorded a release.
TEAM_TEST = (
    "tests/unit/test_kept_through_the_upgrade.py",
    "from pathlib import Path\n\n\n"
    "def test_the_project_records_its_template_release() -> None:\n"
    '    assert Path(".template-version").read_text(encoding="utf-8").strip()\n',
)
GIT = ("git", "-c", "user.name=Upgrade Check", "-c", "user.email=upgrade@example.com")


class UpgradeCheckError(RuntimeError):
    """The check cannot start: no previous release, or git cannot say where it is."""


@dataclass(frozen=True, slots=True)
class Release:
    version: str
    commit: str


@dataclass(frozen=True, slots=True)
class Leg:
    """One tool's upgrade: its result and how long it took."""

    tool: str
    passed: bool
    seconds: float
    detail: str


def release_versions(changelog: str) -> list[str]:
    """The released versions of a Keep a Changelog file, newest first."""
    return [m["version"] for m in map(RELEASE_HEADING.match, changelog.splitlines()) if m]


def _git(*arguments: str, cwd: Path = TEMPLATE_ROOT) -> str:
    done = subprocess.run(["git", *arguments], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise UpgradeCheckError(f"git {' '.join(arguments)}: {done.stderr.strip()}")
    return done.stdout.strip()


def release_commit(version: str) -> str | None:
    """The tag v<version>'s commit, else the commit that added the version's heading."""
    tagged = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/tags/v{version}^{{commit}}"],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
    )
    if tagged.returncode == 0:
        return tagged.stdout.strip()
    added = _git("log", "--format=%H", "-S", f"## [{version}] - ", "--", CHANGELOG).splitlines()
    return added[-1] if added else None


def previous_release(
    versions: Sequence[str], head: str, commit_of: dict[str, str | None]
) -> Release:
    """The newest release whose commit is not HEAD (pure: the commits are looked up first)."""
    for version in versions:
        commit = commit_of.get(version)
        if commit is not None and commit != head:
            return Release(version, commit)
    raise UpgradeCheckError(
        f"no previous release to upgrade from in {CHANGELOG} (releases: "
        f"{', '.join(versions) or 'none'}; each needs a tag v<version> or the commit that added "
        "its heading)"
    )


def step(command: Sequence[str], cwd: Path, log: Path) -> bool:
    """Run one command, its output appended to the log; whether it succeeded."""
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {shlex.join(command)}  (in {cwd})\n")
        out.flush()
        done = subprocess.run(command, cwd=cwd, env=bake_env(), stdout=out, stderr=out)
    return done.returncode == 0


def keep_a_team_edit(project: Path, log: Path) -> bool:
    """Commit the bake, then the team's own test, as a team starts."""
    path = project / TEAM_TEST[0]
    committed = step([*GIT, "init", "--quiet"], project, log) and step(
        [*GIT, "add", "--all"], project, log
    )
    committed = committed and step([*GIT, "commit", "--quiet", "-m", "Bake"], project, log)
    path.write_text(TEAM_TEST[1], encoding="utf-8")
    return (
        committed
        and step([*GIT, "add", "--all"], project, log)
        and step([*GIT, "commit", "--quiet", "-m", "The team's test"], project, log)
    )


def updated_cleanly(project: Path) -> str:
    """'' when the update kept the team's test and left no conflict; else what went wrong."""
    if not (project / TEAM_TEST[0]).is_file():
        return f"the update lost the team's {TEAM_TEST[0]}"
    for path in project.rglob("*"):
        if ".venv" in path.parts or ".git" in path.parts or not path.is_file():
            continue
        if path.suffix == ".rej" or b"\n<<<<<<< " in path.read_bytes():
            return f"the update left a conflict in {path.relative_to(project)}"
    return ""


def upgrade(tool: str, release: Release, work: Path, make_args: Sequence[str]) -> Leg:
    """Bake `release` with `tool`, keep a team edit, update to HEAD, run make test."""
    started = time.monotonic()
    log = work / f"{tool}.log"
    head = _git("rev-parse", "HEAD")
    template = str(TEMPLATE_ROOT)
    if tool == "cruft":
        out = work / "cruft"
        bake = [str(TOOLS_BIN / "cruft"), "create", "--no-input", "--checkout", release.commit]
        baked = step([*bake, "--output-dir", str(out), template], work, log)
        project = next(out.iterdir(), out) if baked else out
        update = [str(TOOLS_BIN / "cruft"), "update", "--skip-apply-ask", "--checkout", head]
    else:
        project = work / "copier" / "project"
        copier = [str(TOOLS_BIN / "copier")]
        bake = [*copier, "copy", "--trust", "--defaults", "--vcs-ref", release.commit]
        baked = step([*bake, template, str(project)], work, log)
        update = [*copier, "update", "--trust", "--defaults", "--vcs-ref", head]

    def leg(passed: bool, detail: str) -> Leg:
        return Leg(tool, passed, time.monotonic() - started, detail)

    if not baked:
        return leg(False, f"baking {release.version} failed (log: {log})")
    if not keep_a_team_edit(project, log):
        return leg(False, f"committing the bake failed (log: {log})")
    if not step(update, project, log):
        return leg(False, f"{tool} update to {head[:12]} failed (log: {log})")
    if problem := updated_cleanly(project):
        return leg(False, problem)
    if not step(["make", "test", *make_args], project, log):
        return leg(False, f"make test of the updated project failed (log: {log})")
    return leg(True, f"{release.version} -> {head[:12]}, make test passed")


def tools_for(release: Release) -> list[str]:
    """cruft bakes every release; copier those that ship copier.yml."""
    listed = _git("ls-tree", "--name-only", release.commit).splitlines()
    return ["cruft", "copier"] if "copier.yml" in listed else ["cruft"]


def run(arguments: argparse.Namespace) -> int:
    changelog = (TEMPLATE_ROOT / CHANGELOG).read_text(encoding="utf-8")
    versions = release_versions(changelog)
    head = _git("rev-parse", "HEAD")
    commits = {version: release_commit(version) for version in versions}
    if len(versions) == 1 and commits[versions[0]] == head:
        print(f"upgrade check: {versions[0]} is the first release (HEAD): nothing to upgrade from")
        return 0
    release = previous_release(versions, head, commits)
    tools = tools_for(release)
    skipped = "" if "copier" in tools else f" (copier: {release.version} has no copier.yml)"
    print(
        f"upgrade check: {release.version} ({release.commit[:12]}) -> HEAD ({head[:12]}){skipped}"
    )
    work = Path(arguments.keep or tempfile.mkdtemp(prefix="upgrade-check-"))
    work.mkdir(parents=True, exist_ok=True)
    legs = []
    for tool in tools:
        print(f"==> {tool}: bake {release.version}, commit, add a team test, update, make test")
        legs.append(upgrade(tool, release, work, arguments.make_arg))
        print(f"    {'PASS' if legs[-1].passed else 'FAIL'}: {legs[-1].detail}")
    print(f"\n{'tool':<8} {'result':<7} {'seconds':>8}  detail")
    for leg in legs:
        result = "PASS" if leg.passed else "FAIL"
        print(f"{leg.tool:<8} {result:<7} {leg.seconds:>8.0f}  {leg.detail}")
    if arguments.keep is None and all(leg.passed for leg in legs):
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(leg.passed for leg in legs) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--make-arg",
        action="append",
        default=[],
        help='one argument added to `make test`, e.g. "ARGS=-m unit" (repeatable)',
    )
    parser.add_argument("--keep", help="work in this directory and keep it")
    arguments = parser.parse_args(argv)
    try:
        return run(arguments)
    except UpgradeCheckError as error:
        print(f"upgrade check: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
