"""The Jinja2 environment: strict, so a missing value is an error, never an
empty string in a published file."""

from __future__ import annotations

import json
import os
import sys
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
        # Loaded once a run: checking each template's file for changes on
        # every render was 30,000 stat calls for 10,000 domains.
        auto_reload=False,
    )
    # A JSON string is a valid YAML double-quoted scalar: safe for any value.
    env.filters["yaml"] = lambda value: json.dumps(value, ensure_ascii=False)
    env.bytecode_cache = CompiledTemplates(env, _cache_dir())
    return env


def render(name: str, **context) -> str:
    return environment().get_template(name).render(**context)


def _cache_dir() -> Path:
    """Where Python puts the package's compiled modules: ``generator/__pycache__``,
    or the package's folder mirrored under ``sys.pycache_prefix``
    (PYTHONPYCACHEPREFIX)."""
    package = Path(__file__).resolve().parent
    if sys.pycache_prefix:
        return Path(sys.pycache_prefix, *package.parts[1:])
    return package / "__pycache__"


class CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Each template's compiled code, kept between runs as Python keeps a
    module's: lexing, parsing and compiling the templates took about a
    twentieth of `build`'s start-up. Jinja2 recompiles a template whose
    source changed (its checksum is stored with the code), and a change of
    Jinja2, of Python or of this environment's settings gives another key.
    The code is not written where Python would not write byte-code either
    (PYTHONDONTWRITEBYTECODE, a read-only install): then every run
    compiles, as before.
    """

    def __init__(self, env: jinja2.Environment, directory: Path) -> None:
        super().__init__(str(directory), "template-%s.jinja2")
        self._env = env

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        return super().get_cache_key(f"{name}|{_code_settings(self._env, name)}", filename)

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError:
            pass  # unreadable (a file where the folder would be): compile

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if sys.dont_write_bytecode:
            return
        try:
            os.makedirs(self.directory, exist_ok=True)
            super().dump_bytecode(bucket)
        except OSError:
            pass  # not writable: the next run compiles again


def _code_settings(env: jinja2.Environment, name: str) -> str:
    """Everything besides a template's source that decides its compiled code."""
    autoescape = env.autoescape(name) if callable(env.autoescape) else env.autoescape
    return repr((
        jinja2.__version__, env.block_start_string, env.block_end_string, env.variable_start_string,
        env.variable_end_string, env.comment_start_string, env.comment_end_string, env.line_statement_prefix,
        env.line_comment_prefix, env.trim_blocks, env.lstrip_blocks, env.newline_sequence, env.keep_trailing_newline,
        env.optimized, env.is_async, env.finalize is not None, autoescape, sorted(env.extensions), sorted(env.filters),
        sorted(env.tests),
    ))
