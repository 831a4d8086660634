"""GitHub Pages' own traps, as seen from outside (SPEC §7).

Each turns a generic finding, or a silent future failure, into the Pages
setting or DNS record to change:

- CAA records that do not let Let's Encrypt issue: Pages can never get (or
  renew) the policy host's certificate. The relevant RRset is found as RFC
  8659 §3 and Let's Encrypt's Boulder (va/caa.go) find it: a CAA query for
  the policy host, then for each parent up to the TLD, each following
  CNAMEs; the first name with CAA records decides. An `issue` property must
  name `letsencrypt.org` exactly (`issuewild` applies to wildcard
  certificates only, and Pages asks for none); a critical property of a tag
  Boulder does not know forbids issuance. RFC 8657 parameters are judged
  for Pages' requests, as Boulder judges them: Pages asks with GitHub's own
  ACME account, whose URI is not published, and proves control with
  http-01 or tls-alpn-01 (it cannot answer dns-01 in the user's zone). So
  a `validationmethods` without either rules a property out (an error when
  none is left), while an `accounturi` may or may not be GitHub's (a
  warning when every usable property has one). When a parent's set
  decides and the policy host holds addresses (no CNAME), the fix also
  offers a CAA record at the policy host: the climb stops there, and the
  parent keeps its restriction. A failed lookup leaves the question
  open: Let's Encrypt would refuse to issue, but an authoritative server
  given with --nameserver refuses names outside its zones.
- a trusted certificate for `*.github.io` instead of the policy host: the
  custom domain is not set (or its certificate not yet issued).
- a 404 for the policy while `/` answers 200: the site is deployed without
  its `.well-known` folder.
- with `pages.owner` in the config: `mta-sts.<domain>` does not lead to
  `<owner>.github.io`.

The CAA trap is looked for only when the policy host is on Pages (its CNAME
leads to a github.io name, its address is one of Pages', or the config names
a Pages owner), the 404 trap only when Pages itself answers (the owner alone
does not count: a 404 from another server is its own): elsewhere other CAs
and other layouts are fine.
The extra connections (`/`, the certificate's names) are made only when
the policy fetch already failed in the way they explain.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass
from pathlib import Path

from generator.check import codes, dns, https, tls
from generator.check.connect import ConnectError, open_stream
from generator.check.options import ConnectTo
from generator.findings import Finding, error, warning

# GitHub's documented apex addresses for Pages (docs: "Managing a custom domain").
PAGES_ADDRESSES = frozenset({
    "185.199.108.153", "185.199.109.153", "185.199.110.153", "185.199.111.153",
    "2606:50c0:8000::153", "2606:50c0:8001::153", "2606:50c0:8002::153", "2606:50c0:8003::153",
})
PAGES_DOMAIN = "github.io"
LETS_ENCRYPT = "letsencrypt.org"  # the issuer domain Boulder compares with, exactly
# Tags Boulder recognises; a critical property with any other tag forbids issuance.
_KNOWN_TAGS = {b"issue", b"issuewild", b"iodef", b"issuemail", b"issuevmc"}
# RFC 8659 §4.1 puts the critical flag at 128; Boulder also takes 1, a common misreading.
_CRITICAL = 128 | 1


def _under_pages(name: str) -> bool:
    return name == PAGES_DOMAIN or name.endswith("." + PAGES_DOMAIN)


def on_pages(host: dns.Answer, owner: str | None) -> bool:
    """Whether the policy host is (meant to be) served by GitHub Pages."""
    if owner is not None:
        return True
    return host.status is dns.Status.FOUND and (_under_pages(host.name) or any(a in PAGES_ADDRESSES for a in host.records))


# --- CAA ---------------------------------------------------------------------

# How Pages proves control: from its own servers, never through the user's zone.
_PAGES_METHODS = ("http-01", "tls-alpn-01")
_METHOD_LABEL = re.compile(r"[A-Za-z0-9-]+")  # Boulder's ^[[:alnum:]-]+$ for each validationmethods entry


@dataclass(frozen=True)
class Refusal:
    """Why Let's Encrypt may not issue for Pages, and the change that lets it."""

    why: str
    fix: str
    certain: bool = True  # False: only if the accounturi named is not GitHub's own ACME account


