"""Write copier.yml from cookiecutter.json: copier asks cookiecutter's questions, renders its tree.

cookiecutter.json stays the one home of the options (names, defaults with their Jinja, the
`__prompts__` texts); copier.yml is derived from it and committed, and a template test fails
when the two disagree. Besides the questions, copier.yml holds the settings that make copier
render the cookiecutter tree the same way:

- `_subdirectory`: the `{{cookiecutter.project_slug}}` folder (copier renders this setting as
  Jinja, hence the raw block), with `_templates_suffix: ""` so that every file renders;
- `_envops`: cookiecutter's StrictUndefined and kept trailing newlines;
- `_jinja_extensions`: cookiecutter's default extensions and cookiecutter.json's `_extensions`
  (the template's own module loaded by path through copier-template-extensions), then
  copier_extensions.py (the `cookiecutter` namespace, `_copy_without_render`);
- `_tasks`: hooks/run_under_copier.py, which runs the cookiecutter hooks themselves;
- `_min_copier_version`: the lower bound of copier in pyproject.toml, the copier tested.

    python scripts/copier_config.py           # write copier.yml (make copier-config)
    python scripts/copier_config.py --check   # exit 1 when copier.yml is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from cookiecutter.environment import StrictEnvironment

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
COPIER_YML = TEMPLATE_ROOT / "copier.yml"
HEADER = (
    "# Generated from cookiecutter.json by scripts/copier_config.py: do not edit it here.\n"
    "# Change cookiecutter.json (or the script), then run `make copier-config`.\n"
)
EXTENSION_LOADER = "copier_template_extensions.TemplateExtensionLoader"
COPIER_ONLY_EXTENSIONS = (
    "copier_extensions.py:CookiecutterNamespace",
    "copier_extensions.py:CopyWithoutRender",
)
TASK_SCRIPT = "hooks/run_under_copier.py"
# cookiecutter settings with no counterpart here yet: refuse them rather than drop them.
UNMAPPED_SETTINGS = frozenset({"_jinja2_env_vars", "_new_lines"})
MIN_COPIER = re.compile(r"copier>=([0-9][0-9.]*)")


def project_directory(template_root: Path) -> str:
    """The template's project folder, found the way cookiecutter finds it."""
    (name,) = [
        path.name
        for path in template_root.iterdir()
        if path.is_dir() and "cookiecutter" in path.name and "{{" in path.name
    ]
    return name


def min_copier_version(pyproject: Mapping[str, Any]) -> str:
    """The lower bound of `copier>=` in the template's dev dependency group."""
    bounds = [m[1] for dep in pyproject["dependency-groups"]["dev"] if (m := MIN_COPIER.match(dep))]
    if len(bounds) != 1:
        raise SystemExit("pyproject.toml: the dev group needs exactly one 'copier>=X.Y' entry")
    return bounds[0]


def jinja_extension(name: str, template_root: Path) -> str:
    """cookiecutter's import name; a module of the template's own is loaded by file path."""
    module, _, attribute = name.rpartition(".")
    if (template_root / f"{module}.py").is_file():
        return f"{module}.py:{attribute}"
    return name


def questions(cookiecutter: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """One question per option: its default verbatim (copier_extensions.py gives its Jinja the
    `cookiecutter` namespace), its `__prompts__` text as help, and type str: cookiecutter reads
    every answer as text, where copier would turn `yes` or `80` into a bool or an int."""
    prompts = cookiecutter.get("__prompts__", {})
    result = {}
    for name, default in cookiecutter.items():
        if name.startswith("_"):
            continue
        if not isinstance(default, str):
            raise SystemExit(
                f"cookiecutter.json: {name} is a {type(default).__name__}; copier_config.py maps"
                " text options only (add the mapping for choices or booleans here)"
            )
        question = {"type": "str"}
        if name in prompts:
            question["help"] = prompts[name]
        question["default"] = default
        result[name] = question
    return result


def copier_config(
    cookiecutter: Mapping[str, Any],
    *,
    project_dir: str,
    cookiecutter_extensions: Sequence[str],
    template_root: Path,
    min_copier: str,
) -> dict[str, Any]:
    """copier.yml's content: settings first, then one question per cookiecutter option."""
    unmapped = sorted(UNMAPPED_SETTINGS & cookiecutter.keys())
    if unmapped:
        raise SystemExit(f"cookiecutter.json: {', '.join(unmapped)} has no copier mapping yet")
    extensions = [*cookiecutter_extensions, *cookiecutter.get("_extensions", [])]
    return {
        "_min_copier_version": min_copier,
        "_subdirectory": f"{{% raw %}}{project_dir}{{% endraw %}}",
        "_templates_suffix": "",
        "_envops": {"keep_trailing_newline": True, "undefined": "jinja2.StrictUndefined"},
        "_jinja_extensions": [
            EXTENSION_LOADER,
            *dict.fromkeys(jinja_extension(name, template_root) for name in extensions),
            *COPIER_ONLY_EXTENSIONS,
        ],
        "_tasks": [
            [
                "{{ _copier_python }}",
                f"{{{{ _copier_conf.src_path }}}}/{TASK_SCRIPT}",
                "{{ _copier_operation }}",
                "{{ _copier_conf.answers_file }}",
            ]
        ],
        **questions(cookiecutter),
    }


def render(template_root: Path = TEMPLATE_ROOT) -> str:
    """copier.yml as this script writes it."""
    cookiecutter = json.loads((template_root / "cookiecutter.json").read_text(encoding="utf-8"))
    pyproject = tomllib.loads((template_root / "pyproject.toml").read_text(encoding="utf-8"))
    config = copier_config(
        cookiecutter,
        project_dir=project_directory(template_root),
        cookiecutter_extensions=list(StrictEnvironment().extensions),
        template_root=template_root,
        min_copier=min_copier_version(pyproject),
    )
    body: str = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=1000)
    return HEADER + body


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if copier.yml is stale")
    check = parser.parse_args(argv).check
    expected = render()
    if not check:
        COPIER_YML.write_text(expected, encoding="utf-8")
        return 0
    if COPIER_YML.exists() and COPIER_YML.read_text(encoding="utf-8") == expected:
        return 0
    print(
        "copier.yml is out of date with cookiecutter.json: run `make copier-config`",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
