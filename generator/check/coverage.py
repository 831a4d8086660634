"""MX coverage: does the policy name every MX host, and every pattern an MX?"""

from __future__ import annotations

from generator.check import codes
from generator.findings import Finding, error, warning
from generator.names import mx_matches
from generator.policy import Policy


def coverage_findings(policy: Policy, mx_hosts: list[str]) -> list[Finding]:
    """RFC 8461 §4.1 matching (one-label wildcards). An uncovered MX is an
    error in enforce (senders refuse it) and a warning in testing; mode
    none asks nothing of MX hosts."""
    if policy.mode == "none" or not mx_hosts:
        return []
    findings = []
    for host in mx_hosts:
        if any(mx_matches(pattern, host) for pattern in policy.mx):
            continue
        consequence = "senders will refuse to deliver to it" if policy.mode == "enforce" else "senders will report failed deliveries to it"
        make = error if policy.mode == "enforce" else warning
        findings.append(make(codes.MX_NOT_COVERED, f"MX host {host} matches no mx pattern of the policy; in mode {policy.mode} {consequence}",
                             f"add 'mx: {host}' (or a covering '*.' pattern) to the policy, rebuild, then publish the new id"))
    for pattern in policy.mx:
        if not any(mx_matches(pattern, host) for host in mx_hosts):
            findings.append(warning(codes.MX_PATTERN_UNUSED, f"policy pattern {pattern} matches none of the MX hosts ({', '.join(mx_hosts)})",
                                    f"remove 'mx: {pattern}' if that host is gone, or fix the pattern (a '*' covers exactly one label)"))
    return findings
