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
    from generator.cli import main as cli_main

    cli_main()
