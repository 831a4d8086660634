"""The DNS records a domain needs, as BIND zone lines, JSON or octoDNS YAML."""

from __future__ import annotations

import re
from typing import NamedTuple

import yaml

from generator.config import DomainConfig
from generator.policy import render_sts_record
from generator.tlsrpt import render_tlsrpt_record

TTL = 3600
MAX_TXT_STRING = 255  # one <character-string> (RFC 1035 §3.3)


# A NamedTuple, not a frozen dataclass: Python 3.11 compiles each of a
# dataclass's methods from source when the module is imported, and every
# command's start-up imports this one (README, Performance).
class Record(NamedTuple):
    name: str  # absolute, without the trailing dot
    type: str
    value: str
    ttl: int = TTL


def records_for(domain: DomainConfig) -> list[Record]:
    """The domain's records in the order to publish them: GitHub's
    domain-verification TXT record when its code is given, the `mta-sts`
    CNAME to GitHub Pages when the owner is known (Pages needs both before
    it issues the certificate), `_smtp._tls` TXT when TLS-RPT is configured,
    and last `_mta-sts` TXT, which goes live only once the policy is served
    (RFC 8461 §8.1)."""
    ttl = domain.ttl or TTL
    records = []
    if domain.verification:
        # Verifying the domain for the owner covers its immediate subdomains, mta-sts included.
        records.append(Record(f"_github-pages-challenge-{domain.owner}.{domain.domain}", "TXT", domain.verification, ttl))
    if domain.owner:
        records.append(Record(domain.policy_host, "CNAME", f"{domain.owner}.github.io.", ttl))
    if domain.tlsrpt_rua:
        records.append(Record(f"_smtp._tls.{domain.domain}", "TXT", render_tlsrpt_record(domain.tlsrpt_rua), ttl))
    records.append(Record(f"_mta-sts.{domain.domain}", "TXT", render_sts_record(domain.id), ttl))
    return records


def txt_strings(value: str) -> list[str]:
    """Split a TXT value into <character-string>s of at most 255 bytes.

    The value is ASCII (validation guarantees it), so bytes and characters
    coincide and a cut never lands inside a character.
    """
    return [value[i:i + MAX_TXT_STRING] for i in range(0, len(value), MAX_TXT_STRING)] or [""]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bind_line(record: Record) -> str:
    if record.type == "TXT":
        rdata = " ".join(_quote(s) for s in txt_strings(record.value))
    else:
        rdata = record.value
    return f"{record.name}.\t{record.ttl}\tIN\t{record.type}\t{rdata}"


def to_bind(domains: list[DomainConfig] | tuple[DomainConfig, ...]) -> str:
    """Zone file lines in the order to publish them, the `_mta-sts` record
    set apart under a line that says when."""
    blocks = []
    for domain in domains:
        *others, sts = records_for(domain)
        lines = [f"; {domain.domain}: MTA-STS mode {domain.policy.mode}, policy id {domain.id}"]
        lines += [bind_line(r) for r in others]
        lines += [f"; after https://{domain.policy_host}/.well-known/mta-sts.txt serves the policy:", bind_line(sts)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def to_json(domains: list[DomainConfig] | tuple[DomainConfig, ...]) -> str:
    data = [
        {
            "domain": d.domain,
            "policy_id": d.id,
            "records": [
                {"name": r.name, "type": r.type, "ttl": r.ttl, "value": r.value}
                | ({"strings": txt_strings(r.value)} if r.type == "TXT" else {})
                for r in records_for(d)
            ],
        }
        for d in domains
    ]
    import json  # here: `build` and `records --format bind` load this module too

    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def zone_of(domain: DomainConfig) -> str:
    """The zone that holds the domain's records: `dns.zone`, else the domain."""
    return domain.dns.zone if domain.dns is not None else domain.domain


def relative_name(name: str, zone: str) -> str:
    """``name`` relative to ``zone`` ('' for the apex), as octoDNS writes names."""
    return "" if name == zone else name.removesuffix("." + zone)


def octodns_value(record: Record) -> str:
    """The value as octoDNS holds it: a TXT value's ';' escaped as '\\;'
    (octoDNS's YAML format reads an unescaped ';' as an error)."""
    return record.value.replace(";", "\\;") if record.type == "TXT" else record.value


def _natural(name: str) -> list:
    # octoDNS's YamlProvider insists on its natural sort order of names.
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"([0-9]+)", name)]


def to_octodns(domains: list[DomainConfig] | tuple[DomainConfig, ...]) -> str:
    """One octoDNS zone YAML document per zone (the records of every domain in it)."""
    zones: dict[str, dict[str, list[dict]]] = {}
    for domain in domains:
        zone = zones.setdefault(zone_of(domain), {})
        for record in records_for(domain):
            data = {"ttl": record.ttl, "type": record.type, "value": octodns_value(record)}
            zone.setdefault(relative_name(record.name, zone_of(domain)), []).append(data)
    documents = []
    for zone, names in zones.items():
        body = {name: names[name][0] if len(names[name]) == 1 else sorted(names[name], key=lambda d: d["type"])
                for name in sorted(names, key=_natural)}
        documents.append(f"# zone {zone}.: octoDNS YamlProvider file {zone}.yaml (escaped_semicolons: true)\n"
                         + yaml.safe_dump(body, explicit_start=True, sort_keys=False, default_flow_style=False))
    return "".join(documents)
