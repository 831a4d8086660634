"""`dns diff` and `dns apply`: per domain, read the zone, decide what may be
published now, plan with octoDNS, check the plan, print, apply.

Exit code: 0 when DNS matches the config (after apply: when everything was
published and reads back), 1 when changes are pending (diff), or an id was
held back or a change does not read back (apply), 2 when a domain could not
be handled.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TextIO

from generator.check.https import POLICY_PATH
from generator.check.options import CheckOptions
from generator.check.targets import Targets
from generator.config import Config, DomainConfig
from generator.dnspublish import octo
from generator.dnspublish.order import served_policy
from generator.dnspublish.owned import (
    Owned,
    Planned,
    conflicts,
    desired_sets,
    owned_records,
    planned,
    shares,
    sts_record,
    unsafe,
)
from generator.errors import ConfigError, DnsError, UsageError
from generator.terminal import LinesForTerminal

IN_SYNC, PENDING, FAILED = 0, 1, 2


def select(config: Config, names: list[str]) -> list[DomainConfig]:
    """The config's domains named (all by default, each once) that have a `dns:` section."""
    wanted = Targets(tuple(names), None, config)
    wanted.validate()  # a name that is no domain, or not in the config, is a usage error
    chosen = [target.config for _, target in wanted.numbered()]
    if names:
        for domain in chosen:
            if domain.dns is None:
                raise UsageError(f"{domain.domain} has no dns: section with a provider in {config.file}; see README, Publishing the DNS records automatically")
        return chosen
    chosen = [d for d in chosen if d.dns is not None]
    if not chosen:
        raise UsageError(f"no domain in {config.file} has a dns: section; see README, Publishing the DNS records automatically")
    return chosen


def run(config: Config, names: list[str], *, apply: bool, force: bool, options: CheckOptions, out: TextIO, err: TextIO,
        rewrite_files: bool = False) -> int:
    domains = select(config, names)
    octo.require_octodns()
    # Zone values, provider errors and octoDNS's log lines are the servers' text.
    out, err = LinesForTerminal(out), LinesForTerminal(err)
    worst = IN_SYNC
    with _octodns_warnings(err):
        for domain in domains:
            try:
                code = _domain(domain, apply=apply, force=force, rewrite_files=rewrite_files, options=options, out=out, err=err)
            except (DnsError, ConfigError) as exc:
                out.flush()
                for line in exc.lines():
                    err.write(f"error: {domain.domain}: {line}\n")
                if apply and not getattr(exc, "applying", False):
                    err.write(f"{domain.domain}: nothing was changed\n")
                code = FAILED
            worst = max(worst, code)
    return worst


def _domain(domain: DomainConfig, *, apply: bool, force: bool, rewrite_files: bool, options: CheckOptions, out: TextIO, err: TextIO) -> int:
    dns = domain.dns
    if apply and not rewrite_files and octo.rewrites_files(octo.provider_class(dns)):
        raise DnsError(f"{dns.provider_class} rewrites its zone files whole: the records this tool does not own keep their values, "
                       "but comments, order and quoting in those files are lost. Run `dns apply --rewrite-files` to accept that, "
                       "or print the records with `records --format octodns` and edit the file yourself")
    # One instance reads the zone, another plans and applies: a provider that
    # caches what it read (octodns-bind's zone files) would otherwise plan
    # against its cache and hide that it writes whole zones from a plan.
    zone, existing = octo.read_zone(octo.load_provider(dns), dns.zone)
    provider = octo.load_provider(dns)
    owned = owned_records(domain)
    problems = conflicts(existing, owned)
    if problems:
        raise DnsError("; ".join(problems))

    sts = sts_record(owned)
    current = shares(existing, owned)
    live = current[sts.key].mine
    held = None
    if live != (sts.value,):
        if force:
            err.write(f"warning: --force: {domain.domain}: publishing id {domain.id} WITHOUT checking that "
                      f"https://{domain.policy_host}{POLICY_PATH} serves the new policy; a sender that fetches the old one "
                      f"now keeps it for up to its max_age\n")
        else:
            served = served_policy(domain, options)
            held = None if served.ok else served.detail
    publish = [o for o in owned if not (held is not None and o is sts)]

    plan, set_changes = octo.plan_zone(provider, zone, desired_sets(publish, current))
    changes = planned(set_changes, publish)
    reasons = [r for r in map(unsafe, changes) if r]
    if reasons:
        listed = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
        raise DnsError(f"refusing octoDNS's plan for {dns.zone}: {listed}. A provider that writes whole zones "
                       "from a plan (octoDNS's zone-file provider) cannot leave the other records alone; use `records --format octodns` "
                       "or `records` and edit the zone yourself")

    where = f"zone {dns.zone}, {dns.provider_class}"
    if not changes and held is None:
        out.write(f"{domain.domain}: in sync ({where})\n")
        _retire_note(domain, out)
        return IN_SYNC
    waits = "; the new _mta-sts id waits for the new policy" if held is not None else ""
    out.write(f"{domain.domain}: {_count(len(changes))} {'to make' if apply else 'pending'}{waits} ({where})\n")
    for change in changes:
        out.write(describe(change) + "\n")
    if held is not None:
        out.write(_held(domain, sts, live, held, apply))
    unseen: list[str] = []
    if apply and changes:
        octo.apply_plan(provider, plan)
        unseen = _read_back(dns, publish)
        out.write(f"{domain.domain}: applied {_count(len(changes))}\n")
        if unseen:
            err.write(f"warning: {domain.domain}: the provider took the changes, but reading the zone back does not show "
                      f"{', '.join(unseen)}; run `mta-sts-pages dns diff` later (some providers take a while), or see why the "
                      f"server dropped it (an RFC 2136 server ignores a CNAME beside other records)\n")
    _retire_note(domain, out)
    return PENDING if held is not None or unseen or not apply else IN_SYNC


