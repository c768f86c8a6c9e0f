"""Baking the template in tests: the option sets, a clean template export, file walks.

Bakes come from an export of the files git would commit (tracked plus untracked but not
ignored), so local caches or virtualenvs in the working tree never leak into a bake.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import yaml
from cookiecutter.main import cookiecutter

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
# The virtualenv running these tests holds uv, cookiecutter, cruft and ruff.
TOOLS_BIN = Path(sys.executable).parent

# The machine's own services, required: what the generated suites run against in these tests.
REAL_SERVICES = {
    "TESTKIT_REQUIRE_INFRA": "1",
    # CI's hypothesis profile: derandomized, so property and schemathesis cases repeat exactly.
    "HYPOTHESIS_PROFILE": "ci",
    "TEST_POSTGRES_URL": "postgresql://postgres@127.0.0.1:5432/test",
    "TEST_REDIS_URL": "redis://127.0.0.1:6379/0",
    "TEST_NATS_URL": "nats://127.0.0.1:4222",
}

MINIMAL = {
    "include_sample_service": "no",
    "use_redis": "no",
    "use_nats": "no",
    "ci_provider": "none",
}
SUPPORTED: dict[str, dict[str, str]] = {
    "default": {},
    "minimal": MINIMAL,
    "no-service-redis-only": {"include_sample_service": "no", "use_redis": "yes", "use_nats": "no"},
    "python-3.12": {"python_version": "3.12"},
    "python-3.13": {"python_version": "3.13"},
    "no-ci": {"ci_provider": "none"},
}
# (options, the option the rejection names besides include_sample_service, what it provides)
UNSUPPORTED: dict[str, tuple[dict[str, str], str, str]] = {
    "service-without-redis": (
        {"include_sample_service": "yes", "use_redis": "no"},
        "use_redis",
        "Redis",
    ),
    "service-without-nats": (
        {"include_sample_service": "yes", "use_nats": "no"},
        "use_nats",
        "NATS",
    ),
}

# Directories that tools create inside a project; never part of what a bake produced.
TOOL_DIRS = frozenset(
    {
        ".venv",
        ".tools",
        ".git",
        "__pycache__",
        ".pytest_cache",
        ".ruff_cache",
        ".mypy_cache",
        ".hypothesis",
        ".testkit",
        "reports",
        "locust-reports",
    }
)


def export_template(destination: Path) -> Path:
    """Copy the files git would commit from the template repository to `destination`."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=TEMPLATE_ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for relative in filter(None, listed.split("\0")):
        source = TEMPLATE_ROOT / relative
        if not source.is_file():  # tracked but deleted in the working tree
            continue
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return destination


