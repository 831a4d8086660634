"""The project's one exception hierarchy.

Every error a user can cause derives from :class:`MtaStsPagesError`; the CLI
catches that base once and turns it into a message and an exit code.
"""

from __future__ import annotations

from typing import NamedTuple


class MtaStsPagesError(Exception):
    """Base of every error the tool reports to a user (never a traceback)."""

    exit_code = 2

    def lines(self) -> list[str]:
        """The message as lines for the terminal."""
        return [str(self)]


# A NamedTuple, not a frozen dataclass: Python 3.11 compiles each of a
# dataclass's methods from source when the module is imported, and every
# command's start-up imports this one (README, Performance).
class ConfigIssue(NamedTuple):
    """One problem in a config file, located by key path and line."""

    path: str
    message: str
    file: str
    line: int | None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        prefix = f"{self.path}: " if self.path else ""
        return f"{prefix}{self.message} ({where})"


class ConfigError(MtaStsPagesError):
    """The config is invalid; carries every problem found, not just the first."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))

    def lines(self) -> list[str]:
        return [str(i) for i in self.issues]


class ParseError(MtaStsPagesError):
    """A policy file or TXT record does not follow its RFC grammar.

    ``findings`` holds every problem found (errors first-class, plus any
    warnings and notes found on the way) so callers can report them all.
    """

    def __init__(self, findings: list):
        self.findings = findings
        super().__init__("\n".join(f.message for f in findings))

    def lines(self) -> list[str]:
        return [f"{f.severity}: {f.message}" for f in self.findings]


class BuildError(MtaStsPagesError):
    """The site could not be written; nothing in the output folder changed."""


class UsageError(MtaStsPagesError):
    """The command line asks for something impossible."""


class MailboxError(MtaStsPagesError):
    """A mailbox (IMAP) could not be read: connection, TLS, login or folder.
    `reports` lists it with the unreadable inputs (generator.reports.command)."""


class DnsError(MtaStsPagesError):
    """The DNS provider cannot be used, or refused a change (`dns diff` / `dns apply`).

    ``applying``: it failed while applying, so part of the change may be made.
    """

    def __init__(self, message: str, *, applying: bool = False):
        super().__init__(message)
        self.applying = applying
