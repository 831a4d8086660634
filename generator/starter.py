"""`init`: a commented starter `mta-sts.yml`."""

from __future__ import annotations

from pathlib import Path

from generator.config import SCHEMA_FILE, json_schema_text, loads
from generator.errors import UsageError
from generator.names import InvalidName, normalize_mx_pattern, normalize_policy_domain
from generator.render import render
from generator.tlsrpt import InvalidRua, check_rua


def live_mx(domain: str, nameservers: list[str], timeout: float = 10.0) -> list[str]:
    """The domain's MX hosts from DNS, in preference order, for a starter
    policy that matches them; asked the way `check` asks."""
    import asyncio

    from generator.check.dns import NO_SUCH_NAME, Resolver, Status
    from generator.check.options import parse_nameserver

    try:
        name = normalize_policy_domain(domain)
    except InvalidName as exc:
        raise UsageError(f"DOMAIN {domain!r} {exc}") from None
    resolver = Resolver(tuple(parse_nameserver(n) for n in nameservers), timeout)

    async def lookup():
        try:
            async with asyncio.timeout(timeout):
                return await resolver.lookup(name, "MX")
        finally:
            resolver.close()  # its socket belongs to this event loop

    try:
        answer = asyncio.run(lookup())
    except TimeoutError:
        raise UsageError(f"the MX lookup for {name} took longer than {timeout:g} s; give the MX hosts with --mx") from None
    if answer.resolver_failed:
        raise UsageError(f"the DNS resolver could not be asked ({answer.detail}); give one that answers with --nameserver, or the MX hosts with --mx")
    if answer.status is Status.FAILED:
        raise UsageError(f"could not look up the MX records of {name} ({answer.detail}); give them with --mx")
    if answer.detail == NO_SUCH_NAME:
        raise UsageError(f"{name} does not exist in DNS (the resolver answered NXDOMAIN); check the spelling (or the resolver), or give the MX patterns with --mx")
    hosts = list(dict.fromkeys(host for _, host in answer.records if host))
    if not hosts:
        raise UsageError(f"{name} has no MX host; give the MX patterns with --mx")
    return hosts


def starter_config(domain: str, mx: list[str], rua: list[str], mode: str, owner: str | None) -> str:
    """Render the starter config; each flag is checked and named in errors."""
    problems = []
    try:
        domain = normalize_policy_domain(domain)
    except InvalidName as exc:
        problems.append(f"DOMAIN {domain!r} {exc}")
    patterns = []
    for pattern in mx:
        try:
            patterns.append(normalize_mx_pattern(pattern))
        except InvalidName as exc:
            problems.append(f"--mx {pattern!r} {exc}")
    for uri in rua:
        try:
            check_rua(uri)
        except InvalidRua as exc:
            problems.append(f"--rua {uri!r} {exc}")
    if problems:
        raise UsageError("\n".join(problems))
    text = render("mta-sts.yml.j2", domain=domain, mx=patterns, rua=rua, mode=mode, owner=owner, schema_file=SCHEMA_FILE)
    loads(text, file="starter config")  # the starter must itself be valid
    return text


def write_starter(path: Path, text: str) -> list[Path]:
    """Write the starter config, then the JSON Schema its first line names
    beside it unless a file of that name is there (a user's file is never
    replaced); returns the files written."""
    written = []
    for target, content in ((path, text), (path.parent / SCHEMA_FILE, json_schema_text())):
        try:
            with open(target, "x", encoding="utf-8", newline="\n") as handle:
                handle.write(content)
        except FileExistsError:
            if target == path:
                raise UsageError(f"{path} already exists; remove it or choose another --output") from None
            continue
        except OSError as exc:
            raise UsageError(f"cannot write {target}: {exc.strerror}") from None
        written.append(target)
    return written
