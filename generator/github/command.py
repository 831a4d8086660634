"""`pages setup` and `pages status`: the config's domains, one after the
other, each with its own repository (pages.py does the work)."""

from __future__ import annotations

from typing import TextIO

from generator.check.targets import Targets
from generator.config import Config, DomainConfig
from generator.errors import UsageError
from generator.findings import Severity
from generator.github.api import GitHub, GitHubError
from generator.github.pages import HEALTH_REFUSED, Setup, read_site, site_findings
from generator.records import to_bind
from generator.site import config_files, site_files
from generator.split import domain_configs

# Rate limits are waited out for --wait, and at least this long.
MIN_RATE_LIMIT_WAIT = 60.0


def chosen(config: Config, domains: list[str]) -> list[DomainConfig]:
    """The domains asked for (all by default, each once, named as `check`
    reads them: any case, a trailing dot, U-labels), each with a repository."""
    wanted = Targets(tuple(domains), None, config)
    wanted.validate()
    picked = [target.config for _, target in wanted.numbered()]
    lacking = [d.domain for d in picked if d.repository is None]
    if lacking:
        raise UsageError(f"{', '.join(lacking)}: set pages.owner (or pages.repository) in {config.file}: "
                         "it names the repository of the site and the CNAME target")
    return picked


def setup(config: Config, domains: list[str], *, wait: float, out: TextIO, err: TextIO) -> int:
    """Exit status: 0 when every domain is set up or waits only for its
    certificate, 1 when GitHub refused something or a certificate failed."""
    picked = chosen(config, domains)
    runner = Setup(GitHub(wait=max(wait, MIN_RATE_LIMIT_WAIT)), wait=wait, progress=lambda line: print(line, file=err, flush=True))
    failed = False
    own_config = domain_configs(config) if any(domain.content == "config" for domain in picked) else None
    for domain in picked:
        files = config_files(domain, own_config(domain)) if own_config and domain.content == "config" else site_files(domain)
        outcome = runner.domain(domain, files)
        failed |= outcome.problem is not None
        for line in outcome.lines():
            print(line, file=out)
        if outcome.left and outcome.problem is None:
            print("\n  Publish these DNS records next (the _mta-sts TXT last, once the policy is served; see README):\n", file=out)
            print("".join(f"    {line}\n" for line in to_bind([domain]).splitlines()), file=out)
        if domain.verification:
            print("  pages.verification: GitHub has no API for verifying a domain; publish its _github-pages-challenge record "
                  "(mta-sts-pages records) and press Verify under the owner's Settings > Pages", file=out)
    return 1 if failed else 0


def status(config: Config, domains: list[str], *, out: TextIO) -> int:
    """GitHub's view of each site, and the findings it gives; exit 1 on an
    error finding or a site the token cannot read."""
    client = GitHub(wait=MIN_RATE_LIMIT_WAIT)
    failed = False
    health = True  # until the token is refused it: one refusal holds for every repository
    for domain in chosen(config, domains):
        try:
            view = read_site(client, domain.repository, health=health, unasked=HEALTH_REFUSED)
            health = health and view.health_note != HEALTH_REFUSED
        except GitHubError as refused:
            print(f"{domain.domain}: {domain.repository}: {refused}", file=out)
            failed = True
            continue
        for line in view.lines(domain.domain):
            print(line, file=out)
        for finding in site_findings(view, domain):
            failed |= finding.severity is Severity.ERROR
            print(f"  {finding.severity}: [{finding.code}] {finding.message}\n    fix: {finding.fix}", file=out)
    return 1 if failed else 0
