"""GitHub's side of a domain's Pages site: `pages setup` and `pages status`.

`setup` takes a domain from nothing to a served site, each step only when
it is not done yet (a second run writes nothing):

1. the repository ``pages.repository``: reused, or created public (Pages on
   a private repository needs a paid plan);
2. the Pages site (``build_type: workflow``, or the branch for ``deploy:
   branch``) and the custom domain ``mta-sts.<domain>``, set before any DNS
   record points there (GitHub's advice against domain takeover);
3. the content: what `build` writes (way 2, ``pages.content: config``:
   mta-sts.yml and the workflow that builds it with the action), pushed
   with git and `gh` as the credential helper (nothing when it is unchanged);
4. HTTPS: the certificate's state polled until ``--wait`` runs out, then
   ``https_enforced`` once it is issued.

`status` reads the same site back, and :func:`site_findings` turns GitHub's
view into findings for `check`, `verify` and the monitor.
"""

from __future__ import annotations

import datetime
import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from generator.check import codes
from generator.config import DomainConfig
from generator.errors import BuildError
from generator.findings import Finding, error, warning
from generator.github.api import GitHub, GitHubError, said

# Seconds between two looks at the certificate while waiting.
POLL = 10.0
READY = {"issued", "uploaded"}
# Certificate states that waiting does not mend, each with its cause and fix.
FAILED = {
    "bad_authz": "Let's Encrypt could not validate the domain: mta-sts.{domain} must be a CNAME to {owner}.github.io, "
                 "with no proxy (such as Cloudflare's orange cloud) in front and no CAA record that leaves out letsencrypt.org; "
                 "fix the DNS, then remove and set the custom domain again (or run pages setup again once GitHub retries)",
    "errored": "GitHub could not issue the certificate: check that mta-sts.{domain} is a CNAME to {owner}.github.io, "
               "that no CAA record leaves out letsencrypt.org (mta-sts-pages check lists them), then run pages setup again",
    "dns_changed": "the DNS of mta-sts.{domain} changed while the certificate was being issued: make it a CNAME to "
                   "{owner}.github.io (no proxy in front), then run pages setup again",
    "authorization_revoked": "the domain's authorization was revoked: check the CNAME to {owner}.github.io, then run pages setup again",
    "destroy_pending": "GitHub is removing the certificate (the custom domain was removed or changed): run pages setup again",
}
CERT_WARN_DAYS = 14
_PRIVATE_PLAN = ("GitHub Pages on a private repository needs a paid plan (GitHub Pro, Team or Enterprise): make "
                 "{repo} public (the policy is public anyway) or upgrade")


@dataclass
class Outcome:
    """What `pages setup` did for one domain, and what is left."""

    domain: str
    repository: str
    done: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    problem: str | None = None  # a refusal or a certificate that waiting does not mend: exit 1
    writes: int = 0

    def lines(self) -> list[str]:
        head = f"{self.domain}: {self.repository}"
        left = [f"  left: {item}" for item in self.left]
        if self.problem:
            return [f"{head}: {self.problem}", *(f"  did: {d}" for d in self.done)]
        if self.writes == 0:
            state = "repository, content, site, custom domain and HTTPS are as they should be" if not self.left else "waiting on GitHub"
            return [f"{head}: nothing changed (no write request, nothing pushed): {state}", *left]
        return [f"{head}:", *(f"  did: {d}" for d in self.done), *left]


