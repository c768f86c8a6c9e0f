"""Remove what the chosen options switched off, then print the next steps.

Rendered by Jinja like pre_gen_project.py (values arrive as `py_str` literals; the
unrendered file stays valid Python, hence the F821 exemption). Runs inside the new
project directory.
"""
# ruff: noqa: F821

from __future__ import annotations

import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

OPTIONS: dict[str, str] = {
    "project_name": {{cookiecutter.project_name | py_str}},
    "include_sample_service": {{cookiecutter.include_sample_service | py_str}},
    "use_redis": {{cookiecutter.use_redis | py_str}},
    "use_nats": {{cookiecutter.use_nats | py_str}},
    "ci_provider": {{cookiecutter.ci_provider | py_str}},
}


@dataclass(frozen=True)
class Removal:
    """Paths (globs, relative to the project) deleted when `option` equals `off`."""

    option: str
    off: str
    globs: tuple[str, ...]
    keep: tuple[str, ...] = ()  # path patterns (matched from the right) the globs must spare


REMOVALS = (
    # Without the service, each tier keeps only its test_example_*.py files, which
    # exercise testkit and the infrastructure fixtures instead of the service; the
    # infrastructure tier checks the project's own files (compose, workflows, recipes,
    # documented variables, test data) and keeps its tests but the migrations one.
    Removal(
        "include_sample_service",
        "no",
        (
            "services",
            "tests/_fixtures/service.py",
            "tests/_fixtures/generate.py",
            "tests/_fixtures/chaos.py",
            "tests/_fixtures/soak_load.py",
            "tests/chaos/conftest.py",
            "tests/chaos/soak",
            "tests/*/test_*.py",
            "tests/cassettes/test_*",
        ),
        # The test metrics' real-Prometheus check needs testkit only (monitoring/).
        keep=(
            "test_example_*.py",
            "infrastructure/test_*.py",
            "observability/test_test_metrics_monitoring.py",
        ),
    ),
    Removal("include_sample_service", "no", ("tests/infrastructure/test_migrations.py",)),
    # Test helpers of the service (clock, ports, HTTP doubles, the OpenAI stub, the corpus).
    Removal("include_sample_service", "no", ("tests/_helpers/*.py",), keep=("__init__.py",)),
    # Data and helper modules of the service's tests in the other tiers; each tier folder
    # keeps its example modules (example_*.py) and test_example_*.py files.
    Removal(
        "include_sample_service",
        "no",
        (
            "tests/e2e/journeys.py",
            "tests/contract/conftest.py",
            "tests/contract/interfaces.py",
            "tests/contract/openapi.snapshot.json",
            "tests/rag/corpus.json",
            "tests/rag/recall_floor.json",
            "tests/adversarial/cases.json",
            "tests/perf/locustfile.py",
        ),
    ),
    # The generic factory example only makes sense where factories.py holds it (no service).
    Removal("include_sample_service", "yes", ("tests/unit/test_example_seeded_factories.py",)),
    Removal(
        "use_redis",
        "no",
        ("tests/integration/test_example_redis.py", "tests/chaos/test_example_redis_chaos.py"),
    ),
    Removal("use_nats", "no", ("tests/integration/test_example_nats.py",)),
    Removal("ci_provider", "none", (".github", "tests/infrastructure/test_workflows.py")),
)


def remove_switched_off(project: Path, options: dict[str, str]) -> list[Path]:
    """Delete every path whose option is off; return what was deleted."""
    removed = []
    for removal in REMOVALS:
        if options[removal.option] != removal.off:
            continue
        for pattern in removal.globs:
            for path in sorted(project.glob(pattern)):
                if any(path.match(spared) for spared in removal.keep):
                    continue
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
    return removed


def remove_rendered_copy_of_this_hook() -> None:
    """cookiecutter runs a rendered copy of this hook from a temporary file it never deletes.

    That copy holds every option value; remove it so a bake leaves nothing behind.
    """
    script = Path(__file__).resolve()
    if script.parent == Path(tempfile.gettempdir()).resolve():
        script.unlink(missing_ok=True)


def main() -> None:
    remove_rendered_copy_of_this_hook()
    project = Path.cwd()
    remove_switched_off(project, OPTIONS)
    print(
        f"\nBaked {OPTIONS['project_name']} into {project}\n"
        "Next steps:\n"
        f"  cd {shlex.quote(str(project))}\n"
        "  make test    # builds .venv with uv on first use, then runs the whole suite\n"
        "  make help    # every target, one line each\n"
        "  git init && git add -A && git commit -m Bake   # diff coverage and impact need git\n"
        "The testing guide is docs/testing.md (tiers, modes, infrastructure, troubleshooting)."
    )


if __name__ == "__main__":
    main()
