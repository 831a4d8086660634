"""Many domains at once: a bounded pool of workers on one event loop, each
domain under its own deadline, so a slow domain only ever holds one worker."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Iterable

from generator.check import dns, loop, smtp, tls
from generator.check.domain import DomainReport, Network, check_domain
from generator.check.options import CheckOptions, Target


def run_checks(targets: Iterable[Target], options: CheckOptions, on_report: Callable[[DomainReport], None]) -> None:
    """Check every target; ``on_report`` is given each report as it completes.

    Targets are drawn as workers free up and reports are not kept, so memory
    stays flat however long the list.
    """
    _allow_open_files(options.concurrency)
    return loop.run(_run(targets, options, tls.context_for(options.ca_file), on_report))


async def _run(targets: Iterable[Target], options: CheckOptions, context: ssl.SSLContext, on_report) -> None:
    # Half the deadline per lookup: when one never answers, what depends on
    # another (the policy fetch on the policy host's address) still has time.
    resolver = dns.Resolver(options.nameservers, options.timeout / 2)
    net = Network(resolver, context, options.connect_to, smtp.MxProbes(options.connect_to, resolver, context, tls.names_context(options.ca_file)))
    pending = iter(targets)

    async def worker() -> None:
        for target in pending:
            on_report(await check_domain(target, net, options))

    try:
        await asyncio.gather(*(worker() for _ in range(options.concurrency)))
    finally:
        resolver.close()


# Sockets one domain may hold at once: the policy fetch, an SMTP probe per
# MX host, the DNS client's (shared); generous, since running out shows up
# as connections that "fail" for no reason of the domain's own.
_FILES_PER_DOMAIN = 8


def _allow_open_files(concurrency: int) -> None:
    """Raise the soft limit on open files (often 1,024) as far as needed and allowed."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 64 + concurrency * _FILES_PER_DOMAIN
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if new > soft:
            # Some systems cap below the hard limit (macOS: kern.maxfilesperproc)
            # and refuse; the run then goes on with the limit it has.
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