class Setup:
    """`pages setup` for the domains of one config, sharing one client."""

    def __init__(self, client: GitHub, *, wait: float, progress: Callable[[str], None], git: str = "git",
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.wait = wait
        self.progress = progress
        self.git = git
        self.sleep = sleep
        self.clock = clock
        self._login: str | None = None

    def domain(self, config: DomainConfig, files: dict[str, bytes]) -> Outcome:
        """Set up ``config``'s site with ``files`` as its content: what `build`
        writes, or (way 2) mta-sts.yml and the workflow that builds it."""
        assert config.repository is not None
        outcome = Outcome(config.domain, config.repository)
        try:
            repo = self._repository(config, outcome)
            if config.deploy == "workflow":
                site = self._site(config, repo, outcome)
                self._custom_domain(config, site, outcome)
                self._push(config, repo, files, outcome)
            else:  # a branch deploy needs the branch before the site
                self._push(config, repo, files, outcome)
                site = self._site(config, repo, outcome)
                self._custom_domain(config, site, outcome)
            self._https(config, outcome)
        except GitHubError as failed:
            outcome.problem = str(failed)
        return outcome

    # -- 1. the repository -------------------------------------------------------------------

    def _repository(self, config: DomainConfig, outcome: Outcome) -> dict:
        full = config.repository
        found = self.client.get(f"repos/{full}", ok=(404,))
        if found.status == 200 and isinstance(found.body, dict):
            if found.body.get("private"):
                outcome.left.append(f"{full} is private: {_PRIVATE_PLAN.format(repo=full)}")
            return found.body
        owner, name = full.split("/")
        body = {"name": name, "description": f"MTA-STS policy of {config.domain} (mta-sts-pages)",
                "homepage": f"https://{config.policy_host}/", "private": False}
        if self._user() == owner.lower():
            made = self.client.request("POST", "user/repos", body, repeatable=True, ok=(422,), needs="administration: write")
        else:
            made = self.client.request("POST", f"orgs/{owner}/repos", body, repeatable=True, ok=(404, 422), needs="administration: write")
            if made.status == 404:
                user = f" nor the token's user ({self._login})" if self._login else ""
                raise GitHubError(f"cannot create {full}: {owner} is not an organization the token can create repositories in{user}; "
                                  "set pages.repository to one it may create, or create the repository by hand", 404)
        outcome.writes += 1
        if made.status == 422:  # made meanwhile (a run racing, or a lost answer): use it
            found = self.client.get(f"repos/{full}", needs="metadata: read")
            return found.body
        outcome.done.append(f"created the public repository {full} (Pages on a private repository needs a paid plan)")
        return made.body

    def _user(self) -> str | None:
        """The token's user, None for an integration (which cannot ask)."""
        if self._login is None:
            answer = self.client.get("user", ok=(401, 403))
            self._login = str(answer.body.get("login", "")).lower() if answer.status == 200 and isinstance(answer.body, dict) else ""
        return self._login or None

    # -- 2. the site and its custom domain ----------------------------------------------------------

    def _site(self, config: DomainConfig, repo: dict, outcome: Outcome) -> dict:
        full = config.repository
        wanted = {"build_type": "workflow"} if config.deploy == "workflow" else {
            "build_type": "legacy", "source": {"branch": str(repo.get("default_branch") or config.branch), "path": "/"}}
        found = self.client.get(f"repos/{full}/pages", ok=(404,), needs="pages: read")
        if found.status == 404:
            made = self.client.request("POST", f"repos/{full}/pages", wanted, repeatable=True, ok=(409, 422), needs="pages: write")
            if made.status == 422:
                raise GitHubError(f"GitHub refused to create the Pages site ({said(made.message)}): " + (
                    _PRIVATE_PLAN.format(repo=full) if repo.get("private") else "see the message"), 422)
            outcome.writes += 1
            if made.status == 201:
                outcome.done.append(f"created the Pages site ({'GitHub Actions' if config.deploy == 'workflow' else 'from the branch'})")
                found = made
            else:  # 409: enabled meanwhile; read what it is
                found = self.client.get(f"repos/{full}/pages", needs="pages: read")
        site = found.body if isinstance(found.body, dict) else {}
        if site.get("build_type") != wanted["build_type"]:
            self.client.request("PUT", f"repos/{full}/pages", wanted, needs="pages: write")
            outcome.writes += 1
            outcome.done.append(f"set the Pages source to {'GitHub Actions' if config.deploy == 'workflow' else 'the branch'}")
        return site

    def _custom_domain(self, config: DomainConfig, site: dict, outcome: Outcome) -> None:
        if str(site.get("cname") or "").lower() == config.policy_host:
            return
        self.client.request("PUT", f"repos/{config.repository}/pages", {"cname": config.policy_host}, needs="pages: write")
        outcome.writes += 1
        outcome.done.append(f"set the custom domain {config.policy_host} (before DNS points there, as GitHub advises)")

    # -- 3. the content -----------------------------------------------------------------------

    def _push(self, config: DomainConfig, repo: dict, files: dict[str, bytes], outcome: Outcome) -> None:
        from generator.writer import write_sites

        url = str(repo.get("clone_url") or "")
        if not url.lower().startswith("https://") or not url.lower().endswith(f"/{config.repository}.git".lower()):
            raise GitHubError(f"GitHub gave {config.repository} the clone address {said(url)}, not https://HOST/{config.repository}.git")
        branch = str(repo.get("default_branch") or config.branch)
        with tempfile.TemporaryDirectory(prefix="mta-sts-pages-") as temp:
            clone = Path(temp) / "clone"
            self._run_git("clone", "--quiet", "--no-tags", "--", url, str(clone), cwd=Path(temp))
            try:
                write_sites(clone, {clone: files})
            except BuildError as conflict:
                raise GitHubError(f"the files of {config.repository} conflict with the build (edit them there, or remove them): "
                                  + str(conflict).replace(str(clone), config.repository)) from None
            self._run_git("add", "--all", cwd=clone)
            if not self._run_git("status", "--porcelain", cwd=clone).strip():
                return
            # The user's own git identity when it has one; else one naming the tool.
            identity = {} if self._run_git("config", "user.email", cwd=clone, check=False).strip() else {
                f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER")
                for what, value in (("NAME", "mta-sts-pages"), ("EMAIL", "mta-sts-pages@users.noreply.github.com"))}
            self._run_git("commit", "--quiet", "-m", f"MTA-STS site of {config.domain} (mta-sts-pages build)", cwd=clone, env=identity)
            self._run_git("push", "--quiet", "--", url, f"HEAD:refs/heads/{branch}", cwd=clone, needs="contents: write and workflows: write")
        outcome.writes += 1
        outcome.done.append(f"pushed mta-sts.yml and its workflow to {branch}" if config.content == "config" else f"pushed the site `build` writes to {branch}")

    def _run_git(self, *args: str, cwd: Path, check: bool = True, needs: str | None = None, env: dict[str, str] | None = None) -> str:
        helper = f"!{shlex.quote(self.client.program)} auth git-credential"
        command = [self.git, "-c", "credential.helper=", "-c", f"credential.helper={helper}", *args]
        try:
            # No prompt for a password: gh is the credential helper, or git fails.
            run = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300,
                                 env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})})
        except FileNotFoundError:
            raise GitHubError(f"{self.git} not found: pages setup pushes the site with git") from None
        except subprocess.TimeoutExpired:
            raise GitHubError(f"git {args[0]} did not finish within 300 s") from None
        if check and run.returncode != 0:
            hint = f" (the token needs {needs})" if needs and ("403" in run.stderr or "denied" in run.stderr) else ""
            if "refusing to allow" in run.stderr and "workflow" in run.stderr:
                hint = (" (the token needs workflows: write, or a classic token the workflow scope; "
                        "a workflow's GITHUB_TOKEN can never push a workflow)")
            raise GitHubError(f"git {args[0]} failed{hint}: {said(run.stderr)}")
        return run.stdout

    # -- 4. HTTPS -------------------------------------------------------------------------------

    def _https(self, config: DomainConfig, outcome: Outcome) -> None:
        full = config.repository
        start = self.clock()
        while True:
            site = self.client.get(f"repos/{full}/pages", needs="pages: read").body
            site = site if isinstance(site, dict) else {}
            if site.get("https_enforced"):
                return
            certificate = site.get("https_certificate") if isinstance(site.get("https_certificate"), dict) else {}
            state = str(certificate.get("state") or "none yet")
            if state in FAILED:
                owner = full.split("/")[0]
                raise GitHubError(f"the certificate for {config.policy_host} is {state}: " + FAILED[state].format(domain=config.domain, owner=owner))
            if state in READY:
                tried = self.client.request("PUT", f"repos/{full}/pages", {"https_enforced": True}, ok=(400, 404), needs="pages: write")
                outcome.writes += 1
                if tried.status < 300:
                    outcome.done.append("enforced HTTPS")
                    return
            waited = self.clock() - start
            if waited + POLL > self.wait:
                outcome.left.append(f"HTTPS: the certificate for {config.policy_host} is {state}; once the DNS records are published "
                                    "(below) GitHub issues it, then run pages setup again (or with --wait 600) to enforce HTTPS")
                return
            self.progress(f"{config.policy_host}: certificate {state}, waiting ({waited:.0f} of {self.wait:.0f} s)")
            self.sleep(POLL)


