"""The Pages site of one domain: which files, with which bytes."""

from __future__ import annotations

from functools import cache

from generator import __version__
from generator.config import DomainConfig
from generator.names import to_unicode
from generator.records import records_for
from generator.release import action_ref
from generator.render import render

POLICY_PATH = ".well-known/mta-sts.txt"
WORKFLOW_PATH = ".github/workflows/mta-sts-pages.yml"
MONITOR_PATH = ".github/workflows/mta-sts-monitor.yml"
INDEX_PATH = "index.html"
DEPENDABOT_PATH = ".github/dependabot.yml"
CONFIG_PATH = "mta-sts.yml"


def site_files(domain: DomainConfig) -> dict[str, bytes]:
    """Every file of the domain's site, keyed by path relative to the site root."""
    display = to_unicode(domain.domain)
    files: dict[str, bytes] = {
        POLICY_PATH: domain.policy_bytes,
        "_config.yml": _same_for_all("_config.yml.j2"),
        ".nojekyll": b"",
        "CNAME": f"{domain.policy_host}\n".encode(),
        ".gitattributes": _same_for_all("gitattributes.j2"),
    }
    if domain.index:
        files[INDEX_PATH] = render(
            "index.html.j2",
            domain=domain,
            display_name=display if display == domain.domain else f"{display} ({domain.domain})",
            short_name=display,
            policy_text=domain.policy_bytes.decode("ascii").replace("\r\n", "\n"),
            records=records_for(domain),
            version=__version__,
        ).encode()
    if domain.deploy == "workflow":
        files[WORKFLOW_PATH] = render("pages-workflow.yml.j2", domain=domain, action=action_ref()).encode()
    if domain.monitor is not None:
        files[MONITOR_PATH] = render("monitor-workflow.yml.j2", domain=domain, action=action_ref()).encode()
    if WORKFLOW_PATH in files or MONITOR_PATH in files:
        # The workflows pin their actions by commit; Dependabot moves the pins.
        files[DEPENDABOT_PATH] = _same_for_all("dependabot.yml.j2")
    return files


def config_files(domain: DomainConfig, config: bytes) -> dict[str, bytes]:
    """Every file of a repository that holds only the domain's config (way 2,
    ``pages.content: config``): ``config`` as mta-sts.yml, the workflow that
    builds it with the action and deploys it (the cookiecutter template's,
    pinned to this release), the monitor's when the domain has one."""
    action = action_ref()
    pinned = action.commit is not None
    uses = f"{action.repository}@{action.commit} # {action.tag}" if pinned else f"{action.repository}@{action.tag}"
    files = {
        CONFIG_PATH: config,
        WORKFLOW_PATH: render("config-workflow.yml.j2", host=domain.policy_host, branch=domain.branch, uses=uses, pinned=pinned).encode(),
        DEPENDABOT_PATH: _same_for_all("dependabot.yml.j2"),
    }
    if domain.monitor is not None:
        files[MONITOR_PATH] = render("monitor-workflow.yml.j2", domain=domain, action=action).encode()
    return files


@cache
def _same_for_all(template: str) -> bytes:
    """A file that depends on no domain: rendered once per build, not once per domain."""
    return render(template).encode()
