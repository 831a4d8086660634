"""The records `dns apply` owns, the record sets it wants, and the check that
a plan touches nothing else. Pure: plain record sets in, plain sets out.

Ownership is by value where a name is shared: at `_mta-sts` only the
``v=STSv1`` value is this tool's, at `_smtp._tls` only the ``v=TLSRPTv1``
one, so a verification string or an SPF record someone keeps there stays.
Every other record `records` prints (the `mta-sts` CNAME, GitHub's
verification TXT) is owned as a whole record set.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.config import DomainConfig
from generator.records import TTL, records_for, relative_name, zone_of

STS_TAG = "v=STSv1"
TLSRPT_TAG = "v=TLSRPTv1"
TAGS = (STS_TAG, TLSRPT_TAG)


def has_tag(value: str, tag: str) -> bool:
    """``value`` is a record of that version: the tag, then the end, ';' or a blank."""
    return value.startswith(tag) and (len(value) == len(tag) or value[len(tag)] in "; \t")


@dataclass(frozen=True)
class RecordSet:
    """One name and type of a zone: name relative to the zone ('' = apex);
    TXT values as the strings on the wire, joined."""

    name: str
    type: str
    ttl: int
    values: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)


@dataclass(frozen=True)
class Share:
    """A record set at an owned name and type, its values split: this tool's
    (``mine``) and everyone else's (``others``, which stay). ``ttl`` None: no
    such set."""

    ttl: int | None = None
    mine: tuple[str, ...] = ()
    others: tuple[str, ...] = ()


@dataclass(frozen=True)
class Owned:
    """One record this tool publishes; ``tag``: the values it owns at that
    name and type are those with this tag; None: the whole record set."""

    name: str  # relative to the zone
    fqdn: str
    type: str
    value: str
    tag: str | None
    ttl: int | None = None  # dns.ttl or --ttl; None: an existing set keeps its own, a new one gets 3600

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)

    def claims(self, value: str) -> bool:
        return self.tag is None or has_tag(value, self.tag)

    def share(self, current: RecordSet | None) -> Share:
        """``current`` (None: absent) split by ownership."""
        values = current.values if current else ()
        return Share(current.ttl if current else None,
                     tuple(v for v in values if self.claims(v)), tuple(v for v in values if not self.claims(v)))


def owned_records(domain: DomainConfig) -> list[Owned]:
    """The records `records` prints for the domain, each with its share of its name."""
    zone = zone_of(domain)
    owned = []
    for record in records_for(domain):
        tag = next((t for t in TAGS if record.type == "TXT" and has_tag(record.value, t)), None)
        owned.append(Owned(relative_name(record.name, zone), record.name, record.type, record.value, tag, domain.ttl))
    return owned


def sts_record(owned: list[Owned]) -> Owned:
    return next(o for o in owned if o.tag == STS_TAG)


def shares(existing: dict[tuple[str, str], RecordSet], owned: list[Owned]) -> dict[tuple[str, str], Share]:
    """Each owned record's set as the zone has it, split once per name."""
    return {record.key: record.share(existing.get(record.key)) for record in owned}


def conflicts(existing: dict[tuple[str, str], RecordSet], owned: list[Owned]) -> list[str]:
    """Records a CNAME rule keeps from being published (RFC 1034 §3.6.2:
    a CNAME stands alone at its name)."""
    problems = []
    for record in owned:
        others = sorted(t for (name, t) in existing if name == record.name and t != record.type)
        if record.type == "CNAME" and others:
            problems.append(f"{record.fqdn} has {', '.join(others)} records, and a CNAME cannot sit beside other records: "
                            "remove them, or remove pages.owner so this tool leaves the name alone")
        elif "CNAME" in others:
            target = existing[(record.name, "CNAME")].values[0]
            problems.append(f"{record.fqdn} is a CNAME to {target}, so it cannot hold a {record.type} record: "
                            "remove the CNAME to publish the record here, or keep it and leave the record to whoever runs that name")
    return problems


def desired_sets(owned: list[Owned], current: dict[tuple[str, str], Share]) -> dict[tuple[str, str], RecordSet]:
    """The record sets the owned records need (``current``: their sets as
    :func:`shares` split them): the values this tool does not own kept as
    they are, the TTL kept where the set exists unless one is asked for."""
    wanted = {}
    for record in owned:
        share = current[record.key]
        ttl = record.ttl or (TTL if share.ttl is None else share.ttl)
        wanted[record.key] = RecordSet(record.name, record.type, ttl, tuple(sorted((*share.others, record.value))))
    return wanted


@dataclass(frozen=True)
class SetChange:
    """A record set before and after (None: absent)."""

    name: str
    type: str
    before: RecordSet | None
    after: RecordSet | None


@dataclass(frozen=True)
class Planned:
    """A change of octoDNS's plan, the owned record it is to (None: none of
    them), and its sides split by that record's ownership, once."""

    change: SetChange
    record: Owned | None
    before: Share
    after: Share


def planned(changes: list[SetChange], owned: list[Owned]) -> list[Planned]:
    """octoDNS's changes, each with its owned record looked up and its sides split."""
    by_key = {record.key: record for record in owned}
    found = []
    for change in changes:
        record = by_key.get((change.name, change.type))
        sides = (record.share(change.before), record.share(change.after)) if record else (Share(), Share())
        found.append(Planned(change, record, *sides))
    return found


def unsafe(planned_change: Planned) -> str | None:
    """Why a planned change must not be made, or None: it must be to an owned
    record set, delete nothing, and keep every value this tool does not own."""
    change = planned_change.change
    where = f"{change.name or '@'} {change.type}"
    if planned_change.record is None:
        return f"it would change {where}, a record this tool does not own"
    if change.after is None:
        return f"it would delete {where}; this tool never deletes records"
    if change.before is not None and sorted(planned_change.before.others) != sorted(planned_change.after.others):
        return f"it would change values of {where} that this tool does not own"
    return None
