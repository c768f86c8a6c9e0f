"""Impact selection against injected faults, side by side with pytest-testmon.

For each fault (one function of the reference service changed: a flipped comparison, a wrong
value), in one baked and installed project:

1. the suite runs in full to learn which tests the fault makes fail (tests that already fail
   without the fault do not count);
2. testkit's impact selection runs (`--testkit-impact-changed=<file>`, map built once on the
   clean tree) and pytest-testmon runs (`--testmon`, database built once on the clean tree and
   restored after every fault, so faults do not leak into each other);
3. a miss is a failing test a tool did not select. testkit must have none. A module or session
   fixture's teardown error is reported on the last test of its scope, whichever that is: it
   counts as caught when the selected run reports a teardown error too.

Each tool's selection then runs (no --collect-only), so its time is what a developer waits for:
collection, the selection decision and the selected tests.

Writes JSON and a markdown table (bench/results/impact_faults.{json,md}) and prints the table.

    python bench/impact_faults.py            # bakes the default project into a temp dir
    python bench/impact_faults.py --project /tmp/x/acme-knowledge-base \
        --tests tests/unit tests/integration --services url

`make bench` calls `measure()` (the installed benchmark bake, the machine's services).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from project import (
    REAL_SERVICES,
    TEMPLATE_ROOT,
    Figure,
    Measurement,
    bake_default,
    clean_env,
    install_testmon,
    installed_default_project,
    progress,
    run,
)

RESULTS = TEMPLATE_ROOT / "bench" / "results"
# No service URL: every pytest run starts PostgreSQL, Redis and NATS from the installed binaries.
LOCAL_SERVICES = {"TESTKIT_REQUIRE_INFRA": "1", "HYPOTHESIS_PROFILE": "ci"}


@dataclass(frozen=True)
class Fault:
    """Replace ``old`` (exactly once) with ``new`` in ``module`` (relative to the package)."""

    name: str
    module: str
    old: str
    new: str


FAULTS = (
    Fault(
        "rank_weights swaps title and body",
        "search_query.py",
        "return [0.0, 0.0, body, title]",
        "return [0.0, 0.0, title, body]",
    ),
    Fault(
        "normalise_query rejects the maximum limit",
        "search_query.py",
        "if not 1 <= limit <= MAX_RESULT_LIMIT:",
        "if not 1 <= limit < MAX_RESULT_LIMIT:",
    ),
    Fault(
        "decide refuses the last allowed request",
        "rate_limit.py",
        "if count <= limit:",
        "if count < limit:",
    ),
    Fault(
        "decide reports one request too many remaining",
        "rate_limit.py",
        "remaining=limit - count,",
        "remaining=limit - count + 1,",
    ),
    Fault(
        "window_key drops the tenant",
        "rate_limit.py",
        "ratelimit:{tenant_id}:{math.floor",
        "ratelimit:{math.floor",
    ),
    Fault(
        "decide_without_backend fails open always",
        "rate_limit.py",
        "allowed=fail_open,",
        "allowed=True,",
    ),
    Fault(
        "page_window loses the last page's end",
        "pagination.py",
        "has_more = len(fetched) > limit",
        "has_more = len(fetched) >= limit",
    ),
    Fault(
        "parse_key accepts any prefix",
        "credentials.py",
        "    if prefix != KEY_PREFIX:\n        return None\n",
        "",
    ),
    Fault(
        "tokens_match compares prefixes only",
        "credentials.py",
        "return hmac.compare_digest(presented.encode(), expected.encode())",
        "return expected.startswith(presented[:4])",
    ),
    Fault(
        "check_citations accepts everything",
        "citations.py",
        "        if canonical in allowed:\n",
        "        if canonical in allowed or True:\n",
    ),
    Fault(
        "ssrf treats non-global addresses as public",
        "ssrf.py",
        '(not address.is_global, "not globally routable"),',
        '(False, "not globally routable"),',
    ),
    Fault(
        "ssrf allows every scheme",
        "ssrf.py",
        "if url.scheme not in ALLOWED_SCHEMES:",
        "if url.scheme in ():",
    ),
    Fault(
        "html text takes the wrong tag as title",
        "html_text.py",
        'if tag == "title":\n            self._in_title = True',
        'if tag == "h1":\n            self._in_title = True',
    ),
    Fault(
        "retrieval keeps the OR operator",
        "retrieval.py",
        'words = [word for word in words if word != "or"]',
        "words = list(words)",
    ),
    Fault(
        "retrieval never flags foreign documents",
        "retrieval.py",
        "foreign = [hit.id for hit in hits if hit.id not in bodies]",
        "foreign = []",
    ),
    Fault(
        "extractive answers stop stemming plurals",
        "answer_providers/extractive.py",
        'word[:-1] if len(word) > 3 and word.endswith("s") else word',
        "word",
    ),
    Fault(
        "stream_name keeps dots",
        "event_messages.py",
        'return prefix.replace(".", "_").upper() + "_DOCUMENT_EVENTS"',
        'return prefix.upper() + "_DOCUMENT_EVENTS"',
    ),
    Fault(
        "outbox replays the resume point itself",
        "outbox.py",
        "OutboxEvent.id > after",
        "OutboxEvent.id >= after",
    ),
    Fault(
        "outbox stops one event early",
        "outbox.py",
        "statement.where(OutboxEvent.id <= up_to)",
        "statement.where(OutboxEvent.id < up_to)",
    ),
    Fault(
        "document pages repeat the cursor row",
        "crud/documents.py",
        "tuple_(Document.created_at, Document.id) < tuple_(after.created_at, after.id)",
        "tuple_(Document.created_at, Document.id) <= tuple_(after.created_at, after.id)",
    ),
    Fault(
        "delete always reports success",
        "crud/documents.py",
        "deleted = result.scalar_one_or_none() is not None",
        "deleted = True",
    ),
    Fault(
        "search returns only the best hit",
        "crud/documents.py",
        "for row in rows]",
        "for row in rows][:1]",
    ),
    Fault(
        "request size limit doubled",
        "request_size.py",
        "if declared is not None and declared > self.max_bytes:",
        "if declared is not None and declared > self.max_bytes * 2:",
    ),
    Fault(
        "search cache never hits",
        "search_cache.py",
        "if cached is not None:",
        "if cached is not None and False:",
    ),
    Fault(
        "missing documents answer 403",
        "routers/documents.py",
        'return HTTPException(status.HTTP_404_NOT_FOUND, detail="document not found")',
        'return HTTPException(status.HTTP_403_FORBIDDEN, detail="document not found")',
    ),
)

# A tiny plugin the runs load (-p): which tests ran and which failed, by node id.
OUTCOMES_PLUGIN = textwrap.dedent("""
    import json, os

    _ran, _failed, _torn, _collected = set(), set(), set(), []

    def pytest_collection_finish(session):
        _collected.extend(item.nodeid for item in session.items)

    def pytest_runtest_logreport(report):
        if report.when == "call" or (report.when == "setup" and not report.passed):
            _ran.add(report.nodeid)
        if report.failed:
            (_torn if report.when == "teardown" else _failed).add(report.nodeid)

    def pytest_sessionfinish(session):
        if hasattr(session.config, "workerinput"):
            return
        with open(os.environ["BENCH_OUTCOMES"], "w") as out:
            json.dump({"ran": sorted(_ran), "failed": sorted(_failed),
                       "torn": sorted(_torn - _failed), "collected": sorted(_collected)}, out)
