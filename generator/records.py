"""The DNS records a domain needs, as BIND zone lines or JSON."""

from __future__ import annotations

from dataclasses import dataclass

from generator.config import DomainConfig
from generator.policy import render_sts_record
from generator.tlsrpt import render_tlsrpt_record

TTL = 3600
MAX_TXT_STRING = 255  # one <character-string> (RFC 1035 §3.3)


@dataclass(frozen=True)
class Record:
    name: str  # absolute, without the trailing dot
    type: str
    value: str
    ttl: int = TTL


def records_for(domain: DomainConfig) -> list[Record]:
    """`_mta-sts` TXT, `_smtp._tls` TXT when TLS-RPT is configured, and the
    `mta-sts` CNAME to GitHub Pages when the owner is known."""
    records = [Record(f"_mta-sts.{domain.domain}", "TXT", render_sts_record(domain.id))]
    if domain.tlsrpt_rua:
        records.append(Record(f"_smtp._tls.{domain.domain}", "TXT", render_tlsrpt_record(domain.tlsrpt_rua)))
    if domain.owner:
        records.append(Record(domain.policy_host, "CNAME", f"{domain.owner}.github.io."))
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
    blocks = []
    for domain in domains:
        lines = [f"; {domain.domain}: MTA-STS mode {domain.policy.mode}, policy id {domain.id}"]
        lines += [bind_line(r) for r in records_for(domain)]
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
