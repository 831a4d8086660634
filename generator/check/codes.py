"""Every finding code `check` can report, with its severity and meaning.

Check modules build findings only from the constants below, so a code cannot
be emitted without being listed here, and docs/findings.md is tested
against :data:`CODES`. The parsers' codes (`policy-*`, `sts-*`, `tlsrpt-*`)
reach the report unchanged; they are listed here for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    name: str
    severity: str  # as documented: "error", "warning", "info" or e.g. "error / warning"
    meaning: str


CODES: dict[str, Code] = {}


def _code(name: str, severity: str, meaning: str) -> str:
    CODES[name] = Code(name, severity, meaning)
    return name


# DNS
DNS_LOOKUP_FAILED = _code("dns-lookup-failed", "error", "A DNS lookup failed (SERVFAIL, REFUSED, unreachable server, a bad reply over TCP, a CNAME loop): the answer is unknown.")
DNS_TIMEOUT = _code("dns-timeout", "error", "No name server answered a DNS lookup within its limit (half of `--timeout`); the rest of the check goes on.")
STS_RECORD_MISSING = _code("sts-record-missing", "error", "No `v=STSv1` TXT record at `_mta-sts.<domain>`: senders see no MTA-STS.")
STS_RECORD_MULTIPLE = _code("sts-record-multiple", "error", "More than one `v=STSv1` record: senders must then ignore MTA-STS.")
STS_RECORD_CNAME = _code("sts-record-cname", "info", "`_mta-sts.<domain>` is a CNAME; it was followed as senders do.")
STS_RECORD_SPLIT = _code("sts-record-split", "info", "The TXT record is split into several strings; they were joined as senders do.")
TLSRPT_RECORD_MISSING = _code("tlsrpt-record-missing", "warning", "No `v=TLSRPTv1` record at `_smtp._tls.<domain>`: nobody receives TLS failure reports.")
TLSRPT_RECORD_MULTIPLE = _code("tlsrpt-record-multiple", "error", "More than one `v=TLSRPTv1` record: senders must then send no reports.")
MX_RECORDS_MISSING = _code("mx-records-missing", "warning", "The domain has no MX host (or a null MX), so the policy protects nothing.")
POLICY_HOST_MISSING = _code("policy-host-missing", "error", "`mta-sts.<domain>` has no address, so senders cannot fetch the policy.")

# HTTPS policy fetch
POLICY_CONNECT_FAILED = _code("policy-connect-failed", "error", "No TCP connection to the policy host on port 443.")
POLICY_TLS_FAILED = _code("policy-tls-failed", "error", "The TLS handshake with the policy host failed (not a certificate problem).")
POLICY_CERT_UNTRUSTED = _code("policy-cert-untrusted", "error", "The policy host's certificate does not chain to a trusted root (self-signed, missing intermediate).")
POLICY_CERT_NAME = _code("policy-cert-name", "error", "The policy host's certificate does not name `mta-sts.<domain>`.")
POLICY_CERT_EXPIRED = _code("policy-cert-expired", "error", "The policy host's certificate has expired or is not valid yet.")
POLICY_CERT_EXPIRING = _code("policy-cert-expiring", "warning", "The policy host's certificate expires in under 14 days.")
POLICY_REDIRECT = _code("policy-redirect", "error", "The policy URL answers with a redirect, which senders must not follow.")
POLICY_NOT_FOUND = _code("policy-not-found", "error", "The policy URL answers 404: the file is not deployed (often Jekyll dropped `.well-known`).")
POLICY_HTTP_STATUS = _code("policy-http-status", "error", "The policy URL answers with a status other than 200.")
POLICY_CONTENT_TYPE = _code("policy-content-type", "error", "The policy is not served as `text/plain`; many senders reject it.")
POLICY_HTTP_INVALID = _code("policy-http-invalid", "error", "The HTTP response is malformed or cut short.")
POLICY_FETCH_TIMEOUT = _code("policy-fetch-timeout", "error", "The domain's deadline passed before the whole policy arrived.")

# Policy file (from the parser `validate` uses)
POLICY_TOO_LARGE = _code("policy-too-large", "error", "The policy is over 64 KiB (by Content-Length or while streaming); senders stop reading there.")
_code("policy-encoding", "error", "The policy is not UTF-8 text.")
_code("policy-empty", "error", "The policy file is empty.")
_code("policy-syntax", "error", "A line is not `key: value`, or holds a stray carriage return.")
_code("policy-version-missing", "error", "No `version: STSv1` line.")
_code("policy-version-invalid", "error", "The version is not `STSv1`.")
_code("policy-version-duplicate", "error", "`version` appears more than once.")
_code("policy-version-not-first", "warning", "`version` is not on the first line (Google and others expect it there).")
_code("policy-mode-missing", "error", "No `mode` line.")
_code("policy-mode-invalid", "error", "The mode is not `enforce`, `testing` or `none`.")
_code("policy-mode-duplicate", "error", "`mode` appears more than once.")
_code("policy-max-age-missing", "error", "No `max_age` line.")
_code("policy-max-age-invalid", "error", "`max_age` is not a whole number of seconds from 0 to 31557600.")
_code("policy-max-age-duplicate", "error", "`max_age` appears more than once.")
_code("policy-mx-missing", "error / warning", "No `mx` line: an error in enforce and testing, a warning in mode none (Stalwart rejects it).")
_code("policy-mx-invalid", "error", "An `mx` value is not a host name or a one-label wildcard.")
_code("policy-mx-case", "info", "An `mx` value has capitals; senders compare names case-insensitively.")
_code("policy-unknown-key", "warning", "An unknown key: senders ignore it (RFC 8461 §3.2), so it has no effect.")
_code("policy-blank-line", "warning", "A blank line: the RFC grammar has none and some senders stop there.")
_code("policy-lf-line-endings", "info", "LF line ends: accepted by every sender, though RFC 8461 writes CRLF.")
_code("policy-front-matter", "error / warning", "Jekyll front matter opens the policy: an error when served (Jekyll did not build the site), a warning in a file (`validate --policy`), which Pages strips when Jekyll builds it.")
_code("policy-not-a-policy-file", "error", "Mostly not policy lines (an HTML page, prose): the first few problems and this one are reported.")

# `_mta-sts` and `_smtp._tls` records (from the parsers `validate` uses)
_code("sts-record-version", "error", "The `_mta-sts` record does not begin with `v=STSv1`.")
_code("sts-record-syntax", "error", "A field of the `_mta-sts` record is not `name=value`, repeats, or lacks the `;` before it.")
_code("sts-id-missing", "error", "The `_mta-sts` record has no `id=`.")
_code("sts-id-invalid", "error", "The id is not 1-32 letters and digits.")
_code("sts-record-extension", "warning", "An extension field: senders ignore it (RFC 8461 §3.1).")
_code("tlsrpt-record-version", "error", "The `_smtp._tls` record does not begin with `v=TLSRPTv1`.")
_code("tlsrpt-record-syntax", "error", "A field of the `_smtp._tls` record is not `name=value`, or lacks the `;` before it.")
_code("tlsrpt-rua-missing", "error", "The TLS-RPT record has no `rua=`.")
_code("tlsrpt-rua-invalid", "error", "A report URI is not a usable `mailto:` or `https:` URI.")
_code("tlsrpt-rua-repeated", "warning", "`rua=` appears more than once; list the URIs in one field.")
_code("tlsrpt-record-extension", "warning", "An extension field in the TLS-RPT record; senders ignore it.")
_code("tlsrpt-rua-one-label", "warning", "A report URI whose host is one label (`mailto:x@localhost`): valid, but unreachable over the internet (a config refuses it).")

# MX coverage
MX_NOT_COVERED = _code("mx-not-covered", "error / warning", "An MX host matches no policy `mx` pattern: an error in enforce (mail to it fails), a warning in testing.")
MX_PATTERN_UNUSED = _code("mx-pattern-unused", "warning", "A policy `mx` pattern matches none of the domain's MX hosts.")

# Drift against the config (--config)
POLICY_DIFFERS = _code("policy-differs", "error", "The served policy is not the one `build` renders from the config.")
ID_STALE = _code("id-stale", "error", "The DNS id is not the config's id: senders keep a cached old policy.")
TLSRPT_DIFFERS = _code("tlsrpt-differs", "warning", "The published TLS-RPT report URIs are not the config's.")

# GitHub Pages traps
PAGES_CAA_BLOCKS = _code("pages-caa-blocks", "error", "CAA records for the policy host (RFC 8659: its own, a parent's, through CNAMEs) do not let Let's Encrypt issue: Pages can never get or renew its certificate.")
PAGES_CAA_ACCOUNT_BOUND = _code("pages-caa-account-bound", "warning", "Every CAA `issue` property that would let Let's Encrypt issue for the policy host binds it to an ACME account (RFC 8657 `accounturi`): Pages gets a certificate only if that is GitHub's own.")
PAGES_CERT_GITHUB_IO = _code("pages-cert-github-io", "error", "The policy host presents Pages' `*.github.io` certificate: the custom domain is not set (or its certificate not yet issued) in Settings > Pages.")
PAGES_WELL_KNOWN_DROPPED = _code("pages-well-known-dropped", "error", "On Pages, `/` answers 200 but the policy 404: the site was deployed without `.well-known` (no `include-hidden-files: true`, or Jekyll without the `include`).")
PAGES_CNAME_MISMATCH = _code("pages-cname-mismatch", "warning", "With `pages.owner`: `mta-sts.<domain>` does not lead to `<owner>.github.io`.")

# GitHub's own view of the Pages site (check -c, verify, monitor: when a token can read it)
GITHUB_PAGES_MISSING = _code("github-pages-missing", "error", "GitHub says the config's `pages.repository` has no Pages site.")
GITHUB_PAGES_DOMAIN = _code("github-pages-domain", "error", "GitHub's custom domain for the site is not `mta-sts.<domain>` (or none is set).")
GITHUB_PAGES_CERT_FAILED = _code("github-pages-cert-failed", "error", "GitHub reports the site's certificate as `bad_authz`, `errored`, `dns_changed` or revoked: waiting does not mend it.")
GITHUB_PAGES_CERT_PENDING = _code("github-pages-cert-pending", "warning", "GitHub has not issued the site's certificate yet.")
GITHUB_PAGES_CERT_EXPIRING = _code("github-pages-cert-expiring", "warning", "GitHub reports the site's certificate expires in under 14 days (it renews while the CNAME and CAA let it).")
GITHUB_PAGES_HTTP = _code("github-pages-http", "warning", "GitHub does not enforce HTTPS for the site.")
GITHUB_PAGES_HEALTH = _code("github-pages-health", "warning", "GitHub's DNS health check flags the custom domain (a proxy in front, not a CNAME to `<owner>.github.io`, CAA or HTTPS errors).")

# SMTP (--smtp)
SMTP_NOT_CHECKED = _code("smtp-not-checked", "info", "MX certificates were not checked (run with `--smtp`).")
SMTP_CONNECT_FAILED = _code("smtp-connect-failed", "error", "No TCP connection to the MX host on port 25 (or its name has no address).")
SMTP_PROTOCOL = _code("smtp-protocol", "error", "The MX host's greeting or EHLO reply is not a success.")
SMTP_STARTTLS_MISSING = _code("smtp-starttls-missing", "error", "The MX host does not offer STARTTLS.")
SMTP_TLS_FAILED = _code("smtp-tls-failed", "error", "The STARTTLS handshake failed (not a certificate problem).")
SMTP_TLS_VERSION = _code("smtp-tls-version", "error", "The MX host offers no TLS 1.2 or later (RFC 8461 §7.2).")
SMTP_CERT_UNTRUSTED = _code("smtp-cert-untrusted", "error", "The MX certificate does not chain to a trusted root.")
SMTP_CERT_NAME = _code("smtp-cert-name", "error", "The MX certificate does not name the MX host (RFC 8461 §4.1, one-label wildcards).")
SMTP_CERT_EXPIRED = _code("smtp-cert-expired", "error", "The MX certificate has expired or is not valid yet.")
SMTP_CERT_EXPIRING = _code("smtp-cert-expiring", "warning", "The MX certificate expires in under 14 days.")
SMTP_TIMEOUT = _code("smtp-timeout", "error", "The domain's deadline passed during the SMTP conversation.")

# TLS reports (the monitor, with reports to read)
REPORTS_FAILURES = _code("reports-failures", "error", "In `enforce`, senders' TLS reports (RFC 8460) of the readiness window show failed sessions to an MX host or failed policy fetches: mail that was not delivered, even when the live check passes.")

# The check itself
INTERNAL_ERROR = _code("internal-error", "error", "A bug stopped this domain's check (the message names the exception); the other domains are still checked.")
