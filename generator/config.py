"""The `mta-sts.yml` model: its schema, its strict validation, its warnings.

Two forms share one schema: a single domain (``domain:`` at the top), or
many (``defaults:`` + ``domains:``), where each domain's sections override
the defaults key by key.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import yaml

from generator.dnspublish.model import DNS, DnsConfig, resolve_dns
from generator.errors import ConfigError, ConfigIssue
from generator.names import MAX_NAME, MAX_POLICY_DOMAIN, normalize_mx_pattern, normalize_policy_domain
from generator.policy import (
    ID_RE,
    MAX_AGE_LIMIT,
    MAX_POLICY_BYTES,
    MODES,
    Policy,
    policy_id,
    render_policy,
)
from generator.schema import INVALID, Choice, Duration, Flag, Key, ListOf, Section, Text, describe
from generator.tlsrpt import check_rua
from generator.yamlsource import Source, compose_file, compose_text

DEFAULT_MAX_AGE = 604800  # one week: long enough to protect, short enough to fix mistakes
MAX_DOMAINS = 100_000
_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"

# Patterns for the JSON Schema (see schema.Text): the slips an editor can
# flag while typing. An ASCII name gets the converter's own structure:
# LDH labels, at most max_length characters, at least two labels, the last not all
# digits (so no IP address). An internationalized name is mapped by UTS 46
# before it is checked (even '。' becomes a dot), so only its ASCII
# characters are held to the host name alphabet.
_LDH = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"


def _name_pattern(max_length: int) -> str:
    return rf"(?:(?=[A-Za-z0-9.-]{{1,{max_length}}}$)(?:{_LDH}\.)+(?![0-9]+$){_LDH}|[A-Za-z0-9.-]*[^\x00-\x7f](?:[A-Za-z0-9.-]|[^\x00-\x7f])*)"


_NAME = _name_pattern(MAX_NAME)
_POLICY_NAME = _name_pattern(MAX_POLICY_DOMAIN)
_MX_PATTERN = rf"(?:\*\.)?{_NAME}"
_RUA_PATTERN = r"(?:[Mm][Aa][Ii][Ll][Tt][Oo]:|[Hh][Tt][Tt][Pp][Ss]://(?!/))[^\s,!;]+"


def _id(value: str) -> str:
    if value == "auto" or ID_RE.match(value):
        return value
    raise ValueError("is not 'auto' or 1-32 letters and digits (no '-', '_', '.' or ':')")


# Git's branch-name rules (git check-ref-format), kept to the plain subset a
# workflow's `branches:` filter reads literally: no glob characters.
_BRANCH = r"(?!-|/|@$)(?!.*(?:\.\.|//|@\{|\.lock(?:/|$)|(?:^|/)\.|/$|\.$))[A-Za-z0-9._/@-]{1,100}"


# GitHub's repository names: letters, digits, '.', '_', '-'; never '.' or '..'.
_REPOSITORY = _OWNER + r"/(?!\.\.?$)[A-Za-z0-9._-]{1,100}"


def check_repository(value: str) -> str:
    if re.fullmatch(_REPOSITORY, value):
        owner, name = value.split("/")
        return f"{owner.lower()}/{name}"
    raise ValueError("is not OWNER/NAME of a GitHub repository (a user or organization, a slash, letters, digits, '.', '_', '-')")


def _branch(value: str) -> str:
    if re.fullmatch(_BRANCH, value):
        return value
    raise ValueError("is not a plain git branch name (letters, digits, '.', '_', '-', '@', '/'; no '..', no leading '-' or '.')")


# Minute, hour, day of month, month, day of week: the POSIX cron fields a
# workflow's `schedule:` takes, each a list of *, N, N-M, with an optional /step.
_CRON_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of month", 1, 31, ()),
                ("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
                ("day of week", 0, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")))
_CRON = r"\S+(?:[ \t]+\S+){4}"
_IMAP_URL = r"[iI][mM][aA][pP][sS]://\S+@\S+"
DEFAULT_SCHEDULE = "23 6 * * *"  # daily, off the top of the hour when GitHub's scheduler is busiest
DEFAULT_LABEL = "mta-sts"


def _cron_value(text: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if text.upper() in names:
        return names.index(text.upper()) + low
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ValueError
    return int(text)


def _cron(value: str) -> str:
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(f"has {len(fields)} fields; a cron schedule has 5: minute hour day-of-month month day-of-week, e.g. {DEFAULT_SCHEDULE!r}")
    for field, (name, low, high, names) in zip(fields, _CRON_FIELDS):
        for item in field.split(","):
            span, _, step = item.partition("/")
            try:
                if step and not (step.isascii() and step.isdigit() and int(step) > 0):
                    raise ValueError
                if span != "*":
                    first, _, last = span.partition("-")
                    if _cron_value(first, low, high, names) > (_cron_value(last, low, high, names) if last else high):
                        raise ValueError
            except ValueError:
                raise ValueError(f"has {item!r} as its {name}: use *, a number from {low} to {high}, a range N-M, a list, or */step") from None
    return " ".join(fields)


def check_label(value: str) -> str:
    if not 0 < len(value) <= 50 or value != value.strip() or "," in value or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
        raise ValueError("is not a GitHub label name (1-50 characters, no comma, no control characters, no leading or trailing space)")
    # The label reaches gh's command line, where a leading '-' reads as an
    # option, and the monitor workflow's env:, where GitHub evaluates ${{ }}.
    if value.startswith("-"):
        raise ValueError("starts with '-', which gh would read as an option")
    if "${{" in value:
        raise ValueError("holds '${{', which the monitor workflow would evaluate as a GitHub Actions expression")
    return value


def _imap_url(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme.lower() != "imaps":
        raise ValueError("is not an imaps:// URL (TLS only): imaps://USER@HOST[:PORT]/FOLDER")
    if parts.password is not None:
        raise ValueError("holds a password: put it in the environment variable MTA_STS_PAGES_IMAP_PASSWORD (a repository secret)")
    if not parts.username or not parts.hostname:
        raise ValueError("needs a user and a host: imaps://reports%40example.com@imap.example.com/INBOX")
    return value


class _ImapUrl(Text):
    """An imaps:// URL whose errors never repeat a password written into it."""

    def __init__(self) -> None:
        super().__init__(convert=_imap_url, pattern=_IMAP_URL)

    def check(self, node, path, source):
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str":
            try:
                return _imap_url(node.value)
            except ValueError as exc:
                from urllib.parse import urlsplit

                parts = urlsplit(node.value)
                shown = node.value.replace(f":{parts.password}@", ":***@") if parts.password else node.value
                source.error(path, f"{shown!r} {exc}", node)
                return INVALID
        return super().check(node, path, source)


