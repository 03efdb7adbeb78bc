"""Prompt templates are files in prompts/, loaded by name with strict variables."""

from __future__ import annotations

import string
from functools import cache
from importlib import resources

from rag.errors import ConfigError


@cache
def template(name: str) -> str:
    try:
        return resources.files("prompts").joinpath(f"{name}.txt").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"prompt template prompts/{name}.txt is missing") from None


def variables(name: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template(name)) if field}


def render(name: str, **values: str) -> str:
    """Fill a template; every variable must be given and nothing else."""
    expected = variables(name)
    if set(values) != expected:
        raise ConfigError(f"prompt {name!r} takes {sorted(expected)}, got {sorted(values)}")
    return template(name).format(**values)
