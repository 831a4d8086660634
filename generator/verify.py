"""The deploy guard: after a Pages deploy, do senders get the built policy?

It fetches ``https://mta-sts.<domain>/.well-known/mta-sts.txt`` exactly as
`check` does (no redirect followed, certificate checked, one deadline per
attempt) and tries again, with a pause that doubles, while the CDN catches
up, until the bytes are the built policy or the wait is over. Then it reads
the ``_mta-sts`` id from DNS: once the new policy is served, an id that
differs from the built one is the record to publish now (RFC 8461 §8.1:
the policy first, then the id).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from generator import markdown as md
from generator.check import codes, deadline, dns, drift, https, loop, pages, tls
from generator.check.options import CheckOptions
from generator.config import DomainConfig
from generator.errors import ParseError, UsageError
from generator.findings import Finding, Severity
from generator.names import InvalidName, normalize_policy_domain
from generator.policy import ID_RE, parse_policy, policy_id, render_sts_record
from generator.records import Record, bind_line
from generator.terminal import lines_for_terminal, printable

# RFC 8461 §3.3: a sender that sees a new id fetches the policy and caches
# what it gets under that id; it fetches again only when the id changes.
_EARLY = ("the _mta-sts record already has the built id {id}, but the built policy is not served: a sender that sees "
          "this id now caches whatever is served under it (RFC 8461 §8.1: the policy first, then the id). Get the policy "
          "served; then change the id once more (an explicit id: in mta-sts.yml) so those senders fetch it again")
# A sender that fetches no policy it accepts caches nothing (RFC 8461 §3.3,
# §5.1), so an id published before a first policy is served does no lasting harm.
_EARLY_NOTHING = ("the _mta-sts record already has the built id {id}; until the built policy is served senders find no "
                  "policy and cache none, so they pick it up once it is: no need to change the id")
# A failed lookup says nothing about the record: it may already be right.
_NOW_UNKNOWN = "the record could not be read; unless it already is this one, publish this record now"
DEFAULT_WAIT = 300.0  # Pages usually serves a deploy within a minute or two
FIRST_PAUSE = 2.0
MAX_PAUSE = 30.0


def domain_from_site(domain: str, policy_file: Path, sts_id: str | None) -> DomainConfig:
    """What a built site promises, for a repository that holds the site and
    not the config: its policy file, and its id (by default the automatic
    id of those bytes, as ``id: auto`` gives)."""
    try:
        name = normalize_policy_domain(domain.rstrip("."))
    except InvalidName as exc:
        raise UsageError(f"DOMAIN {domain!r} {exc}") from None
    if sts_id is not None and not ID_RE.match(sts_id):
        raise UsageError(f"--id {sts_id!r} is not 1-32 letters and digits")
    try:
        body = policy_file.read_bytes()
    except OSError as exc:
        raise UsageError(f"--policy {policy_file}: {exc.strerror or exc}") from None
    try:
        parsed = parse_policy(body)
    except ParseError as exc:
        raise UsageError(f"--policy {policy_file} is not a valid policy: " + "; ".join(f.message for f in exc.findings)) from None
    return DomainConfig(
        domain=name, policy=parsed.policy, policy_bytes=body, id=sts_id or policy_id(body), id_is_auto=sts_id is None,
        tlsrpt_rua=None, deploy="workflow", owner=None,
    )


@dataclass
class Verdict:
    """One domain: what the last attempt was served, and what DNS says."""

    expected: DomainConfig
    attempts: int = 0
    seconds: float = 0.0
    fetch: https.FetchResult | None = None
    findings: list[Finding] = field(default_factory=list)  # why the policy is not (yet) what senders need
    dns_id: str | None = None
    dns_findings: list[Finding] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://{self.expected.policy_host}{https.POLICY_PATH}"

    @property
    def served(self) -> bool:
        """The built policy, byte for byte, in a response a sender accepts."""
        return not any(f.severity is Severity.ERROR for f in self.findings)

    @property
    def record(self) -> str:
        """The `_mta-sts` record for the built policy, as a zone file line."""
        return bind_line(Record(f"_mta-sts.{self.expected.domain}", "TXT", render_sts_record(self.expected.id)))

    @property
    def publish_now(self) -> bool:
        """The policy is served and DNS does not carry its id yet."""
        return self.served and self.dns_id != self.expected.id

    @property
    def dns_unknown(self) -> bool:
        """The `_mta-sts` lookup failed: what DNS holds is not known."""
        return self.dns_id is None and any(f.code in (codes.DNS_LOOKUP_FAILED, codes.DNS_TIMEOUT) for f in self.dns_findings)

    @property
    def early_id(self) -> bool:
        """DNS already announces the built id, but its policy is not served:
        the order RFC 8461 §8.1 asks for was broken."""
        return not self.served and self.dns_id == self.expected.id

    @property
    def cached_under_new_id(self) -> bool:
        """An early id while another valid policy is served: senders cache
        that one under the new id (a 404 or a broken file they do not cache)."""
        fetched = self.fetch
        if not self.early_id or fetched is None or fetched.status is not https.Status.OK or fetched.http_status != 200 or fetched.body is None:
            return False
        try:
            parse_policy(fetched.body)
        except ParseError:
            return False
        return True

    def answer(self) -> str:
        """What the URL answered last, in a few words."""
        result = self.fetch
        if result is None:
            return "nothing was fetched"
        if result.status is not https.Status.OK:
            return f"no answer a sender accepts ({result.status.value}: {result.detail})"
        kind = result.media_type or "no Content-Type"
        size = f", {len(result.body)} bytes" if result.body is not None else ""
        return f"HTTP {result.http_status}, {kind}{size}"


# Told of each attempt that will be tried again: the verdict so far and the pause before the next.
Retrying = Callable[[Verdict, float], None]


def verify(domains: list[DomainConfig], options: CheckOptions, wait: float, retrying: Retrying | None = None) -> list[Verdict]:
    """Verify every domain side by side; each retries until served or ``wait`` seconds pass."""
    return loop.run(_verify_all(domains, options, tls.context_for(options.ca_file), wait, retrying))


async def _verify_all(domains: list[DomainConfig], options: CheckOptions, context: ssl.SSLContext, wait: float,
                      retrying: Retrying | None) -> list[Verdict]:
    resolver = dns.Resolver(options.nameservers, options.timeout)
    try:
        return list(await asyncio.gather(*(_verify_one(d, resolver, context, options, wait, retrying) for d in domains)))
    finally:
        resolver.close()


def retry_line(verdict: Verdict, pause: float) -> str:
    """One attempt that is tried again, for stderr: a wait of minutes is never silent."""
    return printable(f"{verdict.expected.domain}: attempt {verdict.attempts}: {verdict.answer()}, not the built policy yet;"
                     f" trying again in {pause:.0f} s")


async def _verify_one(expected: DomainConfig, resolver: dns.Resolver, context: ssl.SSLContext, options: CheckOptions, wait: float,
                      retrying: Retrying | None) -> Verdict:
    clock = asyncio.get_running_loop()
    started = clock.time()
    verdict = Verdict(expected)
    pause = FIRST_PAUSE
    host = expected.policy_host
    while True:
        verdict.attempts += 1
        until = deadline.start(options.timeout)
        verdict.fetch = await https.fetch_policy(host, rules=options.connect_to, resolver=resolver, context=context, deadline=until)
        found, body = https.fetch_findings(verdict.fetch, host, expected.owner)
        verdict.findings = found + (drift.policy_drift(expected, body) if body is not None else [])
        left = started + wait - clock.time()
        if verdict.served or left <= 0:
            break
        if retrying is not None:
            retrying(verdict, min(pause, left))
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, MAX_PAUSE)
    verdict.seconds = clock.time() - started
    if not verdict.served:
        # Once, on the last answer: the Pages traps explain a failure, they
        # never turn it into a success, so the retries need not pay for them.
        verdict.findings = await _pages_traps(verdict.findings, verdict.fetch, host, resolver, context, options)
    if options.github:
        from generator.github.pages import github_findings

        verdict.findings += await asyncio.to_thread(github_findings, expected)
    answer = await resolver.lookup(f"_mta-sts.{expected.domain}", "TXT")
    verdict.dns_findings, verdict.dns_id = dns.sts_findings(answer, expected.domain, expected)
    return verdict


async def _pages_traps(found: list[Finding], fetched: https.FetchResult, host: str, resolver: dns.Resolver,
                      context: ssl.SSLContext, options: CheckOptions) -> list[Finding]:
    """What `check` says of Pages' own certificate or a dropped .well-known,
    the two ways a first deploy most often fails; the host's addresses are
    looked up once, to tell whether Pages is answering a 404 and for the
    request that tells the traps apart."""
    addresses = await resolver.addresses(host)
    on_pages = fetched.status is https.Status.OK and fetched.http_status == 404 and pages.on_pages(addresses, None)
    return await pages.explain_fetch(found, fetched, host, pages=on_pages, rules=options.connect_to, resolver=resolver, context=context,
                                     ca_file=options.ca_file, deadline=deadline.start(options.timeout), addresses=addresses.records)


def _tries(verdict: Verdict) -> str:
    return f"{verdict.attempts} attempt{'s' if verdict.attempts != 1 else ''} in {verdict.seconds:.0f} s"


def _dns_state(verdict: Verdict) -> str:
    if verdict.dns_id is not None:
        return f"the _mta-sts record has id {verdict.dns_id}"
    problems = [f.message for f in verdict.dns_findings if f.severity is Severity.ERROR]
    return "; ".join(problems) or "the _mta-sts record has no usable id"


def text(verdict: Verdict) -> str:
    """The verdict for a terminal or a CI log."""
    exp = verdict.expected
    if verdict.served:
        lines = [f"{exp.domain}: served: {verdict.url} is the built policy (id {exp.id}; {_tries(verdict)})"]
    else:
        lines = [f"{exp.domain}: NOT SERVED after {_tries(verdict)}: {verdict.url} answers {verdict.answer()}"]
        for finding in verdict.findings:
            lines.append(f"  {finding.severity}: [{finding.code}] {finding.message}")
            if finding.fix:
                lines.append(f"    fix: {finding.fix}")
    if verdict.cached_under_new_id:
        lines.append(f"  DNS: WARNING: {_EARLY.format(id=exp.id)}")
    elif verdict.early_id:
        lines.append(f"  DNS: {_EARLY_NOTHING.format(id=exp.id)}")
    elif verdict.dns_id == exp.id:
        lines.append(f"  DNS: the _mta-sts record has the built id {exp.id}")
    elif verdict.publish_now:
        lines.append(f"  DNS: {_dns_state(verdict)}; {_NOW_UNKNOWN if verdict.dns_unknown else 'publish this record now'}:")
    else:
        lines.append(f"  DNS: {_dns_state(verdict)}; keep it until the built policy is served, then publish:")
    # Server text (headers, TXT strings) reaches a terminal or a CI log
    # escaped; the record to publish is the build's own (a tab-separated zone line).
    shown = lines_for_terminal(lines)
    return shown if verdict.dns_id == exp.id else f"{shown}\n  {verdict.record}"


def _served_block(verdict: Verdict) -> list[str]:
    body = verdict.fetch.body if verdict.fetch is not None else None
    if body is None:
        return []
    shown = body.decode("utf-8", errors="replace")
    return ["", "What is served:", "", md.block(shown), "", "What the build wrote:", "", md.block(verdict.expected.policy_bytes.decode("utf-8", errors="replace"))]


def markdown(verdict: Verdict) -> str:
    """The verdict as a job summary section (GitHub-flavoured Markdown)."""
    exp = verdict.expected
    lines = [f"### MTA-STS deploy check: {md.text(exp.domain)}", ""]
    if verdict.served:
        lines.append(f"**Served.** {md.code(verdict.url)} answers the built policy, id {md.code(exp.id)} ({_tries(verdict)}).")
    else:
        lines += [f"**Not served.** After {_tries(verdict)}, {md.code(verdict.url)} answers {md.text(verdict.answer())}"
                  " instead of the built policy.", ""]
        lines += [f"- **{f.severity}** {md.code(f.code)}: {md.prose(f.message)}" + (f"<br>fix: {md.prose(f.fix)}" if f.fix else "")
                  for f in verdict.findings]
        lines += _served_block(verdict)
    lines.append("")
    if verdict.cached_under_new_id:
        lines.append(f"**DNS: warning.** {md.text(_EARLY.format(id=exp.id))}")
    elif verdict.early_id:
        lines.append(f"DNS: {md.text(_EARLY_NOTHING.format(id=exp.id))}.")
    elif verdict.dns_id == exp.id:
        lines.append(f"DNS: the `_mta-sts` record already has id {md.code(exp.id)}.")
    elif verdict.publish_now:
        now = _NOW_UNKNOWN if verdict.dns_unknown else "publish this record now"
        lines += [f"DNS: {md.text(_dns_state(verdict))}. The new policy is served, so **{now}**"
                  " (RFC 8461 §8.1: the policy first, then the id):", "", md.block(verdict.record, "dns")]
    else:
        lines += [f"DNS: {md.text(_dns_state(verdict))}. Keep it until the built policy is served; then publish:", "",
                  md.block(verdict.record, "dns")]
    return "\n".join(lines) + "\n"