def _verification(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9]{10,64}", value):
        return value
    raise ValueError("is not the code GitHub shows when you add the domain under Settings > Pages (letters and digits, like a8f3e1c07d9b4265e0b1c3d5f7a9e2)")


def _owner(value: str) -> str:
    if re.fullmatch(_OWNER, value):
        return value.lower()
    raise ValueError("is not a GitHub user or organization name (letters, digits, single hyphens, at most 39)")


POLICY = Section(
    {
        "mode": Key(Choice(MODES), "enforce: senders refuse unverified TLS; testing: they deliver anyway and report; none: withdraw the policy.", default="testing"),
        "mx": Key(
            ListOf(Text(convert=normalize_mx_pattern, pattern=_MX_PATTERN)),
            "One pattern per MX host: a host name, or '*.' and a parent domain to match exactly one more label. Needs at least one unless mode is none.",
        ),
        "max_age": Key(
            Duration(0, MAX_AGE_LIMIT),
            f"How long senders cache the policy: seconds, or a number with s/m/h/d/w (0..{MAX_AGE_LIMIT} seconds).",
            default="1w",
        ),
        "id": Key(
            Text(convert=_id, pattern="auto|[A-Za-z0-9]{1,32}", numbers_as_text=True),
            "'auto' derives the id from the policy bytes, so it changes exactly when the policy does; or give 1-32 letters and digits.",
            default="auto",
        ),
    },
    doc="The MTA-STS policy served at https://mta-sts.<domain>/.well-known/mta-sts.txt.",
)
TLSRPT = Section(
    {
        "rua": Key(
            ListOf(Text(convert=check_rua, pattern=_RUA_PATTERN), min_items=1),
            "Where senders send TLS reports: mailto: addresses or https: URLs (',', '!' and ';' percent-encoded).",
            required=True,
        ),
    },
    doc="SMTP TLS Reporting (RFC 8460). Omit the section for no _smtp._tls record.",
)
PAGES = Section(
    {
        "deploy": Key(Choice(("workflow", "branch")), "workflow: a GitHub Actions workflow deploys the site; branch: Pages publishes a branch.", default="workflow"),
        "owner": Key(Text(convert=_owner, pattern=_OWNER), "GitHub user or organization that owns the Pages repository; gives the mta-sts CNAME record."),
        "repository": Key(
            Text(convert=check_repository, pattern=_REPOSITORY),
            "OWNER/NAME of the repository `pages setup` creates or reuses for the domain's site. Default: <owner>/mta-sts.<domain>; its owner is pages.owner.",
        ),
        "branch": Key(Text(convert=_branch, pattern=_BRANCH), "The branch whose pushes run the generated deploy workflow (the repository's default branch).", default="main"),
        "verification": Key(
            Text(convert=_verification, pattern="[A-Za-z0-9]{10,64}"),
            "The code GitHub gives when you verify the domain for the owner (Settings > Pages > Add a domain); gives the _github-pages-challenge TXT record. Needs owner.",
        ),
        "content": Key(
            Choice(("site", "config")),
            "What pages setup pushes to the repository: site (way 1: what build writes) or config (way 2: mta-sts.yml and a workflow that builds and deploys it with the action).",
            default="site",
        ),
        "index": Key(Flag(), "true: build writes index.html, a small landing page; false: it writes none, and leaves an index.html of your own alone.", default=True),
    },
    doc="How GitHub Pages publishes the site.",
)
MONITOR_REPORTS = Section(
    {
        "imap": Key(
            _ImapUrl(),
            "imaps://USER@HOST[:PORT]/FOLDER of the mailbox the reports arrive in (read-only); the password comes from the environment variable MTA_STS_PAGES_IMAP_PASSWORD.",
        ),
        "paths": Key(ListOf(Text(), min_items=1), "Report files or folders (JSON, gzip, e-mails, mbox, Maildir), relative to where the monitor runs."),
    },
    doc="Where the monitor reads the domain's TLS reports (RFC 8460): their summary over the readiness window goes into the issue and job summary.",
)
MONITOR = Section(
    {
        "schedule": Key(Text(convert=_cron, pattern=_CRON), "When the monitor workflow checks the domain: a cron schedule in UTC (GitHub runs it at most every 5 minutes).", default=DEFAULT_SCHEDULE),
        "smtp": Key(Flag(), "Also probe every MX host's STARTTLS and certificate (needs outbound port 25, which GitHub's hosted runners may block).", default=False),
        "label": Key(Text(convert=check_label, pattern="(?!-)(?!.*\\$\\{\\{)[^,\\x00-\\x1f]{1,50}"), "The label on the issue the monitor keeps for the domain.", default=DEFAULT_LABEL),
        "reports": Key(MONITOR_REPORTS, MONITOR_REPORTS.doc),
        "promote": Key(
            Flag(),
            "Keep one pull request open that moves the domain from testing to enforce (the mode line alone) while its TLS reports say ready; needs reports.",
            default=False,
        ),
    },
    doc="Opt in to a scheduled workflow that checks the live domain and keeps one GitHub issue per domain open while it needs action.",
)
DOMAIN_KEY = Key(Text(convert=normalize_policy_domain, pattern=_POLICY_NAME), "The policy domain (the part after @ in addresses). IDNs are stored as A-labels.", required=True)

