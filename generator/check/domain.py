"""One domain, checked end to end under its one deadline: DNS first, then the
policy fetch and the MX probes side by side, then coverage and drift."""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field

from generator.check import codes, coverage, deadline, dns, drift, https, pages, smtp
from generator.check.options import CheckOptions, ConnectTo, Target, route
from generator.errors import ParseError
from generator.findings import Finding, Severity, error, info
from generator.policy import Policy, parse_policy


@dataclass(frozen=True)
class Network:
    """What every domain's checks share: one resolver, one TLS context, the MX probes."""

    resolver: dns.Resolver
    context: ssl.SSLContext
    rules: tuple[ConnectTo, ...]
    mx_probes: smtp.MxProbes


@dataclass
class DomainReport:
    domain: str
    findings: list[Finding] = field(default_factory=list)
    sts_id: str | None = None
    policy: Policy | None = None
    mx_hosts: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    @property
    def result(self) -> str:
        """'errors', 'warnings' or 'ok': the worst severity that matters."""
        if self.count(Severity.ERROR):
            return "errors"
        return "warnings" if self.count(Severity.WARNING) else "ok"


async def check_domain(target: Target, net: Network, options: CheckOptions) -> DomainReport:
    started = time.perf_counter()
    report = DomainReport(target.domain)
    until = deadline.start(options.timeout)
    try:
        await _check(report, target, net, options, until)
    finally:
        report.seconds = time.perf_counter() - started
    return report


async def _check(report: DomainReport, target: Target, net: Network, options: CheckOptions, until: float) -> None:
    domain, config = target.domain, target.config
    policy_host = f"mta-sts.{domain}"
    resolver = net.resolver
    try:
        async with asyncio.timeout_at(until):
            sts, rpt, mx, host = await asyncio.gather(
                resolver.lookup(f"_mta-sts.{domain}", "TXT"),
                resolver.lookup(f"_smtp._tls.{domain}", "TXT"),
                resolver.lookup(domain, "MX"),
                resolver.addresses(policy_host),
            )
    except TimeoutError:
        report.findings.append(error(codes.DNS_TIMEOUT, f"the DNS lookups for {domain} did not finish within {options.timeout:g} s",
                                     "check that the domain's name servers answer (dig +trace), or raise --timeout"))
        return
    found, report.sts_id = dns.sts_findings(sts, domain)
    report.findings += found
    found, rua = dns.tlsrpt_findings(rpt, domain)
    report.findings += found
    found, report.mx_hosts = dns.mx_findings(mx, domain)
    report.findings += found
    report.findings += dns.policy_host_findings(host)

    # With a --connect-to rule the fetch needs no DNS: that is how a server
    # is checked before DNS points at it.
    reachable = host.status is dns.Status.FOUND or route(net.rules, policy_host, 443) is not None
    fetch = asyncio.create_task(https.fetch_policy(policy_host, rules=net.rules, resolver=resolver, context=net.context, deadline=until, addresses=host.records)) if reachable else None
    owner = config.owner if config is not None else None
    on_pages = pages.on_pages(host, owner)
    caa = asyncio.create_task(pages.caa_findings(resolver, policy_host, until)) if on_pages else None
    probed = await asyncio.gather(*(net.mx_probes.probe(mx_host, until) for mx_host in (report.mx_hosts if options.smtp else [])))

    body = None
    if fetch is not None:
        fetched = await fetch
        found, body = https.fetch_findings(fetched, policy_host)
        report.findings += await pages.explain_fetch(found, fetched, policy_host, pages=on_pages, rules=net.rules, resolver=resolver,
                                                     context=net.context, ca_file=options.ca_file, deadline=until, addresses=host.records)
    if caa is not None:
        report.findings += await caa
    if owner is not None:
        report.findings += pages.cname_findings(host, owner)
    if body is not None:
        try:
            parsed = parse_policy(body)
        except ParseError as exc:
            report.findings += exc.findings
        else:
            report.policy = parsed.policy
            report.findings += parsed.notes
            report.findings += coverage.coverage_findings(parsed.policy, report.mx_hosts)
    if config is not None:
        if body is not None:
            report.findings += drift.policy_drift(config, body)
        if report.sts_id is not None:
            report.findings += drift.id_drift(config, report.sts_id)
        if rua is not None:
            report.findings += drift.tlsrpt_drift(config, rua)
    for result in probed:
        report.findings += smtp.probe_findings(result)
    if not options.smtp:
        report.findings.append(info(codes.SMTP_NOT_CHECKED, "MX certificates were not checked", "run again with --smtp to test STARTTLS on every MX host"))