def _read_back(dns, publish: list[Owned]) -> list[str]:
    """The published records the zone does not show when read again."""
    _, now = octo.read_zone(octo.load_provider(dns), dns.zone)
    return [f"{o.fqdn}. {o.type} {o.value}" for o in publish if o.value not in (now[o.key].values if o.key in now else ())]


def _count(n: int) -> str:
    return f"{n} change{'' if n == 1 else 's'}"


def _shown(values) -> str:
    return ", ".join(f'"{v}"' for v in values) if values else "(none)"


def describe(planned_change: Planned) -> str:
    """One change as the owned values before and after; other values at the name are not shown (they stay)."""
    change, record = planned_change.change, planned_change.record
    before, after = planned_change.before.mine, planned_change.after.mine
    name = f"{record.fqdn}."
    if change.type == "TXT":
        before_text, after_text = _shown(before), _shown(after)
    else:
        before_text, after_text = ", ".join(before) or "(none)", ", ".join(after)
    if not before:
        return f"  + {name} {change.after.ttl} {change.type} {after_text}"
    ttl = f" (TTL {change.before.ttl} -> {change.after.ttl})" if change.before.ttl != change.after.ttl else ""
    return f"  ~ {name} {change.type} {before_text} -> {after_text}{ttl}"


def _held(domain: DomainConfig, sts: Owned, live: tuple[str, ...], reason: str, applied: bool) -> str:
    now = f"stays {_shown(live)}" if live else "is not published yet"
    return (f"  = {sts.fqdn}. TXT {now}: {domain.policy_host} does not serve the built policy yet ({reason}).\n"
            f"    RFC 8461 §8.1: the id changes only once the new policy is served, or senders cache the old one for max_age.\n"
            f"    Deploy the site, then run `mta-sts-pages dns apply`{' again' if applied else ''} to publish \"{sts.value}\".\n")


def _retire_note(domain: DomainConfig, out: TextIO) -> None:
    if domain.policy.mode == "none":
        out.write(f"  note: mode none retires MTA-STS for {domain.domain} (RFC 8461 §8.3): keep this policy and its _mta-sts "
                  f"record published for at least the max_age of the policy it replaced, so every cached policy expires; then "
                  f"remove the _mta-sts record and the site by hand (dns apply never deletes records)\n")


class _ToStream(logging.Handler):
    def __init__(self, stream: TextIO) -> None:
        super().__init__(logging.WARNING)
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        # octoDNS's loggers share no prefix (Zone, Record, <Provider>[id]); its files do.
        source = "octoDNS: " if "octodns" in record.pathname else "warning: "
        self.stream.write(f"{source}{record.getMessage()}\n")


@contextlib.contextmanager
def _octodns_warnings(err: TextIO) -> Iterator[None]:
    """octoDNS logs its warnings (a provider's fallbacks, skipped records);
    they go to stderr, marked as octoDNS's, not as bare lines."""
    root = logging.getLogger()
    handler = _ToStream(err)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
