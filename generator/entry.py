"""The entry points: :func:`console` for the `mta-sts-pages` script and
`python -m generator`, :func:`main` for a program that runs the CLI in its
own process.

`--version` is answered here, before the CLI framework is imported: Typer
alone costs several times a bare interpreter start, and version probes (shell
prompts, packaging scripts, CI logs) should not pay for it.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run the CLI in this process, as a program that embeds it would: the
    caller keeps its own exit handlers and status (the CLI ends by raising
    SystemExit, as Typer does)."""
    if sys.argv[1:] == ["--version"]:
        from generator import __version__

        print(f"mta-sts-pages {__version__}")
        return
    from generator.cli import main as cli_main

    cli_main()


def console() -> None:
    """The `mta-sts-pages` console script and `python -m generator`: the
    process belongs to the command, so its start and its end are made cheap
    (see the two functions below)."""
    _fewer_collections_at_start()
    outcome = _end_without_teardown()
    try:
        main()
    except SystemExit as exc:
        outcome.append(exc.code)
        raise
    outcome.append(0)


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


def _end_without_teardown() -> list:
    """After a command has ended, the interpreter tears down every module
    the imports made (Typer, PyYAML, Jinja2: a six-figure count of objects)
    one by one, with a last garbage collection over them: about 4 ms of
    `build`'s 80, for memory the operating system takes back at once anyway.

    Registered before the CLI is imported, so it runs after every exit
    handler the libraries and the command register (handlers run last
    registered first; threads have been joined before any of them), the
    handler ends the process with the command's exit status once standard
    output and error are flushed. The command closes its own files; nothing
    else is left to finish. When the status is not a number (an uncaught
    exception, `sys.exit("text")`) or a flush fails (a closed pipe), it steps
    aside and the interpreter ends as usual, with its own report and status.
    Returns the list the caller appends the exit status to.
    """
    import atexit

    outcome: list = []

    def end_now() -> None:
        import gc
        import os

        gc.freeze()  # if the interpreter does end as usual: no last collection over the imports
        code = outcome[0] if outcome else "no status"
        if code is None:
            code = 0
        if type(code) is not int:
            return
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:  # None: the process was started with it closed
                    stream.flush()
        except (OSError, ValueError):
            return
        os._exit(code & 0xFF)

    atexit.register(end_now)
    return outcome
