"""Jinja extensions for the template: safe literals for free text, and literal option values.

Text options (project name, description, author) may hold quotes, backslashes and
unicode. Each target format gets a filter that emits a complete, escaped literal, so
a value can never break out of its string. Control characters and line breaks are
rejected earlier by hooks/pre_gen_project.py, so these filters need not handle them.

cookiecutter also renders every option value given on the command line, through the
API (extra_context), in a user config or replayed by `cruft update` as a Jinja template
("templates in context"): a description of `{{ 7*7 }}` would become 49, and
`{{ cycler.__init__.__globals__.os.system(...) }}` would run a command while baking.
OptionValuesAreLiteral keeps such values literal; only the template's own Jinja (the
defaults in cookiecutter.json, the hook scripts, the templated directory name) renders.
copier loads both extensions too (copier.yml): it renders the defaults of a user's copier
settings file, so the same rule holds there, with copier.yml's strings as the template's own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from jinja2 import Environment
from jinja2.ext import Extension

TEMPLATE_ROOT = Path(__file__).resolve().parent
# The name of the copier answers file in the template. Under copier it renders to the answers
# file's path; under cookiecutter `_copier_conf` is undefined, the name renders empty and
# cookiecutter skips a file whose name is empty.
COPIER_ANSWERS_FILE = "{{ _copier_conf.answers_file if _copier_conf is defined else '' }}"
JINJA_DELIMITER = re.compile(r"\{[{%#]")
# A bare variable reference substitutes a value and cannot run code; templated paths
# (`{{cookiecutter.project_slug}}`, `src/{{cookiecutter.package_name}}`) are made of them.
BARE_VARIABLE = re.compile(r"\{\{\s*cookiecutter\.[A-Za-z_]+\s*\}\}")


def toml_str(value: object) -> str:
    """A TOML basic string: JSON escaping without \\u escapes (TOML forbids surrogates)."""
    return json.dumps(str(value), ensure_ascii=False)


def yaml_str(value: object) -> str:
    """A YAML double-quoted scalar; JSON strings are valid YAML 1.2 flow scalars."""
    return json.dumps(str(value), ensure_ascii=False)


def py_str(value: object) -> str:
    """A Python string literal."""
    return repr(str(value))


class TextLiterals(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters.update(toml_str=toml_str, yaml_str=yaml_str, py_str=py_str)


def _strings(value: object) -> list[str]:
    """Every string in a parsed JSON or YAML document."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _template_sources() -> frozenset[str]:
    """The strings the template itself hands to Jinja.from_string (besides plain paths)."""
    context = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    copier_yml = TEMPLATE_ROOT / "copier.yml"
    copier = yaml.safe_load(copier_yml.read_text(encoding="utf-8")) if copier_yml.exists() else {}
    hooks = [
        p.read_text(encoding="utf-8")
        for p in sorted((TEMPLATE_ROOT / "hooks").glob("*"))
        if p.is_file()
    ]
    return frozenset([*_strings(context), *_strings(copier), *hooks, COPIER_ANSWERS_FILE])


class OptionValuesAreLiteral(Extension):
    """Escape Jinja syntax in strings that are not the template's own templates."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._own_sources = _template_sources()

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        # Named templates are the project files; from_string sources are option values,
        # paths, hooks and copier.yml's strings. Paths carry no Jinja but bare variable
        # references, except the copier answers file's name (an own source).
        if name is not None or source in self._own_sources:
            return source
        if not JINJA_DELIMITER.search(BARE_VARIABLE.sub("", source)):
            return source
        # Every '{' becomes an expression that prints '{', so no delimiter survives.
        return source.replace("{", '{{ "{" }}')
