"""DNS lookups as a sender makes them, over the check's own name-server client.

Each lookup returns an :class:`Answer` (status + detail), never raises for a
DNS problem: a missing record is a finding, not an exception.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dns.exception

from generator.check import codes, wire
from generator.check.options import Endpoint
from generator.check.transport import Client, ServerFailed
from generator.errors import ParseError, UsageError
from generator.findings import Finding, Severity, error, info, warning
from generator.policy import parse_sts_record, render_sts_record
from generator.tlsrpt import parse_tlsrpt_record, render_tlsrpt_record

if TYPE_CHECKING:  # a check without --config never loads the config module (YAML)
    from generator.config import DomainConfig

# A recursive resolver follows CNAMEs for us; an authoritative server given
# with --nameserver stops where its zone ends, so chains are chased here,
# with at most this many queries for one lookup.
MAX_CNAME_HOPS = 8
# How long one server gets to answer one query before the next is asked
# (or the same one again): dnspython's and most stub resolvers' default.
ATTEMPT_TIMEOUT = 2.0
NO_SUCH_NAME = "no such name"  # an Answer's detail for NXDOMAIN


class Status(enum.Enum):
    FOUND = "found"
    NONE = "none"  # NXDOMAIN or no records of the type
    FAILED = "failed"  # SERVFAIL, refused, timeout: the answer is unknown


@dataclass(frozen=True)
class Answer:
    status: Status
    name: str  # where the records were found, after any CNAME
    records: tuple = ()  # TXT: tuples of byte strings; MX: (preference, host); A/AAAA: addresses
    detail: str = ""
    queried: str = ""
    timed_out: bool = False  # FAILED because no server answered within the lookup's limit
    resolver_failed: bool = False  # FAILED because no server could be asked: the resolver's fault, not the name's

    @property
    def via_cname(self) -> bool:
        return self.status is Status.FOUND and self.name != self.queried.lower()


def _system_servers(filename: str = "/etc/resolv.conf") -> tuple[list[tuple[str, int]], float]:
    """The name servers and per-query timeout of resolv.conf, read by dnspython."""
    import dns.resolver  # only here: --nameserver runs never read the system's configuration

    try:
        system = dns.resolver.Resolver(filename)
    except dns.resolver.NoResolverConfiguration:
        raise UsageError("the system has no DNS resolver configured; give one with --nameserver IP") from None
    servers = [(str(ns), system.port) for ns in system.nameservers if isinstance(ns, str)]
    if not servers:
        raise UsageError("the system's resolver configuration names no plain DNS server; give one with --nameserver IP")
    return servers, float(system.timeout)


class Resolver:
    """The one resolver of a check run: ``--nameserver`` endpoints, else the system's.

    Each lookup (CNAME chain included) gets ``timeout`` seconds, and
    then returns a FAILED answer that says why: a name server that never
    answers one question costs that question, not the lookups around it.
    Call :meth:`close` when done; it closes the sockets the run opened.
    """

    def __init__(self, nameservers: tuple[Endpoint, ...], timeout: float) -> None:
        if nameservers:
            servers, attempt = [(n.host, n.port) for n in nameservers], ATTEMPT_TIMEOUT
        else:
            servers, attempt = _system_servers()
        self._client = Client(servers, attempt)
        self.lookup_limit = timeout

    def close(self) -> None:
        self._client.close()

    async def lookup(self, name: str, rdtype: str, deadline: float | None = None) -> Answer:
        """``deadline`` (event-loop time): when the limit is shared with other lookups."""
        try:
            labels, qname_wire = wire.encode(name)
        except dns.exception.DNSException as exc:
            # Too long, an empty or oversized label: no server could hold it.
            return Answer(Status.FAILED, name.lower(), detail=f"not a valid DNS name ({exc})", queried=name)
        code = wire.TYPES[rdtype]
        seen = {labels}
        if deadline is None:
            deadline = asyncio.get_running_loop().time() + self.lookup_limit
        try:
            for _ in range(MAX_CNAME_HOPS):
                reply = await self._client.exchange(labels, qname_wire, code, deadline)
                if reply.rcode == wire.NXDOMAIN:
                    return Answer(Status.NONE, wire.text(labels), detail=NO_SUCH_NAME, queried=name)
                target, records = _follow(reply.answers, labels, code, seen)
                if records:
                    return Answer(Status.FOUND, wire.text(target), _records(code, records), queried=name)
                if target == labels:
                    return Answer(Status.NONE, wire.text(labels), detail=f"no {rdtype} records", queried=name)
                labels, qname_wire = target, wire.to_wire(target)
        except ServerFailed as exc:
            if exc.unreachable:
                return Answer(Status.FAILED, wire.text(labels), detail=str(exc), queried=name, resolver_failed=True)
            return Answer(Status.FAILED, wire.text(labels), detail=f"no name server gave an answer ({exc})", queried=name)
        except TimeoutError as exc:
            why = f" ({exc})" if str(exc) else ""
            return Answer(Status.FAILED, wire.text(labels), detail=f"no answer within {self.lookup_limit:g} s{why}", queried=name, timed_out=True)
        except _CnameLoop as loop:
            return Answer(Status.FAILED, wire.text(labels), detail=f"the CNAME chain loops back to {wire.text(loop.args[0])}", queried=name)
        return Answer(Status.FAILED, wire.text(labels), detail=f"the CNAME chain does not end within {MAX_CNAME_HOPS} queries", queried=name)

    async def addresses(self, name: str) -> Answer:
        """The A records, or the AAAA records when there is no A.

        One family is enough to connect, so AAAA is asked only when A gives
        nothing: a query saved is a tenth of a domain's CPU time. Both
        share one lookup's limit.
        """
        deadline = asyncio.get_running_loop().time() + self.lookup_limit
        v4 = await self.lookup(name, "A", deadline)
        if v4.status is Status.FOUND:
            return v4
        v6 = await self.lookup(name, "AAAA", deadline)
        return v6 if v6.status is Status.FOUND or v4.status is not Status.FAILED else v4


class _CnameLoop(Exception):
    """A CNAME chain came back to a name it had passed."""


def _follow(answers: tuple[wire.Record, ...], qname: wire.Labels, rdtype: int, seen: set[wire.Labels]) -> tuple[wire.Labels, list]:
    """Follow the CNAME chain from ``qname`` through the answer section.

    Returns where it ends and the values of the records of ``rdtype`` there
    (none: the chain leaves the answer, or there are no such records).
    ``seen`` holds the names passed so far, across queries; coming back to
    one raises _CnameLoop.
    """
    current = qname
    while True:
        values = [r.value for r in answers if r.owner == current and r.rdtype == rdtype]
        if values:
            return current, list(dict.fromkeys(values))  # an RRset has no duplicates
        # A name has one CNAME at most; of a broken set the last counts, as in dnspython.
        targets = [r.value for r in answers if r.owner == current and r.rdtype == wire.CNAME]
        if not targets:
            return current, []
        current = targets[-1]
        if current in seen:
            raise _CnameLoop(current)
        seen.add(current)


def _records(rdtype: int, values: list) -> tuple:
    if rdtype == wire.MX:
        # A null MX (RFC 7505) names the root: no host, kept as "".
        return tuple(sorted((preference, wire.text(exchange)) for preference, exchange in values))
    return tuple(values)


# What the answers mean to a sender. Pure functions over Answer.


RESOLVER_FIX = "give a resolver that answers recursive queries (--nameserver IP, or the system's /etc/resolv.conf), then check again"


def resolver_finding(answers: list[Answer]) -> Finding | None:
    """One finding for a domain none of whose lookups could be asked: the
    resolver is at fault, and one lookup's finding each would blame the domain."""
    if not answers or not all(a.resolver_failed for a in answers):
        return None
    return error(codes.DNS_LOOKUP_FAILED, f"the DNS resolver could not be asked ({answers[0].detail}); nothing was learned about the domain",
                 RESOLVER_FIX)