SINGLE = Section(
    {
        "domain": DOMAIN_KEY,
        "policy": Key(POLICY, POLICY.doc, required=True),
        "tlsrpt": Key(TLSRPT, TLSRPT.doc),
        "pages": Key(PAGES, PAGES.doc),
        "monitor": Key(MONITOR, MONITOR.doc),
        "dns": Key(DNS, DNS.doc),
    },
    doc="mta-sts-pages configuration for one domain.",
)
DOMAIN_ENTRY = Section(
    {
        "domain": DOMAIN_KEY,
        "policy": Key(POLICY, "Overrides defaults.policy key by key."),
        "tlsrpt": Key(TLSRPT, "Overrides defaults.tlsrpt."),
        "pages": Key(PAGES, "Overrides defaults.pages key by key."),
        "monitor": Key(MONITOR, "Overrides defaults.monitor key by key."),
        "dns": Key(DNS, "Overrides defaults.dns key by key (the provider as a whole)."),
    },
    doc="One domain; its sections override the defaults key by key.",
)
MULTI = Section(
    {
        "defaults": Key(
            Section({"policy": Key(POLICY, POLICY.doc), "tlsrpt": Key(TLSRPT, TLSRPT.doc), "pages": Key(PAGES, PAGES.doc),
                     "monitor": Key(MONITOR, MONITOR.doc), "dns": Key(DNS, DNS.doc)}),
            "Settings every domain starts from.",
        ),
        "domains": Key(ListOf(DOMAIN_ENTRY, min_items=1, max_items=MAX_DOMAINS), "The domains; each builds its own site folder.", required=True),
    },
    doc="mta-sts-pages configuration for many domains.",
)


