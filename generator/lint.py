"""`validate`: check configs, and lint existing artefacts (a policy file,
TXT records) with the parsers `check` uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from generator.errors import ConfigError, ConfigIssue, ParseError, UsageError
from generator.findings import Finding, Severity
from generator.policy import MAX_POLICY_BYTES, parse_policy, parse_sts_record
from generator.tlsrpt import parse_tlsrpt_record

if TYPE_CHECKING:
    from generator.config import Config


def _notes(parse: Callable[[], Iterable[Finding]]) -> list[Finding]:
    """Every finding of a parse, whether it succeeded or not."""
    try:
        return list(parse())
    except ParseError as exc:
        return list(exc.findings)


def lint_policy_file(path: Path) -> list[Finding]:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_POLICY_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"--policy {path}: {exc.strerror}") from None
    return _notes(lambda: parse_policy(data, repository_file=True).notes)


def lint_sts_record(text: str) -> list[Finding]:
    return _notes(lambda: parse_sts_record(text)[1])


def lint_tlsrpt_record(text: str) -> list[Finding]:
    return _notes(lambda: parse_tlsrpt_record(text)[1])


def lint_artefacts(policy: Path | None, txt: str | None, tlsrpt: str | None) -> list[Finding]:
    """The findings for whichever of the three artefacts were given."""
    findings: list[Finding] = []
    if policy is not None:
        findings += lint_policy_file(policy)
    if txt is not None:
        findings += lint_sts_record(txt)
    if tlsrpt is not None:
        findings += lint_tlsrpt_record(tlsrpt)
    return findings


def load_configs(paths: list[Path]) -> tuple[list[tuple[Path, Config]], list[ConfigIssue]]:
    """Load every config; all are read before any failure is reported, so
    one commit's bad configs show up together."""
    loaded: list[tuple[Path, Config]] = []
    issues: list[ConfigIssue] = []
    for path in paths:
        # Imported here: linting a TXT value or a policy file needs no YAML.
        from generator.config import load

        try:
            loaded.append((path, load(str(path))))
        except ConfigError as exc:
            issues += exc.issues
    return loaded, issues


def fails(findings: list[Finding], strict: bool) -> bool:
    """Errors fail a lint; with ``strict``, warnings too."""
    failing = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
    return any(f.severity in failing for f in findings)