def failed_finding(answer: Answer, what: str) -> Finding:
    if answer.resolver_failed:
        return error(codes.DNS_LOOKUP_FAILED, f"the {what} lookup for {answer.queried} failed: {answer.detail}",
                     f"the resolver refused the question or could not be reached: {RESOLVER_FIX}")
    if answer.timed_out:
        return error(codes.DNS_TIMEOUT, f"the {what} lookup for {answer.queried} timed out: {answer.detail}",
                     f"check that the domain's name servers answer for {answer.queried} (dig +trace), or raise --timeout")
    return error(codes.DNS_LOOKUP_FAILED, f"the {what} lookup for {answer.queried} failed: {answer.detail}",
                 "check the domain's name servers (dig +trace), then check again")


def _txt_values(answer: Answer, version: str) -> tuple[list[tuple[bytes, ...]], int]:
    """The TXT records that begin with ``version``, and how many others there are."""
    matching = [strings for strings in answer.records if b"".join(strings).startswith(version.encode())]
    return matching, len(answer.records) - len(matching)


def _joined(strings: tuple[bytes, ...]) -> str:
    # RFC 8461 §3.1 / RFC 8460 §3: the strings of one record are concatenated.
    return b"".join(strings).decode("utf-8", errors="replace")


def sts_findings(answer: Answer, domain: str, config: DomainConfig | None = None) -> tuple[list[Finding], str | None]:
    """Findings for `_mta-sts.<domain>`, and the id when the record is usable.
    With the domain's ``config``, a fix names the config's values, not placeholders."""
    name = f"_mta-sts.{domain}"
    if answer.status is Status.FAILED:
        return [failed_finding(answer, "_mta-sts TXT")], None
    matching, others = _txt_values(answer, "v=STSv1") if answer.status is Status.FOUND else ([], 0)
    if not matching:
        seen = f" ({others} unrelated TXT record{'s' if others != 1 else ''} there)" if others else ""
        value = f"\"{render_sts_record(config.id)}\"" if config is not None else "\"v=STSv1; id=<id>\" (`mta-sts-pages records` prints it)"
        return [error(codes.STS_RECORD_MISSING, f"no 'v=STSv1' TXT record at {name}{seen}; senders see no MTA-STS policy",
                      f"publish {name} TXT {value} after the policy is served")], None
    if len(matching) > 1:
        # Sorted: servers rotate an RRset, and the monitor compares messages day to day.
        values = "; ".join(sorted(repr(_joined(s)) for s in matching))
        return [error(codes.STS_RECORD_MULTIPLE, f"{len(matching)} 'v=STSv1' records at {name} ({values}); senders then ignore MTA-STS",
                      f"delete all but one record at {name}")], None
    findings: list[Finding] = []
    if answer.via_cname:
        findings.append(info(codes.STS_RECORD_CNAME, f"{name} is a CNAME to {answer.name}; followed, as senders do"))
    if len(matching[0]) > 1:
        findings.append(info(codes.STS_RECORD_SPLIT, f"the record at {name} is split into {len(matching[0])} strings; joined without spaces, as senders do"))
    try:
        record, notes = parse_sts_record(_joined(matching[0]))
    except ParseError as exc:
        fix = f"publish {name} TXT \"{render_sts_record(config.id)}\" in its place" if config is not None else None
        return findings + _fixed(exc.findings, fix), None
    return findings + list(notes), record.id