# A NamedTuple, not a frozen dataclass: Python 3.11 compiles each of a
# dataclass's methods from source when the module is imported, and every
# command's start-up imports this one (README, Performance).
class MonitorReports(NamedTuple):
    """Where the monitor reads TLS reports."""

    imap: str | None = None
    paths: tuple[str, ...] = ()


class Monitor(NamedTuple):
    """The `monitor:` section, resolved."""

    schedule: str = DEFAULT_SCHEDULE
    smtp: bool = False
    label: str = DEFAULT_LABEL
    reports: MonitorReports | None = None
    promote: bool = False


class DomainConfig(NamedTuple):
    """Everything needed to build and check one domain, fully resolved."""

    domain: str
    policy: Policy
    policy_bytes: bytes
    id: str
    id_is_auto: bool
    tlsrpt_rua: tuple[str, ...] | None
    deploy: str
    owner: str | None
    branch: str = "main"
    verification: str | None = None  # GitHub's domain-verification code
    index: bool = True  # build writes the landing page
    ttl: int | None = None  # dns.ttl; None: 3600 for a new record, an existing one's kept
    repository: str | None = None  # OWNER/NAME of the site's repository; None without pages.owner
    content: str = "site"  # what pages setup pushes: "site" (way 1) or "config" (way 2)
    monitor: Monitor | None = None  # None: no monitor workflow
    dns: DnsConfig | None = None

    @property
    def policy_host(self) -> str:
        return f"mta-sts.{self.domain}"


class Config(NamedTuple):
    file: str
    domains: tuple[DomainConfig, ...]
    multi: bool
    warnings: tuple[ConfigIssue, ...]


