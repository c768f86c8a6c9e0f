"""find-polluter on injected order-dependent pairs: is the polluter named, in how many steps?

A synthetic pytest project (generated, seeded) holds filler tests and PER_KIND polluter/victim
pairs of each kind below, shuffled together (each polluter collected before its victim). Each
victim passes alone and fails after its polluter, which leaves behind:

- module global: an entry in a module-level list;
- environment variable: a variable set in os.environ;
- file on disk: a file in a directory shared by the session (a session fixture's tmp dir);
- monkeypatched attribute: a module function replaced by hand and never put back;
- cache/singleton: the object an lru_cache'd factory returns, mutated;
- sys.modules/sys.path: a fake module in sys.modules, or a directory with a module on sys.path.

`testkit find-polluter <victim>` (no history: the collection order, so every test before the
victim is a candidate) runs for every victim, two at a time, in the default bake's interpreter
(detect-test-pollution and testkit's plugin as installed there) with the template's testkit
sources first on PYTHONPATH, so the figures are the template's code. Reported per kind: pairs,
polluter named correctly, named wrongly or not at all, median bisection steps and seconds per
victim. Goal: every polluter found.

Standalone: python bench/polluter_pairs.py [--per-kind 6] [--filler 150] [--project DIR]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from project import (
    TEMPLATE_ROOT,
    Figure,
    Measurement,
    clean_env,
    installed_default_project,
    progress,
)

TESTKIT_SRC = TEMPLATE_ROOT / "{{cookiecutter.project_slug}}" / "packages" / "testkit" / "src"
PER_KIND = 6
QUICK_PER_KIND = 1  # QUICK: one pair of each of three kinds proves the machinery
QUICK_KINDS = 3
FILLER = 150
QUICK_FILLER = 30
TESTS_PER_FILE = 10
WORKERS = 2
SEED = 2026
COMMAND = "python bench/polluter_pairs.py"


@dataclass(frozen=True)
class Kind:
    name: str
    app: Callable[[int], str]  # the shared module's code for pair i
    polluter: Callable[[int], str]  # the polluting test's body
    victim: Callable[[int], str]  # the victim's body


KINDS = (
    Kind(
        "module global",
        lambda i: f"SEEN_{i} = []\n",
        lambda i: f"pollution_app.SEEN_{i}.append('order-{i}')",
        lambda i: f"assert pollution_app.SEEN_{i} == []",
    ),
    Kind(
        "environment variable",
        lambda i: "",
        lambda i: f"os.environ['POLLUTION_FLAG_{i}'] = '1'",
        lambda i: f"assert os.environ.get('POLLUTION_FLAG_{i}', '0') == '0'",
    ),
    Kind(
        "file on disk",
        lambda i: "",
        lambda i: f"(shared_dir / 'lock-{i}').write_text('held')",
        lambda i: f"assert not (shared_dir / 'lock-{i}').exists()",
    ),
    Kind(
        "monkeypatched attribute",
        lambda i: f"def rate_{i}():\n    return 1.0\n",
        lambda i: f"pollution_app.rate_{i} = lambda: 2.0",
        lambda i: f"assert pollution_app.rate_{i}() == 1.0",
    ),
    Kind(
        "cache/singleton",
        lambda i: f"@functools.lru_cache\ndef settings_{i}():\n    return {{'mode': 'default'}}\n",
        lambda i: f"pollution_app.settings_{i}()['mode'] = 'test'",
        lambda i: f"assert pollution_app.settings_{i}()['mode'] == 'default'",
    ),
    Kind(
        "sys.modules/sys.path",
        lambda i: "",
        lambda i: (
            f"sys.modules['fake_plugin_{i}'] = types.SimpleNamespace()"
            if i % 2
            else f"(shared_dir / 'extra_{i}').mkdir()\n"
            f"    (shared_dir / 'extra_{i}' / 'extra_module_{i}.py').write_text('')\n"
            f"    sys.path.insert(0, str(shared_dir / 'extra_{i}'))"
        ),
        lambda i: (
            f"with pytest.raises(ImportError):\n        import fake_plugin_{i}  # noqa: F401"
            if i % 2
            else f"with pytest.raises(ImportError):\n        import extra_module_{i}  # noqa: F401"
        ),
    ),
)
HEADER = "import os\nimport sys\nimport types\n\nimport pytest\n\nimport pollution_app\n"
CONFTEST = (
    "import pytest\n\n\n@pytest.fixture(scope='session')\n"
    "def shared_dir(tmp_path_factory):\n    return tmp_path_factory.mktemp('shared')\n"
)


@dataclass(frozen=True)
class Pair:
    kind: str
    polluter: str  # node ids
    victim: str


@dataclass(frozen=True)
class Hunt:
    pair: Pair
    named: str | None
    steps: int
    seconds: float
    exit_code: int

    @property
    def correct(self) -> bool:
        return self.named == self.pair.polluter


def generate(
    root: Path, per_kind: int, kinds: Sequence[Kind], filler: int, seed: int
) -> list[Pair]:
    """Write the project; the pairs it holds, in collection order of their victims."""
    rng = random.Random(seed)
    tests: list[tuple[str, str]] = [(f"test_filler_{n:03d}", "assert True") for n in range(filler)]
    app = ["import functools\n"]
    pairs: list[tuple[str, str, str]] = []  # kind, polluter name, victim name
    number = 0
    for kind in kinds:
        for _ in range(per_kind):
            number += 1
            app.append(kind.app(number))
            polluter, victim = f"test_step_{number:03d}a", f"test_step_{number:03d}b"
            tests += [(polluter, kind.polluter(number)), (victim, kind.victim(number))]
            pairs.append((kind.name, polluter, victim))
    rng.shuffle(tests)
    where = {name: index for index, (name, _) in enumerate(tests)}
    for _, polluter, victim in pairs:  # every polluter is collected before its victim
        first, second = where[polluter], where[victim]
        if first > second:
            tests[first], tests[second] = tests[second], tests[first]
            where[polluter], where[victim] = second, first
    directory = root / "tests"
    directory.mkdir(parents=True)
    (directory / "pollution_app.py").write_text("\n".join(app))
    (directory / "conftest.py").write_text(CONFTEST)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    files: dict[str, str] = {}
    for index, (name, body) in enumerate(tests):
        module = f"tests/test_part_{index // TESTS_PER_FILE:03d}.py"
        files.setdefault(module, HEADER)
        files[module] += f"\n\ndef {name}(shared_dir):\n    {body}\n"
    for module, text in files.items():
        (root / module).write_text(text)
    nodeid = {
        name: f"tests/test_part_{index // TESTS_PER_FILE:03d}.py::{name}"
        for index, (name, _) in enumerate(tests)
    }
    found = [Pair(kind, nodeid[polluter], nodeid[victim]) for kind, polluter, victim in pairs]
    return sorted(found, key=lambda pair: where[pair.victim.split("::")[1]])


def hunt(project: Path, root: Path, pair: Pair) -> Hunt:
    env = clean_env(
        PYTHONPATH=str(TESTKIT_SRC),
        TESTKIT_HISTORY="off",  # no history: the collection order is bisected
        PYTEST_ADDOPTS="-p no:cacheprovider",  # two hunts side by side share the project
    )
    started = time.perf_counter()
    done = subprocess.run(
        [str(project / ".venv" / "bin" / "testkit"), "find-polluter", pair.victim],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    seconds = time.perf_counter() - started
    output = done.stdout + done.stderr
    named = re.search(r"^  -> the polluting test is: (\S+)$", output, re.MULTILINE)
    steps = len(re.findall(r"^  running step \d+:$", output, re.MULTILINE))
    hunted = Hunt(pair, named.group(1) if named else None, steps, seconds, done.returncode)
    verdict = "found" if hunted.correct else f"WRONG ({hunted.named})" if named else "NONE"
    progress(f"{pair.kind}: {pair.victim} -> {verdict}, {steps} steps, {seconds:.0f} s")
    if not hunted.correct:
        progress("  " + "\n  ".join(output.strip().splitlines()[-8:]))
    return hunted


def run_bench(
    project: Path, per_kind: int, kinds: Sequence[Kind], filler: int, seed: int
) -> list[Hunt]:
    with tempfile.TemporaryDirectory(prefix="polluter-pairs-") as scratch:
        root = Path(scratch)
        pairs = generate(root, per_kind, kinds, filler, seed)
        progress(f"{len(pairs)} pairs among {filler + 2 * len(pairs)} tests in {root}")
        with ThreadPoolExecutor(WORKERS) as pool:
            return list(pool.map(lambda pair: hunt(project, root, pair), pairs))


def figure(label: str, hunts: Sequence[Hunt], command: str) -> Figure:
    return Figure(
        label,
        {
            "pairs": len(hunts),
            "polluter named": sum(h.correct for h in hunts),
            "wrong": sum(1 for h in hunts if h.named and not h.correct),
            "none": sum(1 for h in hunts if h.named is None),
            "median steps": statistics.median(h.steps for h in hunts),
            "median s": round(statistics.median(h.seconds for h in hunts), 1),
        },
        command,
    )


def figures(hunts: Sequence[Hunt], command: str) -> list[Figure]:
    kinds = [kind.name for kind in KINDS if any(h.pair.kind == kind.name for h in hunts)]
    by_kind = [figure(kind, [h for h in hunts if h.pair.kind == kind], command) for kind in kinds]
    return [*by_kind, figure("all pairs", hunts, command)]


def measure(quick: bool) -> Measurement:
    per_kind = QUICK_PER_KIND if quick else PER_KIND
    kinds = KINDS[:QUICK_KINDS] if quick else KINDS
    filler = QUICK_FILLER if quick else FILLER
    hunts = run_bench(installed_default_project(), per_kind, kinds, filler, SEED)
    command = f"{COMMAND} --per-kind {per_kind} --filler {filler}" + (" --quick" if quick else "")
    rows = figures(hunts, command)
    total = rows[-1].values
    return Measurement(
        "polluter_pairs",
        f"find-polluter on {len(hunts)} injected order-dependent pairs ({filler} filler tests)",
        rows,
        notes=(
            f"Seed {SEED}; {len(kinds)} kinds of pollution, {per_kind} pairs each, shuffled "
            f"among {filler} filler tests in files of {TESTS_PER_FILE}; each victim's "
            "candidates are all the tests collected before it (no history). Steps are "
            "detect-test-pollution's bisection steps (each a pytest run, besides the runs "
            f"alone, after all candidates and the final check); {WORKERS} hunts side by side."
        ),
        chart=("median s", "s per victim"),
        headline=(
            f"find-polluter named the polluter of {total['polluter named']} of "
            f"{total['pairs']} injected order-dependent pairs ({total['wrong']} wrong, "
            f"{total['none']} none), in a median {total['median steps']} bisection steps and "
            f"{total['median s']} s per victim."
        ),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=PER_KIND, help="pairs of each kind")
    parser.add_argument("--filler", type=int, default=FILLER, help="tests that pollute nothing")
    parser.add_argument("--quick", action="store_true", help=f"the first {QUICK_KINDS} kinds")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--project", type=Path, help="an installed bake (default: the bench's)")
    arguments = parser.parse_args()
    kinds = KINDS[:QUICK_KINDS] if arguments.quick else KINDS
    project = arguments.project or installed_default_project()
    hunts = run_bench(project, arguments.per_kind, kinds, arguments.filler, arguments.seed)
    for row in figures(hunts, COMMAND):
        print(f"{row.label}: {dict(row.values)}")
    return 0 if all(h.correct for h in hunts) else 1


if __name__ == "__main__":
    sys.exit(main())
