"""Jinja extensions that let copier render this cookiecutter template unchanged.

copier.yml (written by scripts/copier_config.py) loads them after cookiecutter's own
extensions and local_extensions.py. Everything they know comes from cookiecutter.json:

- CookiecutterNamespace puts the answers into every render as `cookiecutter.<name>`, the way
  cookiecutter does, together with cookiecutter.json's private keys (`_uv_exclude_newer`,
  `_extensions`, ...), so the template's files, paths and hooks read one namespace under both.
- CopyWithoutRender is copier's `_copy_without_render`: copier renders every file (copier.yml
  sets `_templates_suffix: ""`), so files under those paths get their Jinja escaped first and
  come out byte for byte.

Only copier loads this module (it needs copier-template-extensions); cookiecutter never does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from fnmatch import fnmatch
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from copier_template_extensions import ContextHook
from jinja2 import Environment
from jinja2.ext import Extension

TEMPLATE_ROOT = Path(__file__).resolve().parent


@cache
def cookiecutter_json() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (TEMPLATE_ROOT / "cookiecutter.json").read_text(encoding="utf-8")
    )
    return loaded


def cookiecutter_namespace(answers: Mapping[str, Any]) -> dict[str, Any]:
    """What cookiecutter renders as `cookiecutter`: cookiecutter.json's keys in its order,
    each option's answer (once given) and each private key's value from cookiecutter.json."""
    namespace = {}
    for name, default in cookiecutter_json().items():
        if name.startswith("_"):
            namespace[name] = default
        elif name in answers:
            namespace[name] = answers[name]
    return namespace


class CookiecutterNamespace(ContextHook):
    def hook(self, context: dict[str, Any]) -> None:
        context["cookiecutter"] = cookiecutter_namespace(context)


def is_copy_only(template_name: str, patterns: list[str]) -> bool:
    """cookiecutter's test: the path inside the project directory, or a folder above it,
    matches a `_copy_without_render` pattern (fnmatch)."""
    parts = PurePosixPath(template_name).parts[1:]  # drop the project directory itself
    prefixes = ("/".join(parts[:end]) for end in range(1, len(parts) + 1))
    return any(fnmatch(prefix, pattern) for prefix in prefixes for pattern in patterns)


class CopyWithoutRender(Extension):
    """Files under cookiecutter.json's `_copy_without_render` render to their own bytes."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._patterns: list[str] = list(cookiecutter_json().get("_copy_without_render", []))

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        # Named templates are the project's files (paths relative to the template root).
        if name is None or not is_copy_only(name, self._patterns):
            return source
        # Every '{' becomes an expression that prints '{', so no delimiter survives.
        return source.replace("{", '{{ "{" }}')
