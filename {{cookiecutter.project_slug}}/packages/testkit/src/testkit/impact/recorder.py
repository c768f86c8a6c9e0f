"""Recording the impact map: coverage.py with one context per test (`make impact-map`).

Each test-running process (the only one, or each xdist worker) starts coverage.py itself and
switches its dynamic context to ``t:<nodeid>`` around each test, and to ``f:<fixture>`` while a
module- or session-scoped fixture sets up or tears down: the code such a fixture runs once is
then credited to every test that uses it, not just to the first or last one (pytest-cov's
``--cov-context=test`` credits the test that happened to be running). Subprocesses (a uvicorn
server a fixture starts, a pytester subprocess) are measured too: the environment variable
coverage.py's start-up hook reads carries the current context as the child's static context.
The data files each context reads (testkit.impact.file_reads) are recorded beside. At the end
the controlling process combines the coverage data and writes the map (testkit.impact.build).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.impact.build import build_map, expand_fixtures, source_files
from testkit.impact.file_reads import FileReads, merge_reads
from testkit.impact.map import (
    FIXTURE_CONTEXT,
    MODULE_CONTEXT,
    SESSION_CONTEXT,
    TEST_CONTEXT,
    write_map,
)

PROCESS_ENV = "COVERAGE_PROCESS_CONFIG"  # read by the .pth hook coverage.py installs
DATA_NAME = ".coverage"


def _process_name(config: pytest.Config) -> str:
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else "main"


def _is_xdist_controller(config: pytest.Config) -> bool:
    if hasattr(config, "workerinput") or not config.pluginmanager.hasplugin("xdist"):
        return False
    return str(config.getoption("dist", default="no")) != "no"


def executed_by_context(data: Any) -> dict[Path, dict[int, list[str]]]:
    """file -> line -> contexts that ran it, from a coverage.py CoverageData."""
    executed: dict[Path, dict[int, list[str]]] = {}
    for filename in data.measured_files():
        by_line = data.contexts_by_lineno(filename)
        executed[Path(filename).resolve()] = {
            line: list(contexts) for line, contexts in by_line.items()
        }
    return executed


class ImpactRecorder:
    """Measures the tests of this process; the controlling process also builds the map."""

    def __init__(
        self, config: pytest.Config, *, data_dir: Path, map_path: Path, sources: list[str]
    ) -> None:
        import coverage  # the `impact` extra; imported only when recording

        self._data_dir = data_dir
        self._map_path = map_path
        self._sources = sources
        self._root = config.rootpath.resolve()
        self._name = _process_name(config)
        self._controller = not hasattr(config, "workerinput")
        self._measures = not _is_xdist_controller(config)
        self._fixtures: dict[str, list[str]] = {}
        self._edges: dict[str, set[str]] = {}  # fixture -> the fixtures its setup used
        self._setting_up: list[str] = []  # module/session fixtures being set up, innermost last
        self._factories: set[str] = set()  # module/session fixtures whose value is a function
        self._outcomes: dict[str, str] = {}
        self._teardowns: dict[int, str] = {}  # fixture being torn down -> context to restore
        self._previous_env = os.environ.get(PROCESS_ENV)
        self.summary: str | None = None
        if self._controller:
            shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True, exist_ok=True)
        self._coverage: Any = None
        self._context = SESSION_CONTEXT
        self._reads = FileReads(self._root)
        if not self._measures:
            return
        if coverage.Coverage.current() is not None:
            raise pytest.UsageError(
                "--testkit-impact-record starts coverage.py itself; run it without --cov "
                "or `coverage run`"
            )
        roots = [str(p) for pattern in sources for p in sorted(self._root.glob(pattern))]
        cov = coverage.Coverage(
            data_file=str(data_dir / DATA_NAME),
            data_suffix=True,
            source=roots,
            branch=False,
            config_file=False,
            messages=False,
        )
        # Dynamic contexts need the C tracer (sys.monitoring cannot switch them).
        cov.set_option("run:core", "ctrace")
        cov.set_option("run:parallel", True)
        cov.set_option("run:disable_warnings", ["no-data-collected", "module-not-measured"])
        cov.start()
        self._coverage = cov
        self._reads.start(SESSION_CONTEXT)
        self._switch(SESSION_CONTEXT)

    # --- contexts ------------------------------------------------------------------------

    def _switch(self, context: str) -> str:
        """Set the context here and for subprocesses started from now on; return the old one."""
        # Tracked here: switch_context returns the old context only from coverage 7.16 on.
        previous, self._context = self._context, context
        self._coverage.switch_context(context)
        self._reads.context = context
        # The static context is read when coverage starts, so lending the field to the
        # children's serialized config leaves this process's measurement alone.
        config = self._coverage.config
        saved = config.context, config.sigterm
        # sigterm: uvicorn re-raises the SIGTERM it stopped on, which would skip atexit.
        config.context, config.sigterm = context, True
        try:
            os.environ[PROCESS_ENV] = config.serialize()
        finally:
            config.context, config.sigterm = saved
        return previous

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[None]:
        if self._coverage is None:
            yield
            return
        self._switch(TEST_CONTEXT + item.nodeid)
        try:
            yield
        finally:
            self._switch(SESSION_CONTEXT)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Iterator[None]:
        """What a test file reads while it is imported (a corpus loaded into a constant)
        belongs to the file's tests. Only reads: the lines an import runs (each ``def``)
        would otherwise credit every function of the modules it imports to those tests."""
        if self._coverage is None or not isinstance(collector, pytest.Module):
            yield
            return
        previous, self._reads.context = self._reads.context, MODULE_CONTEXT + collector.nodeid
        try:
            yield
        finally:
            self._reads.context = previous

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Iterator[None]:
        if self._coverage is None or fixturedef.scope == "function":
            yield
            return
        name = fixturedef.argname
        if self._setting_up:  # requested while another one sets up (getfixturevalue)
            self._edges.setdefault(self._setting_up[-1], set()).add(name)
        active = set(request.fixturenames)
        self._setting_up.append(name)
        previous = self._switch(FIXTURE_CONTEXT + name)
        try:
            yield
        finally:
            self._switch(previous)
            self._setting_up.pop()
            # What its setup used: its parameters, and what it requested dynamically (set up
            # here, or already cached and newly active). A later test served this fixture from
            # the cache depends on those too. Not the test's other fixtures: a session fixture
            # first set up beside a server would otherwise pull that server into every test.
            used = self._edges.setdefault(name, set())
            used.update(fixturedef.argnames)
            used.update(set(request.fixturenames) - active - {name})
            cached = getattr(fixturedef, "cached_result", None)
            if cached is not None and callable(cached[0]):
                self._factories.add(name)  # see build.expand_fixtures
            # Its teardown runs inside whichever test ends its scope (the session's last test,
            # and pytest reports a teardown error there): credit that code to the fixture too.
            # Finalizers run last in, first out, so this one runs just before the fixture's
            # own teardown; pytest_fixture_post_finalizer switches back after it.
            fixturedef.addfinalizer(lambda: self._enter_teardown(fixturedef))

    def _enter_teardown(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        self._teardowns[id(fixturedef)] = self._switch(FIXTURE_CONTEXT + fixturedef.argname)

    def pytest_fixture_post_finalizer(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        previous = self._teardowns.pop(id(fixturedef), None)
        if previous is not None and self._coverage is not None:
            self._switch(previous)

    @pytest.fixture(autouse=True)
    def _testkit_impact_fixtures(self, request: pytest.FixtureRequest) -> Iterator[None]:
        """Notes every fixture the test used, including those requested dynamically."""
        yield
        self._fixtures[request.node.nodeid] = sorted(request.fixturenames)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self._outcomes[report.nodeid] = "failed"
        elif report.skipped and report.when != "teardown":
            self._outcomes.setdefault(report.nodeid, "skipped")
        elif report.when == "call":
            self._outcomes.setdefault(report.nodeid, "passed")

    # --- the end ------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self._coverage is not None:
            self._coverage.stop()
            self._coverage.save()
            self._coverage = None
        self._reads.stop()
        if self._previous_env is None:
            os.environ.pop(PROCESS_ENV, None)
        else:
            os.environ[PROCESS_ENV] = self._previous_env
        # Workers' reports also reach the controller; only fixtures are theirs to tell.
        (self._data_dir / f"fixtures-{self._name}.json").write_text(
            json.dumps(
                {
                    "tests": self._fixtures,
                    "edges": {name: sorted(used) for name, used in self._edges.items()},
                    "reads": self._reads.by_context(),
                    "factories": sorted(self._factories),
                }
            )
        )
        if self._controller:
            self.summary = self._build()

    def _build(self) -> str:
        import coverage

        fixtures: dict[str, list[str]] = {}
        edges: dict[str, set[str]] = {}
        reads: dict[str, set[str]] = {}
        factories: set[str] = set()
        for file in sorted(self._data_dir.glob("fixtures-*.json")):
            recorded = json.loads(file.read_text())
            fixtures.update(recorded["tests"])
            for name, used in recorded["edges"].items():
                edges.setdefault(name, set()).update(used)
            merge_reads(recorded["reads"], reads)
            factories.update(recorded["factories"])
        combined = coverage.CoverageData(basename=str(self._data_dir / DATA_NAME))
        data_files = [str(p) for p in self._data_dir.glob(DATA_NAME + ".*")]
        from coverage.data import combine_parallel_data

        combine_parallel_data(combined, data_paths=data_files, keep=True, message=None)
        executed = executed_by_context(combined)
        passed = [n for n, outcome in self._outcomes.items() if outcome == "passed"]
        unreliable = [n for n, outcome in self._outcomes.items() if outcome != "passed"]
        server_contexts = {c for c in combined.measured_contexts() if c.startswith(FIXTURE_CONTEXT)}
        impact_map = build_map(
            root=self._root,
            modules=source_files(self._root, self._sources),
            executed=executed,
            test_fixtures=expand_fixtures(fixtures, edges, factories),
            passed=passed,
            unreliable=unreliable,
            reads=reads,
            notes=(f"{len(data_files)} coverage data files",),
        )
        write_map(impact_map, self._map_path)
        shown = (
            self._map_path.relative_to(self._root)
            if self._map_path.is_relative_to(self._root)
            else self._map_path
        )
        return (
            f"testkit impact: map written to {shown} ({len(impact_map.tests)} tests, "
            f"{len(impact_map.files)} files, {len(impact_map.data_files)} data files, "
            f"{len(data_files)} processes, "
            f"{len(server_contexts)} shared fixtures; {len(impact_map.unreliable)} failed or "
            "skipped tests left out: they always run)"
        )

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.summary:
            terminalreporter.write_line(self.summary)