def json_schema() -> dict:
    """The JSON Schema (draft 2020-12) of `mta-sts.yml`, from the same model.

    As in :func:`_build`, a key that only the multi-domain form has selects
    that form; ``if``/``then``/``else`` rather than ``oneOf`` keeps an
    editor's messages to the form the file is written in.
    """
    multi_only = [key for key in MULTI.keys if key not in SINGLE.keys]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "mta-sts-pages configuration (mta-sts.yml)",
        "description": "One domain (domain: and policy:), or many (defaults: and domains:).",
        "if": {"anyOf": [{"required": [key]} for key in multi_only]},
        "then": MULTI.json_schema(),
        "else": SINGLE.json_schema(),
    }


SCHEMA_FILE = "mta-sts.schema.json"


def json_schema_text() -> str:
    """:func:`json_schema` as :data:`SCHEMA_FILE` holds it, in the repository and beside a starter config."""
    import json  # here: only `schema` and `init` need it, and every command loads this module

    return json.dumps(json_schema(), indent=2) + "\n"


# The sections a domain entry overrides key by key; any other (tlsrpt) it replaces whole.
MERGED_SECTIONS = ("policy", "pages", "monitor", "dns")


def merged_entry(entry: dict, defaults: dict) -> dict:
    """A domain entry of a multi-domain config with the defaults merged in,
    as a one-domain config would hold it (a section neither has is absent)."""
    merged: dict = {"domain": entry["domain"]}
    for section in ("policy", "tlsrpt", "pages", "monitor", "dns"):
        own, shared = entry.get(section), defaults.get(section)
        if section in MERGED_SECTIONS and isinstance(own, dict) and isinstance(shared, dict):
            merged[section] = {**shared, **own}
        elif own is not None or shared is not None:
            merged[section] = own if own is not None else shared
    return merged


def _resolve(entry: dict, defaults: dict, path: str, source: Source) -> DomainConfig | None:
    """Merge one domain's sections over the defaults and check what spans keys."""
    domain = entry["domain"]
    merged = merged_entry(entry, defaults)
    policy = merged.get("policy", {})
    pages = merged.get("pages", {})
    tlsrpt = merged.get("tlsrpt")

    def line(*keys: str) -> int | None:
        for key in keys:
            for prefix in (path, "defaults"):
                where = f"{prefix}.{key}" if prefix else key
                if where in source.lines:
                    return source.lines[where]
        return source.lines.get(path)

    mode = policy.get("mode", "testing")
    max_age = policy.get("max_age", DEFAULT_MAX_AGE)
    mx = tuple(policy.get("mx", ()))
    where = f"{path}.policy" if path else "policy"
    if not mx and mode != "none":
        source.error(f"{where}.mx", f"mode {mode} needs at least one mx pattern", line=line("policy.mx", "policy"))
        return None
    pol = Policy(mode=mode, mx=mx, max_age=max_age)
    body = render_policy(pol)
    if len(body) > MAX_POLICY_BYTES:
        source.error(f"{where}.mx", f"the policy would be {len(body)} bytes; senders read at most {MAX_POLICY_BYTES}; use wildcard patterns",
                     line=line("policy.mx"))
        return None
    if "branch" in pages and pages.get("deploy", "workflow") == "branch":
        source.warn(f"{path}.pages.branch" if path else "pages.branch", "branch only sets the deploy workflow's trigger; with deploy: branch no workflow is written",
                    line=line("pages.branch"))
    if pages.get("content") == "config" and pages.get("deploy", "workflow") != "workflow":
        source.error(f"{path}.pages.content" if path else "pages.content",
                     "config needs deploy: workflow: the repository's workflow builds the site with the action and deploys it",
                     line=line("pages.content"))
        return None
    if "verification" in pages and "owner" not in pages and "repository" not in pages:
        source.error(f"{path}.pages.verification" if path else "pages.verification",
                     "needs pages.owner: the record is _github-pages-challenge-<owner>.<domain>", line=line("pages.verification"))
        return None
    owner = pages.get("owner")
    repository = pages.get("repository")
    if repository is not None:
        if owner is None:
            owner = repository.split("/")[0]
        elif repository.split("/")[0] != owner:
            source.error(f"{path}.pages.repository" if path else "pages.repository",
                         f"{repository} is not under pages.owner {owner}: the mta-sts CNAME points at {owner}.github.io, "
                         "so the site must be in a repository of that owner", line=line("pages.repository"))
            return None
    monitor = dict(merged["monitor"]) if "monitor" in merged else None
    if monitor is not None and "reports" in monitor:
        given = MonitorReports(monitor["reports"].get("imap"), tuple(monitor["reports"].get("paths", ())))
        monitor["reports"] = given if given.imap or given.paths else None
    if monitor is not None and monitor.get("promote") and not monitor.get("reports"):
        where = f"{path}.monitor.promote" if path else "monitor.promote"
        source.error(where, "needs monitor.reports (imap: or paths:): the pull request is opened only when the TLS reports say ready",
                     line=line("monitor.promote"))
        return None
    explicit_id = policy.get("id", "auto")
    _policy_warnings(pol, f"{where}", line, source)
    return DomainConfig(
        domain=domain,
        policy=pol,
        policy_bytes=body,
        id=policy_id(body) if explicit_id == "auto" else explicit_id,
        id_is_auto=explicit_id == "auto",
        tlsrpt_rua=tuple(tlsrpt["rua"]) if tlsrpt else None,
        deploy=pages.get("deploy", "workflow"),
        owner=owner,
        branch=pages.get("branch", "main"),
        verification=pages.get("verification"),
        index=pages.get("index", True),
        repository=repository or (f"{owner}/mta-sts.{domain}" if owner else None),
        content=pages.get("content", "site"),
        monitor=Monitor(**monitor) if monitor is not None else None,
        dns=resolve_dns(entry, defaults, path, domain, source),
        ttl=(merged.get("dns") or {}).get("ttl"),
    )


