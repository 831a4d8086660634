"""The enforce pull request the monitor keeps for a domain in testing whose
TLS reports say ready: exactly one open, from a fixed branch, changing only
the mode line of the config (the edit `promote` makes, every other byte
kept), with the evidence in its body.

- ready, no pull request: the branch is set to the default branch with the
  one-line edit, and a pull request opened;
- ready, one open: the branch is rebuilt only when the default branch's
  config changed (so the edit still applies to what is there), and the body
  updated only when the evidence (organisations, reports, sessions) changed;
- not ready (or no longer in testing), one open: a comment says why, and it
  is closed; none open: nothing but the reasons in the summary and issue;
- closed by a person (not merged): that is a "no", kept until someone
  reopens it; the monitor never opens another beside it.

The body carries a marker with the domain and a fingerprint of the
evidence: the window's dates move every day and are left out of it, so the
body changes when what it rests on does, not every morning.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from generator import markdown as md
from generator.config import loads_with_nodes
from generator.errors import MtaStsPagesError
from generator.github import issues, pulls
from generator.github.api import GitHub
from generator.policy import render_sts_record
from generator.reports import promote
from generator.reports.evidence import Evidence

_MARKER = re.compile(r"<!-- mta-sts-pages promote: domain=(\S+) evidence=([0-9a-f]+) -->")
# Put before the body of a pull request the monitor closes; one closed
# without it was closed by a person, whose "no" the monitor keeps.
CLOSED_BY_MONITOR = "<!-- mta-sts-pages promote: closed by the monitor -->"


BRANCH_PREFIX = "mta-sts-pages/enforce-"


def branch(domain: str) -> str:
    return f"{BRANCH_PREFIX}{domain}"


def marker(domain: str, evidence: str) -> str:
    return f"<!-- mta-sts-pages promote: domain={domain} evidence={evidence} -->"


def title(domain: str) -> str:
    return f"MTA-STS: move {domain} to enforce"


@dataclass(frozen=True)
class PullSync:
    """What the run did about one domain's enforce pull request."""

    domain: str
    action: str  # opened, updated, unchanged, closed, declined, not-ready, not-testing, refused
    number: int | None
    why: str = ""

    def line(self) -> str:
        pull = f"pull request #{self.number}" if self.number is not None else "no pull request"
        return {
            "opened": f"{self.domain}: the TLS reports say ready; opened {pull} to enforce",
            "updated": f"{self.domain}: the evidence changed; updated {pull}",
            "unchanged": f"{self.domain}: still ready; {pull} is up to date",
            "closed": f"{self.domain}: {self.why}; commented on and closed {pull}",
            "not-ready": f"{self.domain}: not ready to enforce ({self.why}); {pull}",
            "not-testing": f"{self.domain}: {self.why}; {pull}",
            "refused": f"{self.domain}: ready, but {self.why}",
            "declined": f"{self.domain}: ready, but someone closed {pull}; reopen it to have the monitor keep it again",
        }[self.action]


def body(evidence: Evidence, promotion: promote.Promotion, config_path: str) -> str:
    v = evidence.verdict
    domain = promotion.domains[0]
    organisations = ", ".join(md.text(o) for o in v.organisations)
    window = f"{v.window.since:%Y-%m-%d %H:%M} to {v.window.until:%Y-%m-%d %H:%M} UTC"
    record = f'_mta-sts.{domain.domain}. TXT "{render_sts_record(domain.id)}"'
    lines = [
        marker(evidence.domain, evidence.fingerprint()),
        f"The TLS reports say **{md.text(evidence.domain)}** is ready to move from `testing` to `enforce`: "
        "the verdict of `mta-sts-pages reports --ready`.",
        "",
        "| Window | Organisations | Reports | Sessions under the sts policy | Verdict |",
        "|---|---|---:|---:|---|",
        f"| {window} | {organisations} | {v.reports} | {v.sts_sessions} | ready to enforce |",
        "",
        f"The only change: `mode: testing` becomes `mode: enforce` in {md.code(config_path)} "
        f"(line {', '.join(map(str, promotion.lines))}); every other byte stays.",
        "",
        "After merging:",
        "",
        f"1. The deploy workflow builds and deploys the enforce policy; its deploy guard (`verify`) fails unless "
        f"https://{domain.policy_host}/.well-known/mta-sts.txt serves it. (When the repository holds the built site, "
        f"run `mta-sts-pages build -c {config_path} -o .`, commit and push first.)",
        "2. Then, not before (RFC 8461 §8.1), publish the new policy id; `mta-sts-pages dns apply` does it for a config "
        "with a `dns:` section:",
        "",
        md.block(record),
        "",
        f"3. `mta-sts-pages check {domain.domain} --config {config_path} --smtp`.",
    ]
    if not domain.id_is_auto:
        lines += ["", f"Warning: policy.id is fixed ({md.code(domain.id)}): change it in this pull request too, or senders "
                      "keep the cached testing policy until max_age runs out."]
    lines += ["", "---", "Kept by the mta-sts-pages monitor: it updates this description when the evidence changes, and "
                         "comments and closes this pull request if the reports stop saying ready.", ""]
    return "\n".join(lines)