def template_module(relative: str) -> ModuleType:
    """A Python module of the template root, loaded from its file under a name of its own."""
    path = TEMPLATE_ROOT / relative
    spec = importlib.util.spec_from_file_location(f"template_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def write_cookiecutter_config(directory: Path) -> Path:
    """A user config that keeps cookiecutter's replay files and clones out of $HOME."""
    config = directory / "cookiecutter-config.yaml"
    config.write_text(
        f'cookiecutters_dir: "{directory / "cookiecutters"}"\n'
        f'replay_dir: "{directory / "replay"}"\n',
        encoding="utf-8",
    )
    return config


def bake(template: Path, output_dir: Path, config: Path, options: Mapping[str, str]) -> Path:
    """Bake through cookiecutter's Python API; returns the project directory."""
    return Path(
        cookiecutter(
            str(template),
            no_input=True,
            extra_context=dict(options),
            output_dir=str(output_dir),
            config_file=str(config),
        )
    )


GIT = (
    "git",
    "-c",
    "user.name=Template Tests",
    "-c",
    "user.email=tests@example.com",
    "-c",
    "commit.gpgsign=false",
)


def commit_all(directory: Path, message: str = "bake") -> None:
    """A fresh git repository in `directory` holding all of it as one commit."""
    for command in (["init", "--quiet"], ["add", "--all"], ["commit", "--quiet", "-m", message]):
        subprocess.run([*GIT, *command], cwd=directory, check=True, capture_output=True)


def installed_default_bake(
    template: Path, output_dir: Path, config: Path, *, committed: bool = False
) -> Path:
    """The default bake, `make install`ed; with `committed`, also its own git repository
    (perf-ab's worktree and the diff-coverage gate need one)."""
    project = bake(template, output_dir, config, SUPPORTED["default"])
    install = subprocess.run(
        ["make", "install"], cwd=project, env=clean_env(), capture_output=True, text=True
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    if committed:
        commit_all(project)
    return project


# The search query's tenant filter, and the query without it: the cross-tenant leak that the
# tier and security-gate bite tests inject into crud/documents.py.
SEARCH_TENANT_FILTER = (
    "            Document.tenant_id == tenant_id,\n            _VISIBLE,\n",
    "            _VISIBLE,\n",
)


@dataclass(frozen=True)
class Edit:
    """Replace `original`, which must occur exactly once in `path`, with `mutated`."""

    path: str
    original: str
    mutated: str


@contextmanager
def edited(project: Path, *edits: Edit) -> Iterator[None]:
    """The project with the edits applied; every edited file is put back afterwards."""
    with ExitStack() as restore:
        for edit in edits:
            path = project / edit.path
            source = path.read_text(encoding="utf-8")
            assert source.count(edit.original) == 1, f"the edit no longer applies to {path}"
            path.write_text(source.replace(edit.original, edit.mutated), encoding="utf-8")
            restore.callback(path.write_text, source, encoding="utf-8")
        yield


def run(
    cwd: Path, *command: str, services: bool = False, timeout: float = 600, **env: str
) -> subprocess.CompletedProcess[str]:
    """A command in a bake, in clean_env(**env) (plus the machine's services when `services`);
    stdout and stderr as one text. The one way every template test runs a bake's tools."""
    return subprocess.run(
        list(command),
        cwd=cwd,
        env=clean_env(**({**REAL_SERVICES, **env} if services else env)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_in(
    project: Path, *command: str, timeout: float = 600, **env: str
) -> subprocess.CompletedProcess[str]:
    """A command in a bake against the machine's services."""
    return run(project, *command, services=True, timeout=timeout, **env)


def make(
    project: Path, *arguments: str, services: bool = False, timeout: float = 900, **env: str
) -> subprocess.CompletedProcess[str]:
    """A make target of a bake; a failing recipe makes make exit 2 and print the recipe's code."""
    return run(project, "make", *arguments, services=services, timeout=timeout, **env)


def tail(result: subprocess.CompletedProcess[str], lines: int = 80) -> str:
    return "\n".join(result.stdout.splitlines()[-lines:])


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The command's output, once it is known to have succeeded (else its last lines)."""
    assert result.returncode == 0, f"{' '.join(map(str, result.args))} failed:\n{tail(result)}"
    return result.stdout


def cruft_create_command(
    template_repo: Path, config: Path, output_dir: Path, *options: str
) -> list[str]:
    """`cruft create` of the template repository, with cookiecutter's config kept out of $HOME."""
    return [
        str(TOOLS_BIN / "cruft"),
        "create",
        "--no-input",
        "--config-file",
        str(config),
        "--output-dir",
        str(output_dir),
        *options,
        str(template_repo),
    ]


def project_files(project: Path) -> list[str]:
    """Every file of a project as a sorted posix path, skipping tool-made directories."""
    return sorted(path.relative_to(project).as_posix() for path in walk_files(project))


def walk_files(root: Path) -> Iterator[Path]:
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if d not in TOOL_DIRS]
        for name in files:
            yield Path(directory, name)


def read_text(path: Path) -> str | None:
    """The file's text, or None for binary files."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


PARSERS: dict[str, Callable[[str], object]] = {
    ".toml": tomllib.loads,
    ".yml": yaml.safe_load,
    ".yaml": yaml.safe_load,
    ".json": json.loads,
    ".py": ast.parse,
}


def parse_config_and_python_files(project: Path) -> int:
    """Parse every TOML, YAML, JSON and Python file of a bake (raising on the first bad one)."""
    parsed = 0
    for path in walk_files(project):
        parse = PARSERS.get(path.suffix)
        content = read_text(path)
        if parse is None or content is None:
            continue
        try:
            parse(content)
        except Exception as error:
            raise AssertionError(f"{path.relative_to(project)} does not parse: {error}") from error
        parsed += 1
    return parsed


def clean_env(**overrides: str) -> dict[str, str]:
    """The environment for a baked project's tools, free of this test run's own settings.

    Dropped: make's variables (MAKEFLAGS would pass this run's ARGS=... down), the
    template's virtualenv and uv project, pytest/xdist worker variables, and any
    TEST_* / TESTKIT_* setting, so each test states the infrastructure it wants.
    """
    dropped_prefixes = ("TEST_", "TESTKIT_", "PYTEST_", "MAKE")
    dropped = {
        "MFLAGS",
        "VIRTUAL_ENV",
        "UV_PROJECT_ENVIRONMENT",
        "PYTHONPATH",
        # This machine sets it; without bytecode every pytest start recompiles the whole bake.
        "PYTHONDONTWRITEBYTECODE",
        "COV_CORE_SOURCE",
        # make exports command-line variables: `make test ARGS=...` here is not the bake's ARGS.
        "ARGS",
        "OPTIONS",
    }
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in dropped and not key.startswith(dropped_prefixes)
    }
    env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(overrides)
    return env
