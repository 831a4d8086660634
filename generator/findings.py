"""Findings: what `validate` and `check` report, each with a stable code."""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

from generator.errors import ParseError


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    def __str__(self) -> str:
        return self.value


# A NamedTuple, not a frozen dataclass: Python 3.11 compiles each of a
# dataclass's methods from source when the module is imported, and every
# command's start-up imports this one (README, Performance).
class Finding(NamedTuple):
    """One observation. ``code`` is stable across releases; scripts key on it."""

    code: str
    severity: Severity
    message: str
    fix: str = ""

    def to_json(self) -> dict:
        return {**self._asdict(), "severity": self.severity.value}


def error(code: str, message: str, fix: str = "") -> Finding:
    return Finding(code, Severity.ERROR, message, fix)


def warning(code: str, message: str, fix: str = "") -> Finding:
    return Finding(code, Severity.WARNING, message, fix)


def info(code: str, message: str, fix: str = "") -> Finding:
    return Finding(code, Severity.INFO, message, fix)


def has_errors(findings) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


def raise_if_errors(findings) -> None:
    """Raise :class:`ParseError` carrying all ``findings`` when any is an error."""
    if has_errors(findings):
        raise ParseError(list(findings))