@dataclass(frozen=True)
class SiteView:
    """GitHub's view of one domain's Pages site."""

    repository: str
    site: dict | None  # GET /repos/{o}/{r}/pages; None: no site
    health: dict | None = None  # the health check's "domain" object
    health_note: str | None = None  # why there is no health check to show

    def lines(self, domain: str) -> list[str]:
        head = f"{domain}: {self.repository}"
        if self.site is None:
            return [f"{head}: no Pages site (pages setup creates it)"]
        certificate = self.site.get("https_certificate") if isinstance(self.site.get("https_certificate"), dict) else {}
        expires = f", expires {certificate['expires_at']}" if certificate.get("expires_at") else ""
        out = [
            f"{head}",
            f"  build type: {self.site.get('build_type') or 'unknown'}",
            f"  custom domain: {self.site.get('cname') or '(none)'}",
            f"  certificate: {certificate.get('state') or '(none)'}{expires}",
            f"  HTTPS enforced: {'yes' if self.site.get('https_enforced') else 'no'}",
        ]
        if self.health is not None:
            out.append(f"  health check: {'; '.join(health_flags(self.health)) or 'nothing flagged'}")
        elif self.health_note:
            out.append(f"  health check: {self.health_note}")
        return out


def read_site(client: GitHub, repository: str, *, health: bool = True, unasked: str = "not asked") -> SiteView:
    """GitHub's view of the site; GitHubError when the token may not read it.

    One request for a site: GET .../pages. GitHub answers 404 both for no
    site and for a repository the token cannot see, so only a 404 costs a
    second, to tell the two apart. ``health``: also ask for GitHub's DNS
    health check (a third request, for a site with a custom domain);
    ``unasked``: the note shown when it is not asked.
    """
    found = client.get(f"repos/{repository}/pages", ok=(404,), needs="pages: read")
    if found.status == 404 or not isinstance(found.body, dict):
        client.get(f"repos/{repository}", needs="metadata: read")
        return SiteView(repository, None)
    if not health or not found.body.get("cname"):
        return SiteView(repository, found.body, health_note=None if health else unasked)
    checked = client.get(f"repos/{repository}/pages/health", ok=(202, 400, 403, 404, 422))
    if checked.status == 200 and isinstance(checked.body, dict) and isinstance(checked.body.get("domain"), dict):
        return SiteView(repository, found.body, checked.body["domain"])
    note = {202: "GitHub is still running it; ask again in a minute", 403: HEALTH_REFUSED}.get(checked.status, f"not available (HTTP {checked.status})")
    return SiteView(repository, found.body, health_note=note)


