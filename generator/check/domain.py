"""One domain, checked end to end under its one deadline: the DNS lookups side
by side, each under its own limit; the policy fetch as soon as the policy
host's address is in, the MX probes as soon as the MX set is; then coverage
and drift. A bug met on the way becomes this domain's `internal-error`."""

from __future__ import annotations

import asyncio
import ssl
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

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
    except Exception as exc:  # one domain's bug must not end the run for the others
        report.findings.append(internal_error(target.domain, exc))
    finally:
        report.seconds = time.perf_counter() - started
    return report


def internal_error(domain: str, exc: Exception) -> Finding:
    """The finding for a bug met while checking ``domain``: what and where, for a bug report."""
    while isinstance(exc, ExceptionGroup):  # from the TaskGroup in _check: its first failure
        exc = exc.exceptions[0]
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" in {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return error(codes.INTERNAL_ERROR, f"the check of {domain} stopped on an unexpected {type(exc).__name__}{where}: {exc}",
                 "the other findings for this domain may be incomplete; report this message to the mta-sts-pages project")


async def _check(report: DomainReport, target: Target, net: Network, options: CheckOptions, until: float) -> None:
    domain, config = target.domain, target.config
    policy_host = f"mta-sts.{domain}"
    resolver = net.resolver
    # Each lookup has its own limit inside the deadline (Resolver), and what
    # needs one starts as soon as it is in: a name server that never answers
    # one question costs that question's finding, not the rest of the report.
    async with asyncio.TaskGroup() as group:
        sts = group.create_task(resolver.lookup(f"_mta-sts.{domain}", "TXT"))
        rpt = group.create_task(resolver.lookup(f"_smtp._tls.{domain}", "TXT"))
        mail = group.create_task(_mx_and_probes(domain, net, options, until))
        served = group.create_task(_fetch(policy_host, net, options, config.owner if config is not None else None, until))
        github = group.create_task(_github_view(config)) if options.github and config is not None else None
    found, report.sts_id = dns.sts_findings(sts.result(), domain, config)
    report.findings += found
    found, rua = dns.tlsrpt_findings(rpt.result(), domain, config)
    report.findings += found
    mx_answer, found, report.mx_hosts, probed = mail.result()
    report.findings += found
    host, fetch_found, body = served.result()
    report.findings += dns.policy_host_findings(host, config)
    report.findings += fetch_found
    if body is not None:
        try:
            parsed = parse_policy(body)
        except ParseError as exc:
            report.findings += exc.findings
        else:
            report.policy = parsed.policy
            report.findings += parsed.notes
            report.findings += coverage.coverage_findings(parsed.policy, report.mx_hosts, config)
    if config is not None:
        if body is not None:
            report.findings += drift.policy_drift(config, body)
        if report.sts_id is not None:
            report.findings += drift.id_drift(config, report.sts_id)
        if rua is not None:
            report.findings += drift.tlsrpt_drift(config, rua)
    if github is not None:
        report.findings += github.result()
    for result in probed:
        report.findings += smtp.probe_findings(result)
    if not options.smtp:
        report.findings.append(info(codes.SMTP_NOT_CHECKED, "MX certificates were not checked", "run again with --smtp to test STARTTLS on every MX host"))
    resolver_down = dns.resolver_finding([sts.result(), rpt.result(), mx_answer, host])
    if resolver_down is not None:
        # Every lookup failed at the resolver: one finding that names it, not one per lookup.
        report.findings = [resolver_down] + [f for f in report.findings if f.code != codes.DNS_LOOKUP_FAILED]


async def _github_view(config) -> list[Finding]:
    """GitHub's own view of the site (gh, in a thread: it blocks)."""
    from generator.github.pages import github_findings

    return await asyncio.to_thread(github_findings, config)


async def _mx_and_probes(domain: str, net: Network, options: CheckOptions, until: float) -> tuple[dns.Answer, list[Finding], list[str], list[smtp.ProbeResult]]:
    """The MX answer, findings and hosts, and with --smtp each host's probe."""
    answer = await net.resolver.lookup(domain, "MX")
    found, hosts = dns.mx_findings(answer, domain)
    probed = await asyncio.gather(*(net.mx_probes.probe(host, until) for host in (hosts if options.smtp else [])))
    return answer, found, hosts, list(probed)


async def _fetch(policy_host: str, net: Network, options: CheckOptions, owner: str | None, until: float) -> tuple[dns.Answer, list[Finding], bytes | None]:
    """The policy host's addresses, the findings of fetching the policy (and
    of the Pages traps when the host is on Pages, or ``owner``, pages.owner,
    says it should be), and the body when served."""
    host = await net.resolver.addresses(policy_host)
    on_pages = pages.on_pages(host, owner)
    async with asyncio.TaskGroup() as group:
        own = host.status is dns.Status.FOUND and not host.via_cname
        caa = group.create_task(pages.caa_findings(net.resolver, policy_host, until, own_addresses=own)) if on_pages else None
        # The dropped-folder trap needs Pages itself answering: with pages.owner
        # set but the name leading elsewhere, a 404 is that server's own.
        served = group.create_task(_fetch_policy(policy_host, host, net, options, pages.on_pages(host, None), until, owner))
    found, body = served.result()
    if caa is not None:
        found += caa.result()
    if owner is not None:
        found += pages.cname_findings(host, owner)
    return host, found, body


async def _fetch_policy(policy_host: str, host: dns.Answer, net: Network, options: CheckOptions, on_pages: bool, until: float,
                        owner: str | None) -> tuple[list[Finding], bytes | None]:
    # With a --connect-to rule the fetch needs no DNS: that is how a server
    # is checked before DNS points at it.
    if host.status is not dns.Status.FOUND and route(net.rules, policy_host, 443) is None:
        return [], None
    fetched = await https.fetch_policy(policy_host, rules=net.rules, resolver=net.resolver, context=net.context, deadline=until, addresses=host.records)
    found, body = https.fetch_findings(fetched, policy_host, owner)
    found = await pages.explain_fetch(found, fetched, policy_host, pages=on_pages, rules=net.rules, resolver=net.resolver,
                                      context=net.context, ca_file=options.ca_file, deadline=until, addresses=host.records)
    return found, body
