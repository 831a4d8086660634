"""`validate --policy/--txt/--tlsrpt`: lint existing artefacts with the parsers `check` uses."""

from __future__ import annotations

from pathlib import Path

from generator.errors import ParseError
from generator.findings import Finding, error, info
from generator.policy import MAX_POLICY_BYTES, parse_policy, parse_sts_record
from generator.tlsrpt import parse_tlsrpt_record


def _collect(parse, *args) -> list[Finding]:
    try:
        result = parse(*args)
    except ParseError as exc:
        return list(exc.findings)
    notes = result.notes if hasattr(result, "notes") else result[1]
    return list(notes)


def lint_policy_file(path: Path) -> list[Finding]:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_POLICY_BYTES + 1)
    except OSError as exc:
        return [error("policy-unreadable", f"{path}: {exc.strerror}")]
    findings = _collect(parse_policy, data)
    if not any(f.severity.value == "error" for f in findings):
        findings.append(info("policy-valid", f"{path}: a valid MTA-STS policy"))
    return findings


def lint_sts_record(text: str) -> list[Finding]:
    return _collect(parse_sts_record, text)


def lint_tlsrpt_record(text: str) -> list[Finding]:
    return _collect(parse_tlsrpt_record, text)
