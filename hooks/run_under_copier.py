"""copier's task: run the cookiecutter hooks in the new project, the way cookiecutter runs them.

copier.yml runs it in the destination, with copier's interpreter, once copier has rendered:

    python hooks/run_under_copier.py <copier operation> <answers file>

Each of hooks/pre_gen_project.py and hooks/post_gen_project.py is rendered with cookiecutter's
own Jinja environment (cookiecutter.json's `_extensions`, StrictUndefined) and the context
`cookiecutter=<answers>`, written to a temporary file and run with this interpreter, as
cookiecutter's run_script_with_context does. So the validation (one line per invalid option on
stderr, exit 1) and the removal of what the options switched off are the hooks' own code.

Two differences from cookiecutter, both copier's order of work: copier renders before any task
runs, so the options are validated after the files are written (a failed `copier copy` into a
new directory removes it all the same); and `copier update` renders three times (the old and
the new template in temporary directories, then the project), so the next steps the
post-generation hook prints are shown by `copier copy` only.

cookiecutter must be installed beside copier: its environment renders the hooks, and
cookiecutter.json's `_extensions` name its slugify filter.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from cookiecutter.utils import create_env_with_context

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
# cookiecutter imports `local_extensions` (in `_extensions`) from the template root, as we do.
sys.path.insert(0, str(TEMPLATE_ROOT))

from copier_extensions import cookiecutter_namespace  # noqa: E402

HOOKS = ("pre_gen_project", "post_gen_project")


def run_hook(name: str, context: Mapping[str, Any], project: Path, *, show_output: bool) -> int:
    """Render hooks/<name>.py like cookiecutter, run it in `project`; its exit status."""
    environment = create_env_with_context(dict(context))
    source = (TEMPLATE_ROOT / "hooks" / f"{name}.py").read_text(encoding="utf-8")
    with tempfile.NamedTemporaryFile("wb", suffix=".py", delete=False) as script:
        script.write(environment.from_string(source).render(**context).encode("utf-8"))
    try:
        return subprocess.run(
            [sys.executable, script.name],
            cwd=project,
            stdout=None if show_output else subprocess.DEVNULL,
            check=False,
        ).returncode
    finally:
        # It holds every option value; the hooks remove it themselves unless they crash.
        Path(script.name).unlink(missing_ok=True)


def main(argv: Sequence[str]) -> int:
    operation, answers_file = argv
    project = Path.cwd()
    answers = yaml.safe_load((project / answers_file).read_text(encoding="utf-8"))
    context = {"cookiecutter": cookiecutter_namespace(answers)}
    for name in HOOKS:
        show_output = operation == "copy" or name == "pre_gen_project"
        if run_hook(name, context, project, show_output=show_output) != 0:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
