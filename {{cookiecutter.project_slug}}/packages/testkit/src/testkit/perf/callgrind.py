"""Instructions per call of each ``bench_<name>()`` in a benchmark module, counted by valgrind's
callgrind.

One interpreter per revision starts under callgrind with instrumentation off (several times
faster), imports the benchmark module once, has vgdb switch instrumentation on, and forks one
child per benchmark, ``jobs`` at a time: every benchmark starts from the same state and none
pays for the import. A child collects and freezes the garbage collector's heap, warms its
benchmark up, then runs segments separated by calls of ``os.getppid()``, where callgrind
(``--dump-before=getppid``) writes what it counted so far and starts again from zero:
``iterations`` calls of an empty function (the loop's own cost), then ``repeats`` segments of
``iterations`` calls of the benchmark, each from a loop of its own (a shared loop would be
specialised for one callee and pay to re-specialise for the other). Instructions per call =
(median benchmark segment - empty segment) / iterations; start-up, imports and set-up never
count.

The same inputs give the same counts, to the instruction: PYTHONHASHSEED=0, the modules compiled
into a fresh bytecode cache first (natively, uncounted), and each revision reached through paths
of the same length. What still moves them is where objects land in memory (other code, another
environment): a few tenths of a percent on string-heavy benchmarks.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from testkit.perf import callgrind_probe
from testkit.perf.benchmark_module import PREFIX, BenchmarkError
from testkit.perf.instruction_gate import Environment

MARKER = "getppid"
TIMEOUT_S = 1800.0
# The environment of the measured interpreter: nothing of the caller's that changes what it
# executes (a coverage tracer started through COVERAGE_*, PYTHONDEVMODE, PYTHONMALLOC, ...).
_DROPPED_ENV = re.compile(r"^(PYTHON|COVERAGE_)")
# How the counts were taken (the Environment's ``instrumentation``).
AFTER_IMPORTS = "switched on after the imports (vgdb)"
FROM_START = "from the start"
# The measured program; it exits SWITCH_FAILED when vgdb could not switch instrumentation on.
PROBE = Path(callgrind_probe.__file__)


class ValgrindMissing(RuntimeError):
    """valgrind is not on PATH."""


class SwitchFailed(BenchmarkError):
    """vgdb could not switch callgrind's instrumentation on (count_all then counts without)."""


@dataclass(frozen=True, slots=True)
class Counted:
    """One benchmark's segments: the empty loop's instructions and each repeat's."""

    name: str
    iterations: int
    empty: int
    repeats: tuple[int, ...]

    @property
    def per_call(self) -> float:
        return (statistics.median(self.repeats) - self.empty) / self.iterations

    @property
    def spread_pct(self) -> float:
        """(largest - smallest repeat) / median, in percent: how exactly one run repeats."""
        middle = statistics.median(self.repeats)
        return (max(self.repeats) - min(self.repeats)) / middle * 100.0 if middle else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "instructions_per_call": round(self.per_call, 1),
            "iterations": self.iterations,
            "empty_loop": self.empty,
            "repeats": list(self.repeats),
        }


@dataclass(frozen=True, slots=True)
class Plan:
    """Where and how to measure one revision's benchmarks."""

    module: Path
    root: Path  # the project directory: the interpreter's working directory
    python_path: tuple[Path, ...]  # in front of PYTHONPATH
    iterations: int
    repeats: int
    warmup: int
    shown: Path | None = None  # the module's own path, for messages, when run through a view

    @property
    def named(self) -> Path:
        return self.shown or self.module


_TOTAL = re.compile(r"^(?:summary|totals):\s*(\d+)", re.MULTILINE)


def parse_total(text: str) -> int:
    """The instruction count (the first event) of one callgrind output file."""
    match = _TOTAL.search(text)
    if match is None:
        raise ValueError("no 'summary:' or 'totals:' line in the callgrind output")
    return int(match.group(1))


def segments_of(out_file: Path) -> list[int]:
    """The counts of ``<out_file>.1``, ``.2``, ...: one per marker call, in order."""
    counts = []
    part = 1
    while (path := out_file.with_name(f"{out_file.name}.{part}")).is_file():
        counts.append(parse_total(path.read_text(encoding="utf-8", errors="replace")))
        part += 1
    return counts


def require_valgrind() -> str:
    """The path of valgrind, or ValgrindMissing with the install command."""
    found = shutil.which("valgrind")
    if found is None:
        raise ValgrindMissing(
            "valgrind is not installed (the counts come from callgrind): apt-get install valgrind"
        )
    return found


