"""Many domains at once: a bounded pool of workers on one event loop, each
domain under its own deadline, so a slow domain only ever holds one worker."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable

from generator.check import dns, smtp, tls
from generator.check.domain import DomainReport, Network, check_domain
from generator.check.options import CheckOptions, Target
from generator.errors import UsageError


def run_checks(targets: list[Target], options: CheckOptions, on_report: Callable[[DomainReport], None] | None = None) -> list[DomainReport]:
    """Check every target; ``on_report`` sees each report as it completes.

    Returns the reports in the order of ``targets``.
    """
    _allow_open_files(options.concurrency)
    try:
        context = tls.client_context(options.ca_file)
    except ssl.SSLError as exc:
        raise UsageError(f"--ca-file {options.ca_file}: not a PEM file of CA certificates ({exc.reason or exc})") from None
    return asyncio.run(_run(targets, options, context, on_report))


async def _run(targets: list[Target], options: CheckOptions, context: ssl.SSLContext, on_report) -> list[DomainReport]:
    # Half the deadline per lookup: when one never answers, what depends on
    # another (the policy fetch on the policy host's address) still has time.
    resolver = dns.Resolver(options.nameservers, options.timeout / 2)
    net = Network(resolver, context, options.connect_to, smtp.MxProbes(options.connect_to, resolver, context))
    finished: dict[int, DomainReport] = {}
    pending = iter(enumerate(targets))

    async def worker() -> None:
        for index, target in pending:
            report = await check_domain(target, net, options)
            finished[index] = report
            if on_report is not None:
                on_report(report)

    try:
        await asyncio.gather(*(worker() for _ in range(min(options.concurrency, len(targets)))))
    finally:
        resolver.close()
    return [finished[index] for index in range(len(targets))]


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