def tlsrpt_findings(answer: Answer, domain: str, config: DomainConfig | None = None) -> tuple[list[Finding], tuple[str, ...] | None]:
    """Findings for `_smtp._tls.<domain>`, and the report URIs when usable."""
    name = f"_smtp._tls.{domain}"
    if answer.status is Status.FAILED:
        return [failed_finding(answer, "_smtp._tls TXT")], None
    matching, _ = _txt_values(answer, "v=TLSRPTv1") if answer.status is Status.FOUND else ([], 0)
    if not matching:
        return [warning(codes.TLSRPT_RECORD_MISSING, f"no 'v=TLSRPTv1' TXT record at {name}; nobody hears about failed TLS deliveries",
                        _tlsrpt_fix(name, domain, config))], None
    if len(matching) > 1:
        return [error(codes.TLSRPT_RECORD_MULTIPLE, f"{len(matching)} 'v=TLSRPTv1' records at {name}; senders then send no reports",
                      f"delete all but one record at {name}")], None
    try:
        record, notes = parse_tlsrpt_record(_joined(matching[0]))
    except ParseError as exc:
        fix = f"publish {name} TXT \"{render_tlsrpt_record(config.tlsrpt_rua)}\" in its place" if config is not None and config.tlsrpt_rua else None
        return _fixed(exc.findings, fix), None
    return list(notes), record.rua


def _fixed(findings, fix: str | None) -> list[Finding]:
    """A record's parse findings; with the config's own record (``fix``), each
    error's fix is that record rather than the parser's placeholder."""
    return [f._replace(fix=fix) if fix is not None and f.severity is Severity.ERROR else f for f in findings]


def _tlsrpt_fix(name: str, domain: str, config: DomainConfig | None) -> str:
    if config is not None and config.tlsrpt_rua:
        return f"publish {name} TXT \"{render_tlsrpt_record(config.tlsrpt_rua)}\""
    example = f"\"v=TLSRPTv1; rua=mailto:tls-reports@{domain}\""
    if config is not None:
        return f"add 'tlsrpt: rua: mailto:<a mailbox that reads the reports>' to the config, then publish the record `mta-sts-pages records` prints (e.g. {example})"
    return f"publish {name} TXT {example}, with a mailbox that reads the reports"


def mx_findings(answer: Answer, domain: str) -> tuple[list[Finding], list[str]]:
    """Findings for the MX set, and the MX hosts in preference order."""
    if answer.status is Status.FAILED:
        return [failed_finding(answer, "MX")], []
    hosts = list(dict.fromkeys(host for _, host in answer.records if host))
    if hosts:
        return [], hosts
    if answer.detail == NO_SUCH_NAME:
        return [warning(codes.MX_RECORDS_MISSING, f"{domain} does not exist in DNS (NXDOMAIN), so MTA-STS protects nothing",
                        f"check the spelling of {domain} (and the resolver, if it surely exists)")], []
    why = "a null MX (RFC 7505): the domain accepts no mail" if answer.records else "no MX records"
    return [warning(codes.MX_RECORDS_MISSING, f"{domain} has {why}, so MTA-STS protects nothing",
                    f"publish the MX records of {domain}, or drop MTA-STS for a domain without mail")], []


def policy_host_findings(answer: Answer, config: DomainConfig | None = None) -> list[Finding]:
    if answer.status is Status.FAILED:
        return [failed_finding(answer, "address")]
    if answer.status is Status.NONE:
        target = f"{config.owner}.github.io." if config is not None and config.owner else "<owner>.github.io. (`mta-sts-pages records` prints it)"
        return [error(codes.POLICY_HOST_MISSING, f"{answer.queried} has no A or AAAA record ({answer.detail}); senders cannot fetch the policy",
                      f"publish {answer.queried} CNAME {target}")]
    return []
