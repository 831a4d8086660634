"""What the GitHub Actions runner would take as a workflow command in a
step's output, by the rules of its source (actions/runner,
src/Runner.Common/ActionCommand.cs): ``TryParseV2`` takes a line that starts
with ``::`` after ``TrimStart()`` (every Unicode white space), and the legacy
``TryParse``, tried next, a line that holds ``##[`` anywhere. The runner
reads output with ``StreamReader.ReadLine``, which ends a line at CR, LF or
CR LF."""

from __future__ import annotations

import re

_LINE_END = re.compile(r"\r\n|\r|\n")


def workflow_commands(output: str) -> list[str]:
    """The lines of ``output`` the runner would read as commands."""
    # str.lstrip() strips every Unicode white space, as C#'s TrimStart does
    # (and \x1c-\x1f besides: stricter, never looser).
    return [line for line in _LINE_END.split(output) if line.lstrip().startswith("::") or "##[" in line]
