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
    _fewer_collections_at_start()
    _skip_last_collection()
    from generator.cli import main as cli_main

    cli_main()


# Objects the start-up allocates before the first garbage collection: more
# than Typer, PyYAML, Jinja2 and a command's own modules make together
# (about 36,000 for `build` of the bundled example).
START_ALLOCATIONS = 50_000


def _fewer_collections_at_start() -> None:
    """The imports allocate tens of thousands of objects that live until
    exit; at the default threshold (700) the collector walks them some sixty
    times, about a twentieth of a command's start-up. Until the first
    collection, it waits for :data:`START_ALLOCATIONS` objects; from then
    on a long run (`check` of a long list, `build` of many domains) gets the
    default thresholds back.
    """
    import gc

    default = gc.get_threshold()

    def restore(phase: str, info: dict) -> None:
        if phase == "stop":
            gc.set_threshold(*default)
            gc.callbacks.remove(restore)

    gc.callbacks.append(restore)
    gc.set_threshold(START_ALLOCATIONS, *default[1:])


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
