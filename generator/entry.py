"""The console script's entry point.

`--version` is answered here, before the CLI framework is imported: Typer
alone costs several times a bare interpreter start, and version probes (shell
prompts, packaging scripts, CI logs) should not pay for it.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from generator import __version__

        print(f"mta-sts-pages {__version__}")
        return
    _skip_last_collection()
    from generator.cli import main as cli_main

    cli_main()


def _skip_last_collection() -> None:
    """At exit the interpreter runs a last garbage collection over every
    object the imports made (Typer, PyYAML, Jinja2: a six-figure count),
    which cost a command more time than a bare interpreter start. Freezing
    the objects, as the last exit handler (handlers run last registered
    first), keeps that collection from walking them; the process ends right
    after, so nothing is kept longer than it would be. Buffers are flushed
    and files closed by the commands themselves, never by that collection.
    """
    import atexit
    import gc

    atexit.register(gc.freeze)