def valgrind_version() -> str:
    try:
        done = subprocess.run(
            [require_valgrind(), "--version"], capture_output=True, text=True, check=False
        )
    except OSError as error:
        message = f"valgrind does not run ({error}): apt-get install valgrind"
        raise ValgrindMissing(message) from None
    return done.stdout.strip() or "unknown"


def _environment(extra_path: Sequence[Path], pycache: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not _DROPPED_ENV.match(key)}
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONPATH"] = os.pathsep.join(str(path) for path in extra_path)
    # A fresh bytecode cache per run, filled by an uncounted import first: code loaded from a
    # .pyc executes a few instructions per call fewer than code compiled from source (its names
    # are interned alike), so no side may depend on which .pyc files its checkout happens to have.
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _last_error_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if not line.startswith("==")]  # valgrind's own lines
    return errors[-1] if errors else ""


_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


def _child_failure(name: str, module: Path, traceback_text: str, code: int) -> BenchmarkError:
    lines = [
        found.group(2)
        for found in _FRAME.finditer(traceback_text)
        if Path(found.group(1)).name == module.name
    ]
    where = f" at line {lines[-1]}" if lines else ""
    reason = _last_error_line(traceback_text) or f"exit {code}"
    return BenchmarkError(f"{PREFIX}{name} in {module} failed{where}: {reason}")