HEALTH_REFUSED = "not readable with this token (it needs Administration: write)"


# Health-check fields that flag a problem when true (or false, for the second set).
_BAD_WHEN_TRUE = {"is_proxied": "a proxy is in front (GitHub cannot issue the certificate)",
                  "is_cloudflare_ip": "it points at Cloudflare, not GitHub",
                  "is_old_ip_address": "it points at an old GitHub Pages address"}
_BAD_WHEN_FALSE = {"dns_resolves": "the name does not resolve",
                   "is_cname_to_github_user_domain": "it is not a CNAME to <owner>.github.io",
                   "is_https_eligible": "it cannot get a certificate (CAA, or not pointing at GitHub)"}


def health_flags(domain: dict) -> list[str]:
    flags = [text for name, text in _BAD_WHEN_TRUE.items() if domain.get(name) is True]
    flags += [text for name, text in _BAD_WHEN_FALSE.items() if domain.get(name) is False]
    for name in ("caa_error", "https_error", "reason"):
        if domain.get(name):
            flags.append(f"{name.replace('_', ' ')}: {said(domain[name])}")
    return flags


def site_findings(view: SiteView, config: DomainConfig, today: datetime.date | None = None) -> list[Finding]:
    """GitHub's view as findings: a missing site, another custom domain, a
    certificate failed, pending or expiring, HTTPS not enforced, what the
    health check flags."""
    fix_setup = "run mta-sts-pages pages setup (or set it in Settings > Pages)"
    if view.site is None:
        return [error(codes.GITHUB_PAGES_MISSING, f"GitHub says {view.repository} has no Pages site", fix_setup)]
    site = view.site
    found: list[Finding] = []
    cname = str(site.get("cname") or "")
    if cname.lower() != config.policy_host:
        found.append(error(codes.GITHUB_PAGES_DOMAIN, f"GitHub serves {view.repository} for the custom domain {said(cname) if cname else '(none)'}, "
                                                     f"not {config.policy_host}", fix_setup))
        return found
    certificate = site.get("https_certificate") if isinstance(site.get("https_certificate"), dict) else {}
    state = str(certificate.get("state") or "")
    owner = view.repository.split("/")[0]
    if state in FAILED:
        found.append(error(codes.GITHUB_PAGES_CERT_FAILED, f"GitHub reports the certificate for {config.policy_host} as {state}",
                           FAILED[state].format(domain=config.domain, owner=owner)))
    elif state not in READY:
        found.append(warning(codes.GITHUB_PAGES_CERT_PENDING, f"GitHub has not issued the certificate for {config.policy_host} yet "
                                                             f"(state {said(state) if state else 'none'})",
                             f"publish the mta-sts CNAME to {owner}.github.io, then run pages setup again"))
    expires = _date(certificate.get("expires_at"))
    if expires is not None:
        days = (expires - (today or datetime.date.today())).days
        if days < CERT_WARN_DAYS:
            found.append(warning(codes.GITHUB_PAGES_CERT_EXPIRING, f"GitHub reports the certificate for {config.policy_host} expires "
                                                                  f"{expires.isoformat()} ({days} days)",
                                 f"GitHub renews it while mta-sts.{config.domain} is a CNAME to {owner}.github.io; check the CNAME and CAA"))
    if not site.get("https_enforced"):
        found.append(warning(codes.GITHUB_PAGES_HTTP, f"GitHub does not enforce HTTPS for {config.policy_host}",
                             "run pages setup once the certificate is issued (or tick Enforce HTTPS in Settings > Pages)"))
    if view.health is not None:
        flags = health_flags(view.health)
        if flags:
            found.append(warning(codes.GITHUB_PAGES_HEALTH, f"GitHub's DNS health check flags {config.policy_host}: {'; '.join(flags)}",
                                 f"make mta-sts.{config.domain} a CNAME to {owner}.github.io, with no proxy in front"))
    return found


def github_findings(config: DomainConfig) -> list[Finding]:
    """:func:`site_findings` when the token can read the site; nothing when
    it cannot (a workflow's token without pages: read, another
    repository's), since the check from outside stands on its own."""
    if config.repository is None:
        return []
    try:
        # A short deadline: the check from outside must not wait long on
        # GitHub. One request a domain: no health check, whose DNS
        # questions the check from outside asks itself (CNAME, CAA).
        return site_findings(read_site(GitHub(wait=5), config.repository, health=False), config)
    except GitHubError:
        return []


def _date(value: object) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None