# Mail providers whose MX names are often mistyped, and the pattern to use.
_PROVIDERS = {
    "google.com": "aspmx.l.google.com",
    "googlemail.com": "googlemail.com",
    "outlook.com": "*.mail.protection.outlook.com",
}


def _near(a: str, b: str) -> bool:
    """True when ``a`` is one edit (insert, delete, change, swap) from ``b``."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _policy_warnings(pol: Policy, where: str, line, source: Source) -> None:
    if pol.mode == "enforce" and pol.max_age < 86400:
        source.warn(f"{where}.max_age", f"enforce with max_age {pol.max_age}s: under a day, a brief outage of the policy host leaves senders unprotected; use 1w or more",
                    line=line("policy.max_age", "policy.mode", "policy"))
    if pol.max_age < 3600:
        source.warn(f"{where}.max_age", f"max_age {pol.max_age}s is under an hour; Stalwart then caches the policy for a whole day instead",
                    line=line("policy.max_age", "policy"))
    if pol.mode == "none" and not pol.mx:
        source.warn(f"{where}.mx", "mode none without mx patterns: Stalwart rejects a policy with no mx line; keep the previous mx list",
                    line=line("policy.mx", "policy.mode", "policy"))
    if pol.mode == "none":
        source.warn(f"{where}.mode", "mode none withdraws MTA-STS: keep it published for at least the old max_age so caches expire, then remove the records",
                    line=line("policy.mode", "policy"))
    seen: set[str] = set()
    for i, pattern in enumerate(pol.mx):
        key = f"{where}.mx[{i}]"
        at = line(f"policy.mx[{i}]", "policy.mx")
        if pattern in seen:
            source.warn(key, f"{pattern!r} is listed twice", line=at)
        seen.add(pattern)
        if not pattern.startswith("*.") and any(p.startswith("*.") and p[2:] == pattern.partition(".")[2] for p in pol.mx):
            source.warn(key, f"{pattern!r} is already covered by a wildcard pattern", line=at)
        if pattern.startswith("*.") and pattern[2:] == "protection.outlook.com":
            source.warn(key, "Microsoft 365 MX hosts are <tenant>.mail.protection.outlook.com; use '*.mail.protection.outlook.com'", line=at)
        if pattern == "mail.protection.outlook.com":
            source.warn(key, "no MX is named mail.protection.outlook.com itself; use '*.mail.protection.outlook.com'", line=at)
        if pattern == "*.google.com":
            source.warn(key, "'*.google.com' does not match aspmx.l.google.com (a wildcard covers one label); use '*.l.google.com' or list the hosts", line=at)
        labels = pattern.split(".")
        registered = ".".join(labels[-2:])
        for provider, suggestion in _PROVIDERS.items():
            if _near(registered, provider):
                source.warn(key, f"{pattern!r} looks like a typo of {provider} (did you mean {suggestion!r}?)", line=at)


def load(path: str) -> Config:
    """Read and validate the config at ``path``; raise :class:`ConfigError` listing every problem."""
    root, source = compose_file(path)
    return _build(root, source)


def loads(text: str, file: str = "<config>") -> Config:
    """Like :func:`load`, for text already in memory."""
    return loads_with_nodes(text, file)[0]


def loads_with_nodes(text: str, file: str = "<config>") -> tuple[Config, yaml.Node]:
    """:func:`loads`, also giving the node tree the config was built from:
    its marks say where each value is written (`promote` edits by them)."""
    source = Source(file)
    root = compose_text(text, source)
    return _build(root, source), root


def _build(root: yaml.Node | None, source: Source) -> Config:
    if root is None:
        source.error("", "the config is empty; it needs at least 'domain:' and 'policy:'")
        source.raise_if_errors()
    if not isinstance(root, yaml.MappingNode):
        source.error("", f"expected a mapping with 'domain:' and 'policy:', got {describe(root)}", root)
        source.raise_if_errors()
    multi = any(isinstance(k, yaml.ScalarNode) and k.value in ("domains", "defaults") for k, _ in root.value)
    data = (MULTI if multi else SINGLE).check(root, "", source)
    if data is INVALID:
        source.raise_if_errors()
    entries = data["domains"] if multi else [data]
    defaults = data.get("defaults", {}) if multi else {}
    domains: list[DomainConfig] = []
    first_seen: dict[str, int] = {}
    repositories: dict[str, DomainConfig] = {}  # a dict, not a scan of the domains so far: 10,000 domains took 5 s
    for i, entry in enumerate(entries):
        path = f"domains[{i}]" if multi else ""
        name = entry["domain"]
        if name in first_seen:
            source.error(f"{path}.domain", f"{name} is listed twice (first as domains[{first_seen[name]}])", line=source.lines.get(f"{path}.domain"))
            continue
        first_seen[name] = i
        resolved = _resolve(entry, defaults, path, source)
        if resolved is None:
            continue
        # GitHub Pages serves one custom domain per repository.
        shared = repositories.get(resolved.repository) if resolved.repository is not None else None
        if shared is not None:
            source.error(f"{path}.pages.repository", f"{resolved.repository} is already {shared.domain}'s: a repository's Pages site "
                         "serves one custom domain, so each domain needs its own repository",
                         line=source.lines.get(f"{path}.pages.repository") or source.lines.get("defaults.pages.repository"))
            continue
        if resolved.repository is not None:
            repositories[resolved.repository] = resolved
        domains.append(resolved)
    source.raise_if_errors()
    return Config(file=source.file, domains=tuple(domains), multi=multi, warnings=tuple(source.warnings))


def fail_on_warnings(config: Config) -> None:
    """``--strict``: warnings become errors."""
    if config.warnings:
        raise ConfigError(list(config.warnings))
