"""The Jinja2 environment: strict, so a missing value is an error, never an
empty string in a published file."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jinja2


def template_dir() -> Path:
    """Where the templates are: inside an installed wheel they sit in the
    package; in a source checkout they sit at the repository root."""
    packaged = Path(__file__).parent / "templates"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "templates"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # A JSON string is a valid YAML double-quoted scalar: safe for any value.
    env.filters["yaml"] = lambda value: json.dumps(value, ensure_ascii=False)
    return env


def render(name: str, **context) -> str:
    return environment().get_template(name).render(**context)