def count_revision(
    plan: Plan, names: Sequence[str], scratch: Path, *, jobs: int, vgdb: str | None
) -> dict[str, Counted]:
    """Every named benchmark of one revision: one interpreter under callgrind, one fork each.
    With ``vgdb`` the imports run uninstrumented (several times faster) and the interpreter has
    vgdb switch instrumentation on before its first benchmark; SwitchFailed when that fails."""
    if not names:
        return {}
    scratch.mkdir(parents=True, exist_ok=True)
    env = _environment(plan.python_path, scratch / "pycache")
    probe = [sys.executable, "-P", str(PROBE), str(plan.module), str(scratch)]
    # Natively first, each benchmark called once: every imported module is compiled into the
    # cache, and a benchmark that fails does so in a second rather than under callgrind.
    native = subprocess.run(
        [*probe, "-", "1", "0", "0", str(max(1, jobs)), *names],
        cwd=plan.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if native.returncode != 0:
        reason = _last_error_line(native.stderr) or f"exit {native.returncode}"
        raise BenchmarkError(f"{plan.named} could not be imported: {reason}")
    _children(plan, names, scratch)
    arguments = [
        str(plan.warmup),
        str(plan.iterations),
        str(plan.repeats),
        str(max(1, jobs)),
        *names,
    ]
    code, stderr, pid = _callgrind(plan, env, scratch, probe, vgdb, arguments)
    if code == callgrind_probe.SWITCH_FAILED:
        raise SwitchFailed(f"vgdb could not switch callgrind's instrumentation on for {plan.named}")
    if code != 0:
        reason = _last_error_line(stderr) or f"exit {code}"
        raise BenchmarkError(f"{plan.named} could not be run: {reason}")
    # valgrind runs the interpreter in its own process: the parent's dumps carry its pid.
    if (scratch / f"callgrind.out.{pid}.1").is_file():
        raise BenchmarkError(
            f"importing {plan.named} calls os.{MARKER}(), which marks the counted segments"
        )
    counted = {}
    for name, child in _children(plan, names, scratch).items():
        counts = segments_of(scratch / f"callgrind.out.{child}")
        # The warm-up up to the first marker, the empty loop, then one per repeat.
        if len(counts) != 2 + plan.repeats:
            raise BenchmarkError(
                f"{PREFIX}{name} in {plan.named}: expected {2 + plan.repeats} callgrind "
                f"dumps, got {len(counts)} (does it call os.{MARKER}()? that call marks the "
                "counted segments)"
            )
        counted[name] = Counted(name, plan.iterations, counts[1], tuple(counts[2:]))
    return counted


def _children(plan: Plan, names: Sequence[str], scratch: Path) -> dict[str, int]:
    """The pid of each benchmark's process, from the probe's children.json; the first failed
    benchmark as a BenchmarkError naming it."""
    children: dict[str, list[int]] = json.loads((scratch / "children.json").read_text())
    for name in names:
        if children[name][1] != 0:
            error_file = scratch / f"{name}.error"
            text = error_file.read_text(encoding="utf-8") if error_file.is_file() else ""
            raise _child_failure(name, plan.named, text, children[name][1])
    return {name: children[name][0] for name in names}


def _callgrind(
    plan: Plan,
    env: Mapping[str, str],
    scratch: Path,
    probe: Sequence[str],
    vgdb: str | None,
    arguments: Sequence[str],
) -> tuple[int, str, int]:
    """(exit code, stderr, pid) of the probe under callgrind; with ``vgdb``, the probe switches
    instrumentation on itself after its imports."""
    command = [
        require_valgrind(),
        "--tool=callgrind",
        f"--instr-atstart={'no' if vgdb else 'yes'}",
        f"--dump-before={MARKER}",
        f"--callgrind-out-file={scratch / 'callgrind.out.%p'}",
        *probe,
        vgdb or "-",
        *arguments,
    ]
    with subprocess.Popen(
        command,
        cwd=plan.root,
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            _, stderr = process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired as error:
            process.kill()
            process.communicate()
            raise BenchmarkError(
                f"the benchmarks of {plan.named} took over {TIMEOUT_S:g} s under callgrind; "
                "lower --iterations"
            ) from error
    return process.returncode, stderr, process.pid


@dataclass(frozen=True, slots=True)
class Counting:
    """Every revision's counts (by label, e.g. "base" and "current") and how they were taken."""

    counts: dict[str, dict[str, Counted]]
    instrumentation: str  # AFTER_IMPORTS or FROM_START


def count_all(
    plans: Mapping[str, Plan], names: Mapping[str, Sequence[str]], *, jobs: int
) -> Counting:
    """Every benchmark of every plan. The revisions run at once, sharing ``jobs`` forked
    benchmarks between them, all counted the same way: instrumentation switched on after the
    imports when vgdb can, else (and for every revision, when one switch fails) from the start.
    The two ways differ by a few tenths of a percent: a baseline records which it used."""
    require_valgrind()
    vgdb = shutil.which("vgdb")
    if vgdb is not None:
        try:
            return Counting(_count_each(plans, names, jobs, vgdb), AFTER_IMPORTS)
        except SwitchFailed:
            pass
    return Counting(_count_each(plans, names, jobs, None), FROM_START)


def _count_each(
    plans: Mapping[str, Plan], names: Mapping[str, Sequence[str]], jobs: int, vgdb: str | None
) -> dict[str, dict[str, Counted]]:
    measured = [label for label in plans if names[label]]
    share = max(1, jobs // max(1, len(measured)))
    with (
        tempfile.TemporaryDirectory(prefix="testkit-callgrind-") as temporary,
        ThreadPoolExecutor(max_workers=max(1, len(measured))) as pool,
    ):
        futures = {
            label: pool.submit(
                count_revision,
                _viewed(plans[label], Path(temporary) / f"v{index}"),
                names[label],
                Path(temporary) / f"s{index}",
                jobs=share,
                vgdb=vgdb,
            )
            for index, label in enumerate(measured)
        }
        return {label: futures[label].result() if label in futures else {} for label in plans}


def _viewed(plan: Plan, view: Path) -> Plan:
    """``plan`` seen through the symbolic link ``view`` to its root.

    Every revision is then reached through paths of the same length (the views and scratch
    directories of one run differ in one digit), so its interpreter starts with environment,
    arguments and strings of the same sizes and lays out its memory alike: 16 more bytes of
    environment moved a benchmark by 0.3% (where strings and buffers land decides how many
    instructions glibc's string functions take).
    """
    view.symlink_to(plan.root, target_is_directory=True)

    def seen(path: Path) -> Path:
        return view / path.relative_to(plan.root) if path.is_relative_to(plan.root) else path

    return replace(
        plan,
        module=seen(plan.module),
        root=view,
        python_path=tuple(seen(path) for path in plan.python_path),
        shown=plan.named,
    )


def current_environment(instrumentation: str) -> Environment:
    """This interpreter, C library and valgrind, as a baseline records them."""
    libc, libc_version = platform.libc_ver()
    return Environment(
        python=f"{platform.python_implementation()} {platform.python_version()}",
        python_build=f"{' '.join(platform.python_build())} {platform.python_compiler()}",
        machine=platform.machine(),
        libc=f"{libc} {libc_version}".strip() or "unknown",
        valgrind=valgrind_version(),
        instrumentation=instrumentation,
    )
