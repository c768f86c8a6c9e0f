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
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from jinja2 import Environment
from jinja2.ext import Extension

TEMPLATE_ROOT = Path(__file__).resolve().parent
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


def _template_sources() -> frozenset[str]:
    """The strings the template itself hands to Jinja.from_string (besides paths)."""
    context = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    prompts = context.get("__prompts__", {})
    values = [v for v in [*context.values(), *prompts.values()] if isinstance(v, str)]
    hooks = [p.read_text(encoding="utf-8") for p in sorted((TEMPLATE_ROOT / "hooks").glob("*"))]
    return frozenset(values + hooks)


class OptionValuesAreLiteral(Extension):
    """Escape Jinja syntax in strings that are not the template's own templates."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._own_sources = _template_sources()

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        # Named templates are the project files; from_string sources are option values,
        # paths and hooks. Paths carry no Jinja but bare variable references.
        if name is not None or source in self._own_sources:
            return source
        if not JINJA_DELIMITER.search(BARE_VARIABLE.sub("", source)):
            return source
        # Every '{' becomes an expression that prints '{', so no delimiter survives.
        return source.replace("{", '{{ "{" }}')
