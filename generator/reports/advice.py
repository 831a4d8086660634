"""Each RFC 8460 §4.3 result type: what it means, the likely cause, the fix,
and the `check` finding codes that show the same problem from outside."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Advice:
    cause: str
    fix: str
    check_codes: tuple[str, ...] = ()


_SMTP = "run `mta-sts-pages check DOMAIN --smtp`"
ADVICE: dict[str, Advice] = {
    "starttls-not-supported": Advice(
        "the MX host did not offer STARTTLS",
        f"enable STARTTLS on the MX host; {_SMTP} to confirm", ("smtp-starttls-missing",)),
    "certificate-host-mismatch": Advice(
        "the MX host's certificate does not name the host senders connected to",
        f"install a certificate naming the MX host (one-label wildcards only); {_SMTP}", ("smtp-cert-name",)),
    "certificate-expired": Advice(
        "the MX host's certificate has expired",
        f"renew the MX certificate and automate its renewal; {_SMTP}", ("smtp-cert-expired", "smtp-cert-expiring")),
    "certificate-not-trusted": Advice(
        "the MX host's certificate does not chain to a public root (self-signed, or an intermediate missing)",
        f"serve a certificate from a public CA with its full chain; {_SMTP}", ("smtp-cert-untrusted",)),
    "validation-failure": Advice(
        "the sender could not validate the MX host against the policy: often the host is not in the policy's mx list, or TLS failed below 1.2",
        "list every MX host in policy.mx and offer TLS 1.2 or later; run `mta-sts-pages check DOMAIN --config mta-sts.yml --smtp`",
        ("mx-not-covered", "smtp-tls-version", "smtp-tls-failed")),
    "sts-policy-fetch-error": Advice(
        "the sender could not fetch https://mta-sts.DOMAIN/.well-known/mta-sts.txt",
        "make the policy host answer 200 over HTTPS (custom domain set in Pages, DNS pointing there); run `mta-sts-pages check DOMAIN`",
        ("policy-host-missing", "policy-connect-failed", "policy-not-found", "policy-http-status", "policy-redirect", "policy-fetch-timeout")),
    "sts-policy-invalid": Advice(
        "the sender fetched the policy but could not parse it",
        "serve the policy `build` writes; run `mta-sts-pages check DOMAIN --config mta-sts.yml`",
        ("policy-syntax", "policy-content-type", "policy-differs")),
    "sts-webpki-invalid": Advice(
        "the policy host's HTTPS certificate was not valid for mta-sts.DOMAIN",
        "wait for or fix the Pages certificate of mta-sts.DOMAIN (Enforce HTTPS in the Pages settings); run `mta-sts-pages check DOMAIN`",
        ("policy-cert-untrusted", "policy-cert-name", "policy-cert-expired")),
    "tlsa-invalid": Advice(
        "DANE: the MX certificate matches none of the domain's TLSA records (not an MTA-STS problem)",
        "publish TLSA records matching the MX certificates, and roll them before certificate changes"),
    "dnssec-invalid": Advice(
        "DANE: the TLSA records did not validate with DNSSEC (not an MTA-STS problem)",
        "repair the zone's DNSSEC signatures or chain of trust"),
    "dane-required": Advice(
        "DANE: the sender requires DANE and found none usable (not an MTA-STS problem)",
        "publish valid TLSA records for the MX hosts"),
}
UNKNOWN = Advice("a result type RFC 8460 does not define", "read the sender's report and its additional-information")


def advice(result_type: str, domain: str | None = None) -> Advice:
    """The advice for ``result_type``, with DOMAIN filled in when it is known."""
    found = ADVICE.get(result_type, UNKNOWN)
    if domain is None:
        return found
    return Advice(found.cause.replace("DOMAIN", domain), found.fix.replace("DOMAIN", domain), found.check_codes)
