"""MX coverage: does the policy name every MX host, and every pattern an MX?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.check import codes
from generator.findings import Finding, error, warning
from generator.names import mx_matches
from generator.policy import Policy

if TYPE_CHECKING:  # a check without --config never loads the config module (YAML)
    from generator.config import DomainConfig

_DEPLOY = "deploy the built policy (`mta-sts-pages build`, push), then publish its id"


def coverage_findings(policy: Policy, mx_hosts: list[str], config: DomainConfig | None = None) -> list[Finding]:
    """RFC 8461 §4.1 matching (one-label wildcards). An uncovered MX is an
    error in enforce (senders refuse it) and a warning in testing; mode
    none asks nothing of MX hosts. With the domain's ``config``, a fix the
    config already made is a stale deploy, and says so."""
    if policy.mode == "none" or not mx_hosts:
        return []
    findings = []
    for host in mx_hosts:
        if any(mx_matches(pattern, host) for pattern in policy.mx):
            continue
        consequence = "senders will refuse to deliver to it" if policy.mode == "enforce" else "senders will report failed deliveries to it"
        make = error if policy.mode == "enforce" else warning
        findings.append(make(codes.MX_NOT_COVERED, f"MX host {host} matches no mx pattern of the policy; in mode {policy.mode} {consequence}",
                             _uncovered_fix(host, config)))
    for pattern in policy.mx:
        if not any(mx_matches(pattern, host) for host in mx_hosts):
            findings.append(warning(codes.MX_PATTERN_UNUSED, f"policy pattern {pattern} matches none of the MX hosts ({', '.join(mx_hosts)})",
                                    _unused_fix(pattern, config)))
    return findings


def _uncovered_fix(host: str, config: DomainConfig | None) -> str:
    if config is not None and any(mx_matches(pattern, host) for pattern in config.policy.mx):
        return f"{_DEPLOY}: the config's policy already covers {host}"
    where = "the config's policy" if config is not None else "the policy"
    return f"add 'mx: {host}' (or a covering '*.' pattern) to {where}, rebuild, then publish the new id"


def _unused_fix(pattern: str, config: DomainConfig | None) -> str:
    if config is not None and pattern not in config.policy.mx:
        return f"{_DEPLOY}: the config's policy no longer has {pattern}"
    return f"remove 'mx: {pattern}' if that host is gone, or fix the pattern (a '*' covers exactly one label)"
