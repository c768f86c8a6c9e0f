"""Jinja filters that render free-text options as safe literals.

Text options (project name, description, author) may hold quotes, backslashes and
unicode. Each target format gets a filter that emits a complete, escaped literal, so
a value can never break out of its string. Control characters and line breaks are
rejected earlier by hooks/pre_gen_project.py, so these filters need not handle them.
"""

from __future__ import annotations

import json

from jinja2.ext import Extension


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
    def __init__(self, environment):  # type: ignore[no-untyped-def]
        super().__init__(environment)
        environment.filters.update(toml_str=toml_str, yaml_str=yaml_str, py_str=py_str)