def _parse(value: bytes) -> tuple[str, list[tuple[str, str]] | None]:
    """The issuer domain of an `issue` value (RFC 8659 §4.2; "" for ";",
    which names no CA) and its (tag, value) parameters, None when they are
    not well formed: Boulder skips such a property. A ";" followed by
    blanks only is no parameter at all (the ABNF's ``";" *WSP``)."""
    domain, *parts = value.decode("latin-1").split(";")
    if len(parts) == 1 and not parts[0].strip(" \t"):
        parts = []
    parameters = []
    for part in parts:
        tag, sep, text = part.partition("=")
        tag, text = tag.strip(" \t"), text.strip(" \t")
        # Boulder takes letters and digits in a tag (RFC 8659 also inner hyphens), an empty one too.
        if not sep or not (tag.isascii() and (tag.isalnum() or not tag)) or not all("!" <= c <= "~" for c in text):
            return domain.strip(" \t"), None
        parameters.append((tag, text))
    return domain.strip(" \t"), parameters


def _methods_refusal(methods: str) -> str | None:
    """Why Boulder's reading of ``validationmethods=<methods>`` lets Pages use
    neither of its methods; None when it lets it use one. Boulder reads the
    list in order and fails at the first entry that is not a method name."""
    for label in methods.split(","):
        if not _METHOD_LABEL.fullmatch(label):
            later = [m for m in _PAGES_METHODS if m in methods.split(",")]
            return (f"their issue property for {LETS_ENCRYPT} has validationmethods={methods}, which Let's Encrypt stops reading "
                    f"at {label!r}, not a method name"
                    + (f", before it reaches {later[0]}" if later else ""))
        if label in _PAGES_METHODS:
            return None
    cased = [label for label in methods.split(",") if label.lower() in _PAGES_METHODS]
    return (f"their issue property for {LETS_ENCRYPT} allows only validationmethods={methods}: GitHub Pages proves control "
            "with http-01 or tls-alpn-01 from its own servers, and cannot answer a DNS challenge (dns-01 and the like) in your zone"
            + (f" (Let's Encrypt compares method names exactly: {cased[0]} is not {cased[0].lower()})" if cased else ""))


