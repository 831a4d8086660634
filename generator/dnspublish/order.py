"""When a new `_mta-sts` id may go out: only once the policy it announces is
served (RFC 8461 §8.1). A sender that sees the new id fetches the policy and
caches whatever it gets for max_age; an id published early pins the old
policy, or none, for that long.

The policy is fetched once, as the deploy guard (`verify`) fetches it: as
`check` does (no redirects, text/plain, the size cap), honouring --ca-file,
--connect-to and --nameserver.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.check.options import CheckOptions
from generator.config import DomainConfig
from generator.findings import Severity


@dataclass(frozen=True)
class Served:
    """Whether the built policy is what the policy host serves; ``detail`` says what it serves instead."""

    ok: bool
    detail: str = ""


def served_policy(domain: DomainConfig, options: CheckOptions) -> Served:
    from generator.verify import verify

    [verdict] = verify([domain], options, wait=0)
    if verdict.served:
        return Served(True)
    return Served(False, next(f.message for f in verdict.findings if f.severity is Severity.ERROR))
