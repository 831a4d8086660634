"""When a new `_mta-sts` id may go out: only once the policy it announces is
served (RFC 8461 §8.1). A sender that sees the new id fetches the policy and
caches whatever it gets for max_age; an id published early pins the old
policy, or none, for that long.

The policy is fetched as `check` fetches it (no redirects, text/plain, the
size cap), honouring --ca-file, --connect-to and --nameserver.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from generator.check import deadline, dns, drift, https, loop, tls
from generator.check.options import CheckOptions
from generator.config import DomainConfig


@dataclass(frozen=True)
class Served:
    """Whether the built policy is what the policy host serves; ``detail`` says what it serves instead."""

    ok: bool
    detail: str = ""


def served_policy(domain: DomainConfig, options: CheckOptions) -> Served:
    return loop.run(_served(domain, options, tls.context_for(options.ca_file)))


async def _served(domain: DomainConfig, options: CheckOptions, context: ssl.SSLContext) -> Served:
    resolver = dns.Resolver(options.nameservers, options.timeout)
    try:
        result = await https.fetch_policy(domain.policy_host, rules=options.connect_to, resolver=resolver, context=context,
                                          deadline=deadline.start(options.timeout))
    finally:
        resolver.close()
    findings, body = https.fetch_findings(result, domain.policy_host)
    if body is None:
        return Served(False, next(f.message for f in findings if f.severity == "error"))
    differs = drift.policy_drift(domain, body)
    if differs:
        return Served(False, differs[0].message)
    problems = [f.message for f in findings if f.severity == "error"]
    if problems:
        return Served(False, problems[0])
    return Served(True)