""")


@dataclass
class Run:
    ran: set[str]
    failed: set[str]  # in setup or call
    torn: set[str]  # in teardown only: a module or session fixture's error lands on the scope's
    # last test, whichever that is, so it counts as caught when any selected test reports one
    seconds: float
    exit_code: int

    def misses(self, failing: list[str], torn: list[str]) -> list[str]:
        missed = sorted(set(failing) - self.ran)
        if torn and not self.torn and not set(torn) & self.ran:
            missed.append(f"teardown error (reported on {torn[0]})")
        return missed


@dataclass
class FaultResult:
    name: str
    file: str
    applied: bool
    failing: list[str] = field(default_factory=list)
    torn: list[str] = field(default_factory=list)  # teardown-only errors (see Run)
    full_s: float = 0.0
    testkit_selected: int = 0
    testkit_s: float = 0.0
    testkit_misses: list[str] = field(default_factory=list)
    testmon_selected: int = 0
    testmon_s: float = 0.0
    testmon_misses: list[str] = field(default_factory=list)


class Project:
    def __init__(
        self,
        root: Path,
        tests: list[str],
        workers: int,
        plugin_dir: Path,
        services: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        self.services = services or {}
        self.tests = tests
        self.workers = workers
        self.plugin_dir = plugin_dir
        self.python = root / ".venv" / "bin" / "python"
        self.package = next((root / "services" / "api" / "src").glob("*/main.py")).parent

    def pytest(self, *args: str, parallel: bool = False) -> Run:
        outcomes = self.plugin_dir / "outcomes.json"
        outcomes.unlink(missing_ok=True)
        env = clean_env(**self.services)
        env["PYTHONPATH"] = str(self.plugin_dir)
        env["BENCH_OUTCOMES"] = str(outcomes)
        env["TESTKIT_HISTORY"] = "off"
        command = [
            str(self.python),
            "-m",
            "pytest",
            "-p",
            "bench_outcomes",
            "-p",
            "no:randomly",
            "-q",
            "--no-header",
            "-o",
            "console_output_style=classic",
            *args,
            *self.tests,
        ]
        if parallel and self.workers > 1:
            command[3:3] = ["-n", str(self.workers)]
        started = time.perf_counter()
        done = subprocess.run(
            command, cwd=self.root, env=env, capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - started
        if not outcomes.is_file():
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
            raise RuntimeError(
                f"pytest {' '.join(args)} wrote no outcomes (exit {done.returncode}):\n{tail}"
            )
        data = json.loads(outcomes.read_text())
        ran = set(data["collected"]) if "--collect-only" in args else set(data["ran"])
        return Run(ran, set(data["failed"]), set(data["torn"]), seconds, done.returncode)


def copy_database(source: Path, target: Path) -> None:
    """Copy a SQLite file with its write-ahead log folded in (testmon's database runs in WAL
    mode: a plain file copy can miss everything not yet checkpointed)."""
    target.unlink(missing_ok=True)
    with sqlite3.connect(source) as reader, sqlite3.connect(target) as writer:
        reader.backup(writer)
    writer.close()
    reader.close()


def restore_testmon(project_root: Path, backup: Path) -> None:
    """Put testmon's database back as it was on the clean tree (a fault must not leak into
    the next), its write-ahead journals removed."""
    for journal in project_root.glob(".testmondata-*"):
        journal.unlink()
    copy_database(backup, project_root / ".testmondata")


def run_bench(
    project_root: Path,
    tests: list[str],
    workers: int,
    limit: int,
    services: dict[str, str],
    *,
    with_plain_run: bool = True,
    first: int = 0,
    reuse_map: bool = False,
    checkpoint: Callable[[list[FaultResult]], None] | None = None,
) -> tuple[dict[str, object], list[FaultResult]]:
    workdir = Path(tempfile.mkdtemp(prefix="impact-faults-"))
    plugin_dir = workdir / "plugins"
    plugin_dir.mkdir()
    (plugin_dir / "bench_outcomes.py").write_text(OUTCOMES_PLUGIN)
    progress(f"project {project_root}; tests {' '.join(tests)}")
    install_testmon(project_root)
    project = Project(project_root, tests, workers, plugin_dir, services)

    if reuse_map and (project_root / ".testkit" / "impact-map.json").is_file():
        progress("reusing the impact map already in the project (built on this clean tree)")
        map_run = project.pytest("--collect-only")
    else:
        progress("building the testkit impact map (clean tree)")
        map_run = project.pytest("--testkit-impact-record=1", parallel=True)
    progress(f"  {len(map_run.ran)} tests, {len(map_run.failed)} failing, {map_run.seconds:.0f} s")
    plain = map_run
    if with_plain_run:
        plain = project.pytest(parallel=True)
        progress(f"plain full run: {plain.seconds:.0f} s ({len(plain.failed)} failing, no fault)")
    testmon_data = project_root / ".testmondata"
    for stale in project_root.glob(".testmondata*"):
        stale.unlink()
    progress("building the testmon database (clean tree, serial)")
    testmon_build = project.pytest("--testmon")
    progress(f"  {len(testmon_build.ran)} tests, {testmon_build.seconds:.0f} s")
    backup = workdir / "testmondata.clean"
    copy_database(testmon_data, backup)
    already_failing = plain.failed | map_run.failed
    already_torn = plain.torn | map_run.torn

    results: list[FaultResult] = []
    for fault in FAULTS[first : first + limit]:
        target = project.package / fault.module
        relative = target.relative_to(project_root).as_posix()
        original = target.read_text()
        result = FaultResult(fault.name, relative, applied=original.count(fault.old) == 1)
        results.append(result)
        if not result.applied:
            progress(f"SKIP {fault.name}: the snippet is not in {relative} exactly once")
            continue
        target.write_text(original.replace(fault.old, fault.new))
        try:
            full = project.pytest(parallel=True)
            result.failing = sorted(full.failed - already_failing)
            result.torn = sorted(full.torn - already_torn)
            result.full_s = full.seconds
            # A miss is a failing test outside the selection (both tools deselect at collection).
            ours = project.pytest(f"--testkit-impact-changed={relative}")
            result.testkit_selected, result.testkit_s = len(ours.ran), ours.seconds
            result.testkit_misses = ours.misses(result.failing, result.torn)
            theirs = project.pytest("--testmon")
            result.testmon_selected, result.testmon_s = len(theirs.ran), theirs.seconds
            result.testmon_misses = theirs.misses(result.failing, result.torn)
        finally:
            target.write_text(original)
            restore_testmon(project_root, backup)
        progress(
            f"{fault.name}: {len(result.failing)} failing; testkit {result.testkit_selected} "
            f"selected ({len(result.testkit_misses)} missed, {result.testkit_s:.0f} s); testmon "
            f"{result.testmon_selected} ({len(result.testmon_misses)} missed, "
            f"{result.testmon_s:.0f} s); full {result.full_s:.0f} s"
        )
        if checkpoint is not None:
            checkpoint(results)

    applied = [r for r in results if r.applied] or [FaultResult("none", "", applied=False)]
    summary: dict[str, object] = {
        "tests": tests,
        "suite_size": len(plain.ran),
        "faults_applied": sum(r.applied for r in results),
        "faults_detected": sum(1 for r in applied if r.failing or r.torn),
        "testkit_misses": sum(len(r.testkit_misses) for r in applied),
        "testmon_misses": sum(len(r.testmon_misses) for r in applied),
        "testkit_selected_median": statistics.median(r.testkit_selected for r in applied),
        "testmon_selected_median": statistics.median(r.testmon_selected for r in applied),
        "full_run_s_median": statistics.median(r.full_s for r in applied),
        "testkit_select_run_s_median": statistics.median(r.testkit_s for r in applied),
        "testmon_select_run_s_median": statistics.median(r.testmon_s for r in applied),
        "map_build_s": map_run.seconds,
        "plain_full_run_s": plain.seconds if with_plain_run else None,
        "testmon_build_s": testmon_build.seconds,
        "workers_for_full_runs": workers,
    }
    return summary, results


def markdown(summary: dict[str, object], results: list[FaultResult]) -> str:
    lines = [
        "| fault | file | failing | testkit selected | testkit missed | testmon selected "
        "| testmon missed | testkit select+run s | testmon select+run s | full run s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if not r.applied:
            lines.append(
                f"| {r.name} | {r.file.split('/src/')[-1]} | not applied (snippet gone) "
                "| | | | | | | |"
            )
            continue
        lines.append(
            f"| {r.name} | {r.file.split('/src/')[-1]} | {len(r.failing)} | {r.testkit_selected} "
            f"| {len(r.testkit_misses)} | {r.testmon_selected} | {len(r.testmon_misses)} "
            f"| {r.testkit_s:.1f} | {r.testmon_s:.1f} | {r.full_s:.0f} |"
        )
    lines += ["", "summary: " + json.dumps(summary)]
    return "\n".join(lines) + "\n"


def headline(summary: dict[str, object]) -> str:
    return (
        f"Impact selection on {summary['faults_applied']} injected faults: failing tests missed "
        f"by testkit {summary['testkit_misses']}, by pytest-testmon "
        f"{summary['testmon_misses']}; median tests selected "
        f"{summary['testkit_selected_median']} vs {summary['testmon_selected_median']} of "
        f"{summary['suite_size']}, select and run "
        f"{summary['testkit_select_run_s_median']:.0f} s vs "
        f"{summary['testmon_select_run_s_median']:.0f} s (full run "
        f"{summary['full_run_s_median']:.0f} s)."
    )


def measure(quick: bool) -> Measurement:
    """For `make bench` (bench/run.py): the benchmark bake and the machine's services."""
    tests = (
        ["tests/unit"]  # QUICK: two faults against the unit tier prove the machinery
        if quick
        else [
            "tests/unit",
            "tests/property",
            "tests/integration",
            "tests/rag",
            "tests/security",
            "tests/observability",
            "tests/adversarial",
        ]
    )
    # BENCH_SERVICES=local: each pytest run starts its own servers from the installed binaries
    # (it can then run at low priority beside a timing-sensitive measurement).
    services = LOCAL_SERVICES if os.environ.get("BENCH_SERVICES") == "local" else REAL_SERVICES
    summary, results = run_bench(
        installed_default_project(),
        tests,
        2,
        2 if quick else len(FAULTS),
        services,
        with_plain_run=not quick,
    )
    figures = [
        Figure(
            r.name,
            {
                "failing": len(r.failing),
                "teardown errors": len(r.torn),
                "testkit selected": r.testkit_selected,
                "testkit missed": len(r.testkit_misses),
                "testmon selected": r.testmon_selected,
                "testmon missed": len(r.testmon_misses),
                "testkit s": round(r.testkit_s, 1),
                "testmon s": round(r.testmon_s, 1),
                "full run s": round(r.full_s, 1),
            },
            f"python bench/impact_faults.py --tests {' '.join(tests)}",
        )
        for r in results
        if r.applied
    ]
    return Measurement(
        "impact_faults",
        "Impact selection vs pytest-testmon on injected faults",
        figures,
        notes="summary: " + json.dumps(summary),
        chart=("testkit selected", "tests"),
        headline=headline(summary),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="an installed bake (default: bake one)")
    parser.add_argument(
        "--tests",
        nargs="+",
        default=["tests"],
        help="test paths to run (default: tests, every tier of the service)",
    )
    parser.add_argument("--workers", type=int, default=2, help="xdist workers for full runs")
    parser.add_argument("--limit", type=int, default=len(FAULTS), help="run N faults at most")
    parser.add_argument("--first", type=int, default=0, help="skip the first N faults")
    parser.add_argument(
        "--reuse-map", action="store_true", help="keep the project's impact map (same tree)"
    )
    parser.add_argument(
        "--services",
        choices=("url", "local"),
        default="local",
        help="url: the machine's postgres/redis/nats (TEST_*_URL); local: ephemeral servers",
    )
    parser.add_argument(
        "--no-plain-run", action="store_true", help="skip the timing run without the map"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "impact_faults")
    arguments = parser.parse_args(argv)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    # Stopped with SIGTERM: unwind, so the `finally` puts the faulted file back.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def checkpoint(results: list[FaultResult]) -> None:
        """Results so far: a long run stopped early still leaves its figures."""
        arguments.output.with_suffix(".partial.json").write_text(
            json.dumps([asdict(r) for r in results], indent=2)
        )

    if arguments.project:
        project_root = arguments.project
    else:
        project_root = bake_default(Path(tempfile.mkdtemp(prefix="impact-bake-")))
        run(["make", "install"], cwd=project_root)
    services = REAL_SERVICES if arguments.services == "url" else LOCAL_SERVICES
    summary, results = run_bench(
        project_root,
        arguments.tests,
        arguments.workers,
        arguments.limit,
        services,
        with_plain_run=not arguments.no_plain_run,
        first=arguments.first,
        reuse_map=arguments.reuse_map,
        checkpoint=checkpoint,
    )
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.with_suffix(".json").write_text(
        json.dumps({"summary": summary, "faults": [asdict(r) for r in results]}, indent=2)
    )
    table = markdown(summary, results)
    arguments.output.with_suffix(".md").write_text(table)
    print(table)
    missed = [(r.name, n) for r in results for n in r.testkit_misses]
    for name, nodeid in missed:
        print(f"testkit MISSED: {name}: {nodeid}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