def _close(client: GitHub, repo: str, evidence: Evidence, pull: pulls.Pull, why: str, reasons: list[str]) -> PullSync:
    text = "\n".join([f"Closing: {why}.", "", *reasons])
    issues.comment(client, repo, pull.number, text)
    pulls.edit_pull(client, repo, pull.number, state="closed", body=f"{CLOSED_BY_MONITOR}\n{pull.body}")
    return PullSync(evidence.domain, "closed", pull.number, why)


def _plan(text: str, config_path: str, domain: str) -> promote.Promotion:
    """The promotion of ``domain`` in the config as the default branch holds it."""
    config, root = loads_with_nodes(text.removeprefix("\ufeff"), config_path)
    target = next((d for d in config.domains if d.domain == domain), None)
    if target is None:
        raise MtaStsPagesError(f"{config_path} on the default branch has no domain {domain}")
    return promote.plan(promote.Current(Path(config_path), text, root, config), [target])


# The default branch's name, its commit (None: no such branch) and the config there (None: none).
DefaultBranch = tuple[str, str | None, pulls.File | None]


def keep_pulls(found: list[Evidence], config_path: str, client: GitHub, repo: str) -> list[PullSync]:
    """Each domain's enforce pull request in step with its evidence. The open
    pull requests are listed once (paginated) and the default branch read at
    most once, so a domain that is not ready and has none costs no request."""
    if not found:
        return []
    listed = pulls.open_pulls(client, repo, BRANCH_PREFIX)

    @cache
    def default_branch() -> DefaultBranch:
        """Read when the first ready domain needs it, and shared by the others."""
        name = pulls.default_branch(client, repo)
        sha = pulls.branch_sha(client, repo, name)
        return name, sha, pulls.read_file(client, repo, config_path, name) if sha else None

    return [_keep_pull(evidence, config_path, client, repo, listed.get(branch(evidence.domain), []), default_branch) for evidence in found]


def _keep_pull(evidence: Evidence, config_path: str, client: GitHub, repo: str, open_now: list[pulls.Pull], base_of: Callable[[], DefaultBranch]) -> PullSync:
    """Bring the domain's enforce pull request in step with ``evidence``."""
    head = branch(evidence.domain)
    existing = next(iter(open_now), None)
    if evidence.mode != "testing":
        if existing is None:
            return PullSync(evidence.domain, "not-testing", None, f"in {evidence.mode}, not testing")
        return _close(client, repo, evidence, existing, f"the domain is in {evidence.mode} already", [])
    if not evidence.verdict.ready:
        if existing is None:
            codes = ", ".join(dict.fromkeys(r.code for r in evidence.verdict.reasons))
            return PullSync(evidence.domain, "not-ready", None, f"{codes}; reasons in the job summary")
        reasons = [f"- `{r.code}`: {md.text(r.message)}" for r in evidence.verdict.reasons]
        return _close(client, repo, evidence, existing, "the TLS reports no longer say ready", reasons)
    if existing is None:
        # All of the branch's, in the one request the closed ones need: an
        # open one the list missed (it moved between pages) is still found.
        earlier = pulls.pulls_from(client, repo, head)
        existing = next((p for p in earlier if p.open), None)
        closed = [p for p in earlier if not p.open]
        if existing is None and closed and not closed[-1].merged and not closed[-1].body.startswith(CLOSED_BY_MONITOR):
            return PullSync(evidence.domain, "declined", closed[-1].number)
    base, base_sha, current = base_of()
    if current is None:
        return PullSync(evidence.domain, "refused", None, f"{config_path} is not on the default branch {base}")
    try:
        promotion = _plan(current.text, config_path, evidence.domain)
    except MtaStsPagesError as exc:  # a mode set by defaults:, a config the default branch has broken
        return PullSync(evidence.domain, "refused", None, str(exc))
    head_sha = pulls.branch_sha(client, repo, head)
    on_head = pulls.read_file(client, repo, config_path, head) if head_sha else None
    if on_head is None or on_head.text != promotion.text:
        pulls.set_branch(client, repo, head, base_sha, exists=head_sha is not None)
        pulls.write_file(client, repo, config_path, head, promotion.text, current.sha,
                         f"MTA-STS: move {evidence.domain} to enforce\n\nThe TLS reports say ready; only the mode line changes.")
    text = body(evidence, promotion, config_path)
    if existing is None:
        return PullSync(evidence.domain, "opened", pulls.create_pull(client, repo, head, base, title(evidence.domain), text))
    recorded = _MARKER.search(existing.body)
    if recorded is not None and recorded.group(2) == evidence.fingerprint():
        return PullSync(evidence.domain, "unchanged", existing.number)
    pulls.edit_pull(client, repo, existing.number, body=text)
    return PullSync(evidence.domain, "updated", existing.number)
