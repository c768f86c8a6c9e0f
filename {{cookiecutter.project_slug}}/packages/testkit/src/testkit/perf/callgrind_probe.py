"""The program callgrind measures (see testkit.perf.callgrind): run as a script by the measured
interpreter with -P (nothing of its own directory or the current one on sys.path), never
imported, so it imports nothing of testkit's.

argv: benchmark module, scratch directory, vgdb ("-": instrumented from the start), warmup,
iterations, repeats, jobs, benchmark names. It imports the module, has vgdb switch callgrind's
instrumentation on (exit SWITCH_FAILED if it cannot), then forks one child per benchmark, `jobs`
at a time. Each child runs its segments between calls of os.getppid(), where callgrind dumps
what it counted: the empty loop, then `repeats` loops of the benchmark. Writes {name: [child
pid, exit code]} to <scratch>/children.json; a failing child leaves its traceback in
<scratch>/<name>.error.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable

SWITCH_FAILED = 75


def _nothing() -> None:
    pass


bench: Callable[[], object] = _nothing


def empty() -> None:
    pass


def run_empty(times: int) -> None:
    for _ in range(times):
        empty()


def run_bench(times: int) -> None:
    for _ in range(times):
        bench()


def measure(module: object, name: str, warmup: int, iterations: int, repeats: int) -> None:
    global bench
    bench = getattr(module, "bench_" + name)
    gc.collect()
    gc.freeze()
    run_bench(warmup)
    run_empty(warmup)
    os.getppid()
    run_empty(iterations)
    os.getppid()
    for _ in range(repeats):
        run_bench(iterations)
        os.getppid()


def switch_instrumentation_on(vgdb: str) -> bool:
    switch = subprocess.Popen(
        [vgdb, "--pid=" + str(os.getpid()), "instrumentation", "on"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    # Busy on purpose: valgrind serves vgdb between basic blocks, not while blocked in a wait.
    while switch.poll() is None and time.monotonic() < deadline:
        pass
    if switch.poll() != 0:
        switch.kill()
        return False
    return True


def main(argv: list[str]) -> int:
    path, scratch, vgdb = argv[:3]
    warmup, iterations, repeats, jobs = (int(value) for value in argv[3:7])
    names = argv[7:]
    spec = importlib.util.spec_from_file_location("instruction_benchmarks", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load the benchmark module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    if vgdb != "-" and not switch_instrumentation_on(vgdb):
        return SWITCH_FAILED

    running: dict[int, str] = {}
    done: dict[str, list[int]] = {}

    def reap() -> None:
        pid, status = os.wait()
        done[running.pop(pid)] = [pid, os.waitstatus_to_exitcode(status)]

    for name in names:
        if len(running) >= jobs:
            reap()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:
                measure(module, name, warmup, iterations, repeats)
            except BaseException:
                with open(os.path.join(scratch, name + ".error"), "w") as file:
                    file.write(traceback.format_exc())
                os._exit(1)
            os._exit(0)
        running[pid] = name
    while running:
        reap()
    with open(os.path.join(scratch, "children.json"), "w") as file:
        json.dump(done, file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