def _pages_refusal(parameters: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    """For a well-formed `issue "letsencrypt.org"` property: why it can never
    let Pages' requests through (RFC 8657, as Boulder reads it), and the
    accounturi it binds issuance to. Boulder matches the parameter tags
    exactly (an `AccountURI` is an unknown parameter, ignored) and finds a
    property with two of either never satisfied."""
    for tag in ("accounturi", "validationmethods"):
        if sum(t == tag for t, _ in parameters) > 1:
            return f"their issue property for {LETS_ENCRYPT} has more than one {tag} parameter, which Let's Encrypt never satisfies", None
    given = dict(parameters)
    methods = given.get("validationmethods")
    return (None if methods is None else _methods_refusal(methods)), given.get("accounturi")


def caa_refusal(records: tuple[tuple[int, bytes, bytes], ...], name: str, policy_host: str | None = None) -> Refusal | None:
    """Why Let's Encrypt may not issue Pages a (non-wildcard) certificate
    under this relevant RRset of (flags, tag, value) found at ``name``, and
    the change that lets it; None when it may. ``policy_host`` is given when
    the set is a parent's and the policy host could hold CAA records of its
    own (it is no CNAME): the fix then offers that way too."""
    also = ("" if policy_host is None else
            f'; or, to keep the restriction at {name}, add {policy_host}. CAA 0 issue "{LETS_ENCRYPT}": the first name '
            "with CAA records decides (RFC 8659 §3), so it lets Let's Encrypt issue for the policy host alone")
    critical = sorted({tag.decode("ascii") for flags, tag, _ in records if flags & _CRITICAL and tag.lower() not in _KNOWN_TAGS})
    if critical:
        return Refusal(f"a critical '{critical[0]}' property there, a tag Let's Encrypt does not know, forbids issuance",
                       f"clear the critical flag of the '{critical[0]}' CAA record at {name} (flags 0), or delete it" + also)
    issuers = [_parse(value) for _, tag, value in records if tag.lower() == b"issue"]
    judged = [_pages_refusal(parameters) for domain, parameters in issuers if domain == LETS_ENCRYPT and parameters is not None]
    if not issuers or any(why is None and uri is None for why, uri in judged):
        return None
    add = f'add {name}. CAA 0 issue "{LETS_ENCRYPT}" beside the CAA records there' + also
    bound = sorted({uri for why, uri in judged if why is None})
    if bound:
        return Refusal(f"their issue properties for {LETS_ENCRYPT} bind issuance to the ACME account {' or '.join(bound)} (accounturi)",
                       f"unless that is GitHub's own account, {add}", certain=False)
    if judged:
        return Refusal(judged[0][0],
                       f'give the issue "{LETS_ENCRYPT}" record at {name} one validationmethods parameter that lists http-01 and '
                       "tls-alpn-01 (e.g. validationmethods=dns-01,http-01,tls-alpn-01), and no accounturi" + also)
    if any(domain == LETS_ENCRYPT for domain, _ in issuers):
        return Refusal(f"the issue property for {LETS_ENCRYPT} has parameters that are not tag=value, so it counts for nothing", add)
    named = sorted({domain for domain, _ in issuers if domain})
    near = [domain for domain in named if domain.lower().rstrip(".") == LETS_ENCRYPT]
    if near:
        return Refusal(f"{near[0]} is not {LETS_ENCRYPT}: Let's Encrypt compares the issuer name exactly "
                       "(lower case, no trailing dot)", add)
    return Refusal(f"they let only {', '.join(named)} issue" if named else 'they forbid every CA (issue ";")', add)


async def caa_findings(resolver: dns.Resolver, policy_host: str, deadline: float, *, own_addresses: bool) -> list[Finding]:
    """The CAA trap. ``own_addresses``: the policy host holds address records
    of its own, so it could hold CAA records too (a CNAME cannot, and Pages'
    own setup for it is one)."""
    labels = policy_host.split(".")
    # All asked at once, as Boulder asks them; read nearest first, so the
    # first name with records decides without waiting for the TLD's answer.
    lookups = [asyncio.ensure_future(resolver.lookup(".".join(labels[i:]), "CAA")) for i in range(len(labels))]
    try:
        async with asyncio.timeout_at(deadline):
            for lookup in lookups:
                answer = await lookup
                if answer.status is dns.Status.FAILED:
                    return []
                if answer.status is dns.Status.FOUND:
                    return _caa_finding(answer, policy_host, own_addresses=own_addresses)
    except TimeoutError:
        pass
    finally:
        for lookup in lookups:
            lookup.cancel()
    return []


def _caa_finding(answer: dns.Answer, policy_host: str, *, own_addresses: bool) -> list[Finding]:
    parent = answer.queried.lower() != policy_host.lower()
    refusal = caa_refusal(answer.records, answer.name, policy_host if parent and own_addresses else None)
    if refusal is None:
        return []
    at = answer.queried + (f" (through its CNAME to {answer.name})" if answer.via_cname else "")
    decide = f"the CAA records at {at} decide who may issue a certificate for {policy_host}, and {refusal.why}; "
    if not refusal.certain:
        return [warning(codes.PAGES_CAA_ACCOUNT_BOUND,
                        decide + "GitHub Pages gets its certificates from Let's Encrypt with GitHub's own ACME account, "
                        "whose URI is not published: unless that is the one named, Pages can never get or renew one",
                        refusal.fix)]
    return [error(codes.PAGES_CAA_BLOCKS,
                  decide + "GitHub Pages gets its certificates from Let's Encrypt, so it can never get or renew one", refusal.fix)]


# --- what a failed fetch means on Pages ------------------------------------


async def _certificate_names(host: str, *, rules, resolver, ca_file, deadline, addresses) -> tuple[str, ...] | None:
    """The DNS names of the certificate ``host`` presents (None: not read)."""
    try:
        async with asyncio.timeout_at(deadline):
            _, writer = await open_stream(host, 443, rules=rules, resolver=resolver, deadline=deadline,
                                          tls=tls.names_context(ca_file), addresses=addresses)
    except (TimeoutError, ConnectError, OSError):  # ssl.SSLError is an OSError
        return None
    try:
        cert = writer.get_extra_info("ssl_object").getpeercert() or {}
    finally:
        writer.transport.abort()
    return tls.dns_names(cert)


async def explain_fetch(
    found: list[Finding], result: https.FetchResult, host: str, *, pages: bool, rules: tuple[ConnectTo, ...],
    resolver: dns.Resolver, context: ssl.SSLContext, ca_file: Path | None, deadline: float, addresses: tuple[str, ...],
) -> list[Finding]:
    """``found`` (the fetch's findings), with a Pages trap in place of the
    generic finding it explains."""
    reach = {"rules": rules, "resolver": resolver, "deadline": deadline, "addresses": addresses}
    if result.status is https.Status.TLS_FAILED and result.tls_problem is tls.Problem.NAME:
        names = await _certificate_names(host, ca_file=ca_file, **reach)
        if names is None:
            return found
        if any(_under_pages(name.removeprefix("*.")) for name in names):
            return _replace(found, codes.POLICY_CERT_NAME, error(
                codes.PAGES_CERT_GITHUB_IO,
                f"{host} presents GitHub Pages' own certificate (for {', '.join(names[:3])}), not one for {host}: "
                "Pages does not know this custom domain, or has not issued its certificate yet",
                f"set the custom domain to {host} in the repository's Settings > Pages, wait for the certificate, "
                "then tick Enforce HTTPS"))
        return _replace(found, codes.POLICY_CERT_NAME, tls.problem_finding(https.POLICY_TLS, tls.Problem.NAME, "", host, "policy host", names))
    if pages and result.status is https.Status.OK and result.http_status == 404:
        root = await https.fetch_policy(host, context=context, path="/", body=False, **reach)
        if root.status is https.Status.OK and root.http_status == 200:
            return _replace(found, codes.POLICY_NOT_FOUND, error(
                codes.PAGES_WELL_KNOWN_DROPPED,
                f"https://{host}/ answers 200 but {https.POLICY_PATH} answers 404: the site was published without its .well-known folder",
                "deploy with actions/upload-pages-artifact v5 and include-hidden-files: true; "
                "when Pages builds with Jekyll, keep include: [\".well-known\"] in _config.yml (mta-sts-pages build writes both)"))
    return found


def _replace(found: list[Finding], code: str, trap: Finding) -> list[Finding]:
    return [trap if f.code == code else f for f in found]


# --- the CNAME ----------------------------------------------------------------


def cname_findings(host: dns.Answer, owner: str) -> list[Finding]:
    """With ``pages.owner``: ``mta-sts.<domain>`` should lead to ``<owner>.github.io``."""
    expected = f"{owner.lower()}.{PAGES_DOMAIN}"
    queried = host.queried.lower()
    if host.status is dns.Status.FAILED or host.name == expected:
        return []
    if host.name != queried:
        now = f"is a CNAME leading to {host.name}"
    elif host.status is dns.Status.FOUND:
        now = f"has address records of its own ({', '.join(host.records[:4])})"
    else:
        return []  # no records at all: policy-host-missing says what to publish
    return [warning(codes.PAGES_CNAME_MISMATCH,
                    f"{queried} should be a CNAME to {expected} (pages.owner is {owner}), but it {now}; "
                    "the policy may then come from somewhere other than this repository's Pages site",
                    f"publish {queried}. CNAME {expected}. in place of the records there (`mta-sts-pages records` prints it)")]
