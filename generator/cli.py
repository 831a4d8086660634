"""The command line: parse arguments, call the core, print, map errors to exit codes.

Exit codes: 0 fine; 1 a checked artefact (policy, record, live domain) has
errors; 2 the config or the command line is wrong.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperCommand

from generator import __version__
from generator.errors import MtaStsPagesError, UsageError
from generator.terminal import lines_for_terminal

app = typer.Typer(
    name="mta-sts-pages",
    help="Publish MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) on GitHub Pages from one YAML file.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The config file.")]
StrictOption = Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")]
NameserverOption = Annotated[Optional[list[str]], typer.Option("--nameserver", metavar="IP[:PORT]", envvar="MTA_STS_PAGES_NAMESERVER", help="Ask this DNS server instead of the system's resolver (repeatable).")]
CaFileOption = Annotated[Optional[Path], typer.Option("--ca-file", metavar="PEM", envvar="MTA_STS_PAGES_CA_FILE", help="Trust only the CA certificates in this file, not the system's.", dir_okay=False)]
SummaryOption = Annotated[Optional[Path], typer.Option("--summary", metavar="FILE", help="Also append the result as Markdown to FILE (e.g. $GITHUB_STEP_SUMMARY).", dir_okay=False)]
DomainArgument = Annotated[Optional[str], typer.Argument(metavar="[DOMAIN]", help="The domain, with --policy; with --config, only this one of its domains.", show_default=False)]
PolicyFileOption = Annotated[Optional[Path], typer.Option("--policy", metavar="FILE", help="The built policy file, for a repository that holds the site rather than the config.", dir_okay=False)]
IdOption = Annotated[Optional[str], typer.Option("--id", help="The built policy's id, with --policy. Default: the automatic id of its bytes.")]
ConnectToOption = Annotated[Optional[list[str]], typer.Option("--connect-to", metavar="HOST:PORT:ADDR:PORT", envvar="MTA_STS_PAGES_CONNECT_TO", help="Connect to ADDR:PORT instead of HOST:PORT, like curl (repeatable; an empty HOST or PORT matches any).")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mta-sts-pages {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = None,
) -> None:
    """Publish MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) on GitHub Pages from one YAML file."""


def _err(line: str) -> None:
    # Errors quote servers and senders too (a provider's reply, a mailbox's).
    typer.echo(lines_for_terminal(line.split("\n")), err=True)


def _load(config: Path, strict: bool):
    from generator.config import fail_on_warnings, load

    loaded = load(str(config))
    _warn(loaded)
    if strict:
        fail_on_warnings(loaded)
    return loaded


def _warn(loaded) -> None:
    for warning in loaded.warnings:
        _err(f"warning: {warning}")


@app.command()
def build(
    config: ConfigOption = Path("mta-sts.yml"),
    output: Annotated[Path, typer.Option("--output", "-o", help="The site folder (one subfolder per domain for a multi-domain config).")] = Path("site"),
    strict: StrictOption = False,
    adopt: Annotated[bool, typer.Option("--adopt", help="Take over files already in the folder that hold exactly what the build writes (a hand-written .well-known/mta-sts.txt, say); show how the others differ.")] = False,
) -> None:
    """Write the GitHub Pages site: policy, Jekyll config, CNAME, landing page, workflow."""
    from generator.build import build as run_build
    from generator.records import to_bind

    loaded = _load(config, strict)
    plans = run_build(loaded, output, adopt)
    for plan in plans:
        changes = len(plan.write) + len(plan.remove) + len(plan.adopted)
        state = f"{len(plan.write)} written, {len(plan.unchanged)} unchanged" + (f", {len(plan.remove)} removed" if plan.remove else "") \
            + (f", {len(plan.adopted)} adopted ({', '.join(plan.adopted)})" if plan.adopted else "")
        typer.echo(f"{plan.folder}: {state}" if changes or len(plans) < 20 else f"{plan.folder}: up to date")
    typer.echo("\nSet these DNS records, in this order (see README):\n")
    typer.echo(to_bind(loaded.domains), nl=False)


TtlOption = Annotated[Optional[int], typer.Option("--ttl", metavar="S", help="The records' TTL in seconds, e.g. 300 while testing (default: the config's dns.ttl, else 3600; dns keeps an existing record's own).", show_default=False)]


def _with_ttl(loaded, ttl: int | None):
    """The config with every domain's TTL set to ``--ttl``, when given."""
    from generator.dnspublish.model import MAX_TTL, MIN_TTL

    if ttl is None:
        return loaded
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise UsageError(f"--ttl {ttl}: give seconds from {MIN_TTL} to {MAX_TTL}")
    return loaded._replace(domains=tuple(d._replace(ttl=ttl) for d in loaded.domains))


class RecordFormat(str, Enum):
    bind = "bind"
    json = "json"
    octodns = "octodns"


@app.command()
def records(
    domains: Annotated[Optional[list[str]], typer.Argument(metavar="[DOMAIN]...", help="Domains of the config to print. Default: every domain.", show_default=False)] = None,
    config: ConfigOption = Path("mta-sts.yml"),
    format: Annotated[RecordFormat, typer.Option("--format", "-f", metavar="FORMAT", help="bind: zone file lines; json: for scripts; octodns: octoDNS zone YAML.")] = RecordFormat.bind,
    strict: StrictOption = False,
    ttl: TtlOption = None,
) -> None:
    """Print the DNS records to publish: _mta-sts TXT, _smtp._tls TXT, mta-sts CNAME."""
    from generator.records import to_bind, to_json, to_octodns

    loaded = _with_ttl(_load(config, strict), ttl)
    render = {RecordFormat.bind: to_bind, RecordFormat.json: to_json, RecordFormat.octodns: to_octodns}[format]
    typer.echo(render(_domains_of(loaded, domains) if domains else loaded.domains), nl=False)


@app.command()
def validate(
    files: Annotated[Optional[list[Path]], typer.Argument(metavar="[FILE]...", help="Config files to check, as pre-commit passes them; every one is checked.", show_default=False)] = None,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="The config file (default mta-sts.yml when nothing else is given).")] = None,
    policy: Annotated[Optional[Path], typer.Option("--policy", help="Lint an existing policy file instead.")] = None,
    txt: Annotated[Optional[str], typer.Option("--txt", help="Lint an existing _mta-sts TXT value, e.g. 'v=STSv1; id=2026'.")] = None,
    tlsrpt: Annotated[Optional[str], typer.Option("--tlsrpt", help="Lint an existing _smtp._tls TXT value.")] = None,
    strict: StrictOption = False,
) -> None:
    """Check configs, or an existing policy file / TXT record, with the parser `check` uses."""
    from generator.errors import ConfigError
    from generator.lint import fails, lint_artefacts, load_configs

    findings = lint_artefacts(policy, txt, tlsrpt)
    linting = policy is not None or txt is not None or tlsrpt is not None
    paths = [*(files or []), *([config] if config is not None else [])] or ([] if linting else [Path("mta-sts.yml")])
    loaded, issues = load_configs(paths)
    for path, cfg in loaded:
        for warning in cfg.warnings:
            _err(f"warning: {warning}")
        if strict:
            from generator.config import fail_on_warnings

            try:
                fail_on_warnings(cfg)
            except ConfigError as exc:
                issues += exc.issues
                continue
        typer.echo(f"{path}: valid ({_count(len(cfg.domains), 'domain')}, {_count(len(cfg.warnings), 'warning')})")
    for finding in findings:
        typer.echo(lines_for_terminal([f"{finding.severity}: [{finding.code}] {finding.message}", *([f"  fix: {finding.fix}"] if finding.fix else [])]))
    if issues:
        raise ConfigError(issues)
    if fails(findings, strict):
        raise typer.Exit(1)
    if linting:
        typer.echo("no errors")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


class _PlainUsage(TyperCommand):
    """Typer writes a required argument as {NAME} in the usage line; the
    convention (click's, man pages') is a bare NAME."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in super().collect_usage_pieces(ctx)]


@app.command(cls=_PlainUsage)
def init(
    domain: Annotated[str, typer.Argument(metavar="DOMAIN", help="The mail domain, e.g. example.com.")],
    mx: Annotated[Optional[list[str]], typer.Option("--mx", help="An MX pattern (repeat for each). Default: the domain's live MX records.")] = None,
    rua: Annotated[Optional[list[str]], typer.Option("--rua", help="A TLS-RPT report URI (repeat for each).")] = None,
    mode: Annotated[str, typer.Option("--mode", help="testing, enforce or none.")] = "testing",
    owner: Annotated[Optional[str], typer.Option("--owner", help="GitHub user or organization of the Pages repository.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the config.")] = Path("mta-sts.yml"),
    nameserver: Annotated[Optional[list[str]], typer.Option("--nameserver", metavar="IP[:PORT]", help="Look the MX records up at this DNS server instead of the system's resolver (repeatable).")] = None,
) -> None:
    """Write a commented starter mta-sts.yml (never over an existing file)."""
    from generator.starter import live_mx, starter_config, write_starter

    if mode not in ("testing", "enforce", "none"):
        raise UsageError(f"--mode {mode!r} is not testing, enforce or none")
    if output.exists() or output.is_symlink():
        raise UsageError(f"{output} already exists; remove it or choose another --output")
    if nameserver and mx:
        raise UsageError("--nameserver is for looking up the MX hosts; it has no use with --mx")
    text = starter_config(domain, mx or live_mx(domain, nameserver or []), rua or [], mode, owner)
    written = write_starter(output, text)
    typer.echo(f"wrote {' and '.join(map(str, written))}; next: mta-sts-pages build -c {output}")


@app.command()
def schema() -> None:
    """Print the JSON Schema (draft 2020-12) of mta-sts.yml, for editors and check-jsonschema."""
    from generator.config import json_schema_text

    typer.echo(json_schema_text(), nl=False)


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


def _output_format(json_flag: bool, format: OutputFormat | None) -> OutputFormat:
    """``--json`` is ``--format json``; given with another format it asks for two."""
    if json_flag and format not in (None, OutputFormat.json):
        raise UsageError(f"--json and --format {format.value} ask for two formats; give one")
    return OutputFormat.json if json_flag else format or OutputFormat.text


@app.command()
def check(
    domains: Annotated[Optional[list[str]], typer.Argument(metavar="[DOMAIN]...", help="Domains to check. Default: every domain of --config (or ./mta-sts.yml).", show_default=False)] = None,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="Also compare the live policy and id with this config (drift).", dir_okay=False)] = None,
    domains_file: Annotated[Optional[Path], typer.Option("--domains-file", help="Check the domains listed in FILE, one a line ('#' starts a comment).", dir_okay=False)] = None,
    json_lines: Annotated[bool, typer.Option("--json", help="Print one JSON object per domain as each finishes (JSON lines); same as --format json.")] = False,
    format: Annotated[Optional[OutputFormat], typer.Option("--format", "-f", metavar="FORMAT", help="text: for people; json: JSON lines; markdown: GitHub-flavoured, for job summaries and issues.", show_default=False)] = None,
    summary: SummaryOption = None,
    smtp: Annotated[bool, typer.Option("--smtp", help="Also connect to every MX host on port 25 and verify its STARTTLS certificate.")] = False,
    nameserver: NameserverOption = None,
    ca_file: CaFileOption = None,
    connect_to: ConnectToOption = None,
    # generator.check.options' DEFAULT_TIMEOUT and DEFAULT_CONCURRENCY, spelled out so start-up
    # does not import generator.check; test_check_units.py holds them equal.
    timeout: Annotated[float, typer.Option("--timeout", metavar="S", help="Deadline for all the checks of one domain, in seconds.")] = 20.0,
    concurrency: Annotated[int, typer.Option("--concurrency", help="How many domains are checked at once (at most 1000).")] = 50,
    shard: Annotated[Optional[str], typer.Option("--shard", metavar="K/N", help="Check only the K-th of N stable slices of the domains (by a hash of each name), to split a list across machines.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", metavar="N", help="Worker processes that share the domains (default: one per core; 1 with --smtp, so that each MX host is probed once).", show_default=False)] = None,
) -> None:
    """Check live deployments as a sender does: DNS, the HTTPS policy, MX coverage, drift, STARTTLS."""
    from generator.check.command import Output, check_command, default_workers
    from generator.check.options import make_options
    from generator.check.targets import Slice, Targets, parse_shard
    from generator.github import token_given

    chosen = _output_format(json_lines, format)
    if config is None and not domains and domains_file is None and Path("mta-sts.yml").is_file():
        config = Path("mta-sts.yml")
    options = make_options(nameservers=nameserver or [], ca_file=ca_file, connect_to=connect_to or [], timeout=timeout, concurrency=concurrency, smtp=smtp,
                           github=config is not None and token_given())
    part = parse_shard(shard) if shard is not None else Slice()
    loaded = _load(config, strict=False) if config is not None else None
    targets = Targets(tuple(domains or ()), domains_file, loaded, part)
    code = check_command(targets, options, workers=default_workers(options) if workers is None else workers,
                         output=Output(chosen.value, summary), out=sys.stdout, err=sys.stderr)
    raise typer.Exit(code)


# TLS reports (generator/reports/): `reports` reads them, `promote` acts on them.
ReportSources = Annotated[Optional[list[Path]], typer.Argument(metavar="[SOURCE]...", help="Report files (.json, .json.gz), e-mails (.eml), mboxes, Maildirs or folders (searched recursively).", show_default=False)]
IMAP_HELP = "Also read an IMAP mailbox over TLS, read-only: imaps://user@host[:port]/Folder."
IMAP_PASSWORD_HELP = "The environment variable holding the IMAP password."
REPORTS_PANEL = "TLS reports"
ORGANISATIONS_HELP = "Readiness: how many organisations must have reported."
SESSIONS_HELP = "Readiness: how many sessions must have been checked against the sts policy."
ImapOption = Annotated[Optional[str], typer.Option("--imap", metavar="URL", help=IMAP_HELP)]
ImapPasswordOption = Annotated[str, typer.Option("--imap-password-env", metavar="NAME", help=IMAP_PASSWORD_HELP)]
ImapCaOption = Annotated[Optional[Path], typer.Option("--ca-file", metavar="PEM", help="Trust only the CA certificates in this file for --imap, not the system's.", dir_okay=False)]
SinceOption = Annotated[Optional[str], typer.Option("--since", metavar="DATE", help="Only reports whose date range ends after DATE (2026-11-01, or a date-time).")]
UntilOption = Annotated[Optional[str], typer.Option("--until", metavar="DATE", help="Only reports whose date range starts before the end of DATE; also the end of the readiness window (default: now).")]
WindowOption = Annotated[int, typer.Option("--window-days", min=1, metavar="DAYS", help="Readiness: how many days before --until the reports must cover.")]
OrganisationsOption = Annotated[int, typer.Option("--min-organisations", min=1, metavar="N", help=ORGANISATIONS_HELP)]
SessionsOption = Annotated[int, typer.Option("--min-sessions", min=0, metavar="N", help=SESSIONS_HELP)]
DomainOption = Annotated[Optional[list[str]], typer.Option("--domain", "-d", help="Only this policy domain (repeatable); with --ready, a domain of the config.")]


def _read_reports(sources, imap, imap_password_env, ca_file, since, until, window_days=None):
    """With ``window_days`` (`promote`, the monitor, `reports --ready`:
    verdicts over the readiness window), a mailbox is searched from the
    window's first day (IMAP SEARCH SINCE): older mail cannot hold a report
    of the window."""
    from generator.reports.command import Inputs, period_of, read_reports, window_start

    inputs = Inputs(tuple(sources or ()), imap, imap_password_env, ca_file)
    if not inputs.given:
        return None, None
    period = period_of(since, until)
    mailbox_from = window_start(period, window_days) if window_days is not None else None

    def progress(files):
        if len(files) < 100 or not sys.stderr.isatty():
            return files
        return _progress_bar(files)

    return period, read_reports(inputs, period, os.environ, progress, mailbox_from)


def _progress_bar(files):
    with typer.progressbar(files, label="reading reports", file=sys.stderr) as bar:
        yield from bar


@app.command()
def reports(
    sources: ReportSources = None,
    imap: ImapOption = None,
    imap_password_env: ImapPasswordOption = "MTA_STS_PAGES_IMAP_PASSWORD",
    ca_file: ImapCaOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document (same as --format json).")] = False,
    format: Annotated[Optional[OutputFormat], typer.Option("--format", "-f", metavar="FORMAT", help="text for a terminal (the default), json for scripts, markdown for a CI job summary.", show_default=False)] = None,
    ready: Annotated[bool, typer.Option("--ready", help="Say whether the config's domains are ready to enforce; exit 1 with the reasons when not.")] = False,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="The config whose MX patterns --ready checks (default mta-sts.yml).", dir_okay=False)] = None,
    domain: DomainOption = None,
    window_days: WindowOption = 14,
    min_organisations: OrganisationsOption = 2,
    min_sessions: SessionsOption = 20,
) -> None:
    """Sum RFC 8460 TLS reports per domain, with causes and fixes; --ready: is enforce safe?"""
    import datetime as dt

    from generator.reports import render
    from generator.reports.command import domain_names, select_domains, verdicts
    from generator.reports.ready import Criteria
    from generator.reports.summary import summarize

    if not sources and imap is None:
        raise UsageError("give report files or folders, or --imap imaps://user@host/Folder")
    loaded = _load(config or Path("mta-sts.yml"), strict=False) if ready else None
    # Before any report is read: a --domain typo fails before a mailbox is opened.
    judged = select_domains(loaded, domain or []) if loaded is not None else None
    wanted = domain_names(domain) if domain else []
    shown = set(wanted) if domain else None
    # --ready judges the window: without --since asking for older reports, a
    # mailbox is searched from its first day, as promote and the monitor do.
    period, collection = _read_reports(sources, imap, imap_password_env, ca_file, since, until,
                                       window_days if ready and since is None else None)
    found = None
    if judged is not None:
        criteria = Criteria(window_days, min_organisations, min_sessions)
        found = verdicts(judged, collection, period.until or dt.datetime.now(dt.UTC), criteria)
    summaries = [s for s in summarize(collection.reports) if shown is None or s.domain in shown]
    reported = {s.domain for s in summaries}
    unreported = [name for name in wanted if name not in reported]
    chosen = _output_format(json_out, format)
    writer = {OutputFormat.text: render.to_text, OutputFormat.json: render.to_json, OutputFormat.markdown: render.to_markdown}[chosen]
    typer.echo(writer(summaries, collection, found, unreported), nl=False)
    if found is not None:
        raise typer.Exit(0 if all(v.ready for v in found) else 1)
    raise typer.Exit(1 if collection.errors else 0)


@app.command()
def promote(
    sources: ReportSources = None,
    config: ConfigOption = Path("mta-sts.yml"),
    domain: Annotated[Optional[list[str]], typer.Option("--domain", "-d", help="The domain to promote (repeatable; needed when the config has several).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Promote without reports, or although they say not ready.")] = False,
    imap: ImapOption = None,
    imap_password_env: ImapPasswordOption = "MTA_STS_PAGES_IMAP_PASSWORD",
    ca_file: ImapCaOption = None,
    until: UntilOption = None,
    window_days: WindowOption = 14,
    min_organisations: OrganisationsOption = 2,
    min_sessions: SessionsOption = 20,
) -> None:
    """Change mode: testing to mode: enforce in the config, once the TLS reports say it is safe."""
    import datetime as dt

    from generator.reports import promote as promotion
    from generator.reports.command import select_domains, verdicts
    from generator.reports.ready import Criteria
    from generator.reports.render import error_text, verdict_text

    current = promotion.read(config)  # once: the config judged is the text edited
    loaded = current.config
    _warn(loaded)
    if len(loaded.domains) > 1 and not domain:
        raise UsageError(f"{config} has {len(loaded.domains)} domains; name the one(s) to promote with --domain")
    targets = select_domains(loaded, domain or [])
    plan = promotion.plan(current, targets)
    period, collection = _read_reports(sources, imap, imap_password_env, ca_file, None, until, window_days)
    if collection is None:
        if not force:
            raise UsageError("give the TLS reports (files, folders or --imap) so that promote can check they say enforce is safe, or --force")
        _err("WARNING: --force: promoting without reading any TLS report; mail to an MX host with a bad certificate will bounce under enforce")
    else:
        for error in collection.errors:
            _err(error_text(error))
        found = verdicts(targets, collection, period.until or dt.datetime.now(dt.UTC), Criteria(window_days, min_organisations, min_sessions))
        for verdict in found:
            typer.echo(verdict_text(verdict))
        if not all(v.ready for v in found):
            if not force:
                _err("promote: not changed; fix the reasons above, or use --force to promote anyway")
                raise typer.Exit(1)
            _err("WARNING: --force: promoting although the TLS reports say not ready; mail to the failing MX hosts will bounce under enforce")
    promotion.write(plan)
    typer.echo("\n".join(promotion.next_steps(plan, str(config))))


def _expected(domain: str | None, config: Path | None, policy: Path | None, sts_id: str | None) -> list:
    """What the deployment should serve: every domain (or DOMAIN) of --config
    (default ./mta-sts.yml), or DOMAIN's built --policy file with its --id."""
    from generator.verify import domain_from_site

    if config is None and policy is None:
        # As build, records and check: the config in the current folder.
        if not Path("mta-sts.yml").is_file():
            raise UsageError("give --config FILE, or DOMAIN and --policy FILE (there is no mta-sts.yml here)")
        config = Path("mta-sts.yml")
    if config is not None and policy is not None:
        raise UsageError("give --config FILE, or DOMAIN and --policy FILE, not both")
    if policy is not None:
        if domain is None:
            raise UsageError("--policy needs the DOMAIN it is for")
        return [domain_from_site(domain, policy, sts_id)]
    if sts_id is not None:
        raise UsageError("--id goes with --policy; with --config the config gives the id")
    return _domains_of(_load(config, strict=False), [domain] if domain else [])


def _with_repository(expected, repository: str, policy: Path | None):
    """The --policy domain with its Pages site's repository, for GitHub's view."""
    from generator.config import check_repository

    if policy is None:
        raise UsageError("--pages-repository goes with --policy; with --config, pages.repository gives it")
    try:
        return expected._replace(repository=check_repository(repository))
    except ValueError as exc:
        raise UsageError(f"--pages-repository {repository!r} {exc}") from None


def _domains_of(loaded, names: list[str]) -> list:
    """The config's domains named (each must be in it), in the order given, each once; all when none is named."""
    from generator.check.targets import Targets

    wanted = Targets(tuple(names), None, loaded)
    wanted.validate()
    return [t.config for _, t in wanted.numbered()]


@app.command()
def verify(
    domain: DomainArgument = None,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="Expect the policy and id this config builds (default mta-sts.yml, unless --policy is given).", dir_okay=False)] = None,
    policy: PolicyFileOption = None,
    sts_id: IdOption = None,
    wait: Annotated[float, typer.Option("--wait", metavar="S", envvar="MTA_STS_PAGES_WAIT", help="Keep trying, with a pause that doubles, for up to this many seconds (5 minutes by default; each attempt that is tried again is shown on stderr).")] = 300.0,
    summary: SummaryOption = None,
    nameserver: NameserverOption = None,
    ca_file: CaFileOption = None,
    connect_to: ConnectToOption = None,
    timeout: Annotated[float, typer.Option("--timeout", metavar="S", help="Deadline for one fetch, in seconds.")] = 20.0,
) -> None:
    """After a deploy: fail unless the policy URL serves the built policy, byte for byte."""
    from generator.check.options import make_options, seconds
    from generator.markdown import append
    from generator.verify import markdown, retry_line, text
    from generator.verify import verify as run_verify

    seconds(wait, "--wait", zero=True)
    from generator.github import token_given

    expected = _expected(domain, config, policy, sts_id)
    options = make_options(nameservers=nameserver or [], ca_file=ca_file, connect_to=connect_to or [], timeout=timeout, concurrency=1, smtp=False,
                           github=config is not None and token_given())
    verdicts = run_verify(expected, options, wait, lambda verdict, pause: _err(retry_line(verdict, pause)))
    typer.echo("\n\n".join(text(v) for v in verdicts))
    if summary is not None:
        append(summary, "\n".join(markdown(v) for v in verdicts))
    raise typer.Exit(0 if all(v.served for v in verdicts) else 1)


@app.command()
def monitor(
    domain: DomainArgument = None,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="Check the domains of this config, drift included; its monitor: section gives the label and smtp (default mta-sts.yml, unless --policy is given).", dir_okay=False)] = None,
    policy: PolicyFileOption = None,
    sts_id: IdOption = None,
    label: Annotated[Optional[str], typer.Option("--label", help="The issues' label. Default: each domain's monitor.label, else mta-sts.")] = None,
    smtp: Annotated[bool, typer.Option("--smtp", help="Also probe every MX host's STARTTLS (default: each domain's monitor.smtp).")] = False,
    summary: SummaryOption = None,
    nameserver: NameserverOption = None,
    ca_file: CaFileOption = None,
    connect_to: ConnectToOption = None,
    timeout: Annotated[float, typer.Option("--timeout", metavar="S", help="Deadline for all the checks of one domain, in seconds.")] = 20.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the report and what would be done about each domain's issue, without gh.")] = False,
    # The TLS-report options get their own help panel: Rich sizes each
    # panel's columns apart, and beside --connect-to's long metavar an IMAP
    # URL or the password variable's name would be cut at 80 columns.
    reports: Annotated[Optional[list[Path]], typer.Option("--reports", metavar="SOURCE", rich_help_panel=REPORTS_PANEL, help="Read TLS reports from this file or folder (repeatable). Default: the config's monitor.reports.")] = None,
    imap: Annotated[Optional[str], typer.Option("--imap", metavar="URL", rich_help_panel=REPORTS_PANEL, help=IMAP_HELP)] = None,
    imap_password_env: Annotated[str, typer.Option("--imap-password-env", metavar="NAME", rich_help_panel=REPORTS_PANEL, help=IMAP_PASSWORD_HELP)] = "MTA_STS_PAGES_IMAP_PASSWORD",
    imap_ca_file: Annotated[Optional[Path], typer.Option("--imap-ca-file", metavar="PEM", rich_help_panel=REPORTS_PANEL, help="Trust only the CA certificates in this file for --imap, not the system's.", dir_okay=False)] = None,
    promote: Annotated[bool, typer.Option("--promote", rich_help_panel=REPORTS_PANEL, help="Keep one pull request open that moves each domain in testing whose reports say ready to enforce (default: each domain's monitor.promote).")] = False,
    pages_repository: Annotated[Optional[str], typer.Option("--pages-repository", metavar="OWNER/NAME", help="With --policy: the repository of the domain's Pages site, whose GitHub view (certificate, custom domain, HTTPS) joins the report when a token can read it. With --config, pages.repository gives it.")] = None,
    window_days: Annotated[int, typer.Option("--window-days", min=1, metavar="DAYS", rich_help_panel=REPORTS_PANEL, help="Readiness: how many days up to now the reports must cover.")] = 14,
    min_organisations: Annotated[int, typer.Option("--min-organisations", min=1, metavar="N", rich_help_panel=REPORTS_PANEL, help=ORGANISATIONS_HELP)] = 2,
    min_sessions: Annotated[int, typer.Option("--min-sessions", min=0, metavar="N", rich_help_panel=REPORTS_PANEL, help=SESSIONS_HELP)] = 20,
) -> None:
    """Check the live domains and keep one GitHub issue per domain in step (uses gh); with TLS reports, show them and open the enforce pull request."""
    from generator import markdown as md
    from generator.check.markdown import document
    from generator.check.options import Target, make_options
    from generator.config import check_label
    from generator.markdown import append
    from generator.github import token_given
    from generator.github.api import GitHub
    from generator.monitor import dry_run as plan_monitor
    from generator.monitor import monitor as run_monitor
    from generator.reports.ready import Criteria

    if label is not None:
        try:
            check_label(label)
        except ValueError as exc:
            raise UsageError(f"--label {label!r} {exc}") from None
    expected = _expected(domain, config, policy, sts_id)
    if pages_repository is not None:
        expected = [_with_repository(d, pages_repository, policy) for d in expected]
    targets = [Target(d.domain, d) for d in expected]
    options = make_options(nameservers=nameserver or [], ca_file=ca_file, connect_to=connect_to or [], timeout=timeout,
                           concurrency=50, smtp=smtp, github=token_given() and any(d.repository for d in expected))
    if dry_run:
        from generator.check.report import human

        planned = plan_monitor(targets, options, label=label, smtp=smtp)
        typer.echo("\n".join(human(report) for report, _ in planned))
        typer.echo("\nWithout --dry-run:\n" + "\n".join(plan for _, plan in planned))
        if summary is not None:
            append(summary, document([report for report, _ in planned]) + "\n")
        return
    wants = promote or any(d.monitor is not None and d.monitor.promote for d in expected)
    reading = _monitor_reports(expected, reports, imap, imap_password_env, imap_ca_file, Criteria(window_days, min_organisations, min_sessions))

    def checked(checks, sections):
        # The report goes into the summary before GitHub is asked, so a failure there keeps it.
        shown = "".join(f"\n### {md.text(name)}\n\n{text}" for name, text in sections.items())
        append(summary, document(checks) + "\n" + (f"\n## TLS reports\n{shown}" if shown else ""))

    synced = run_monitor(targets, options, GitHub(), label=label, smtp=smtp, checked=checked if summary is not None else None,
                         reports=reading, promote=promote, config_path=_repository_path(config) if config is not None and wants else None)
    for item in synced:
        typer.echo(lines_for_terminal([item.line()]))
    if summary is not None:
        append(summary, "".join(f"- {s.line()}\n" for s in synced))


def _monitor_reports(expected, sources, imap, password_env, ca_file, criteria):
    """The TLS reports the monitor reads: the command line's, else those of
    the domains' monitor.reports (one mailbox at most); None without any."""
    import datetime as dt

    from generator.monitor import Reading
    from generator.reports.render import error_text

    if not sources and imap is None:
        given = [d.monitor.reports for d in expected if d.monitor is not None and d.monitor.reports is not None]
        sources = [Path(p) for p in dict.fromkeys(p for g in given for p in g.paths)]
        mailboxes = sorted({g.imap for g in given if g.imap})
        if len(mailboxes) > 1:
            raise UsageError(f"monitor.reports.imap names {len(mailboxes)} mailboxes across the domains; the monitor reads one: "
                             "give the same URL to every domain, or --imap")
        imap = mailboxes[0] if mailboxes else None
    _, collection = _read_reports(sources, imap, password_env, ca_file, None, None, criteria.days)
    if collection is None:
        return None
    for error in collection.errors:
        _err(error_text(error))
    return Reading(collection, dt.datetime.now(dt.UTC), criteria)


def _repository_path(config: Path) -> str:
    """The config's path in the repository: the monitor runs at its root."""
    relative = Path(os.path.relpath(os.path.abspath(config), os.getcwd()))
    if relative.parts[:1] == ("..",):
        raise UsageError(f"--config {config}: run the monitor at the root of the repository that holds the config")
    return relative.as_posix()


dns_app = typer.Typer(
    name="dns",
    help="Publish the DNS records through the octoDNS provider of the config's dns: section.",
    no_args_is_help=True,
)
app.add_typer(dns_app, name="dns")

DnsDomains = Annotated[Optional[list[str]], typer.Argument(metavar="[DOMAIN]...", help="Domains of the config to handle. Default: every domain with a dns: section.", show_default=False)]
DnsTimeout = Annotated[float, typer.Option("--timeout", metavar="S", help="Deadline of the policy check, in seconds.")]


def _dns(domains, config, nameserver, ca_file, connect_to, timeout, ttl, *, apply: bool, force: bool, rewrite_files: bool = False) -> None:
    from generator.check.options import make_options
    from generator.dnspublish.command import run

    options = make_options(nameservers=nameserver or [], ca_file=ca_file, connect_to=connect_to or [], timeout=timeout, concurrency=1, smtp=False)
    loaded = _with_ttl(_load(config, strict=False), ttl)
    raise typer.Exit(run(loaded, domains or [], apply=apply, force=force, rewrite_files=rewrite_files, options=options, out=sys.stdout, err=sys.stderr))


@dns_app.command("diff")
def dns_diff(
    domains: DnsDomains = None,
    config: ConfigOption = Path("mta-sts.yml"),
    nameserver: NameserverOption = None,
    ca_file: CaFileOption = None,
    connect_to: ConnectToOption = None,
    timeout: DnsTimeout = 20.0,
    ttl: TtlOption = None,
) -> None:
    """Show what `dns apply` would change in the records this tool owns (exit 1 when changes are pending)."""
    _dns(domains, config, nameserver, ca_file, connect_to, timeout, ttl, apply=False, force=False)


@dns_app.command("apply")
def dns_apply(
    domains: DnsDomains = None,
    config: ConfigOption = Path("mta-sts.yml"),
    force: Annotated[bool, typer.Option("--force", help="Publish a new _mta-sts id without checking that the new policy is served (RFC 8461 §8.1 says not to).")] = False,
    rewrite_files: Annotated[bool, typer.Option("--rewrite-files", help="Let a provider that rewrites whole zone files (octoDNS's YamlProvider) apply: their comments and layout are lost.")] = False,
    nameserver: NameserverOption = None,
    ca_file: CaFileOption = None,
    connect_to: ConnectToOption = None,
    timeout: DnsTimeout = 20.0,
    ttl: TtlOption = None,
) -> None:
    """Publish the records; a new _mta-sts id only once https://mta-sts.<domain>/ serves the new policy."""
    _dns(domains, config, nameserver, ca_file, connect_to, timeout, ttl, apply=True, force=force, rewrite_files=rewrite_files)


pages_app = typer.Typer(
    name="pages",
    help="GitHub's side of each site: repository, Pages site, custom domain and HTTPS, through GitHub's REST API (gh).",
    no_args_is_help=True,
)
app.add_typer(pages_app, name="pages")

PagesDomains = Annotated[Optional[list[str]], typer.Argument(metavar="[DOMAIN]...", help="Domains of the config to handle. Default: every domain.", show_default=False)]


@pages_app.command("setup")
def pages_setup(
    domains: PagesDomains = None,
    config: ConfigOption = Path("mta-sts.yml"),
    wait: Annotated[float, typer.Option("--wait", metavar="S", help="Seconds to wait for each certificate (and at least 60 for rate limits); 0 looks once.")] = 0.0,
) -> None:
    """Create or reuse each domain's repository, push the site build writes (pages.content: config: mta-sts.yml and its workflow), set up Pages with the custom domain, enforce HTTPS once the certificate is issued."""
    from generator.check.options import seconds
    from generator.github.command import setup

    seconds(wait, "--wait", zero=True)
    raise typer.Exit(setup(_load(config, strict=False), domains or [], wait=wait, out=sys.stdout, err=sys.stderr))


@pages_app.command("status")
def pages_status(
    domains: PagesDomains = None,
    config: ConfigOption = Path("mta-sts.yml"),
) -> None:
    """Show GitHub's view of each site: build type, custom domain, certificate, HTTPS, health check."""
    from generator.github.command import status

    raise typer.Exit(status(_load(config, strict=False), domains or [], out=sys.stdout))


@contextmanager
def _only_command(argv: list[str]) -> Iterator[None]:
    """Register only the invoked command while the CLI runs.

    Typer turns every parameter of every command into a click parameter
    before it runs the one asked for; with one command built, start-up does
    not grow with the CLI. Anything else (no command, an option first, a
    misspelt name) keeps every command, for the full help and suggestions,
    and so does shell completion, which asks with every command's name in
    the environment variable Typer sets.
    """
    commands, groups = app.registered_commands[:], app.registered_groups[:]
    if argv and "_MTA_STS_PAGES_COMPLETE" not in os.environ:
        only_commands = [c for c in commands if (c.name or c.callback.__name__.replace("_", "-")) == argv[0]]
        only_groups = [g for g in groups if g.name == argv[0]]
        if only_commands or only_groups:
            app.registered_commands[:], app.registered_groups[:] = only_commands, only_groups
    try:
        yield
    finally:  # main() may run again in one process (tests do)
        app.registered_commands[:], app.registered_groups[:] = commands, groups


def main() -> None:
    """Entry point: Typer handles usage errors (exit 2); the project's own
    errors are caught here, once, and printed without a traceback."""
    try:
        with _only_command(sys.argv[1:]):
            app(prog_name="mta-sts-pages")
    except MtaStsPagesError as exc:
        for line in exc.lines():
            _err(line if line.startswith(("error", "warning", "info")) else f"error: {line}")
        sys.exit(exc.exit_code)
    except OSError as exc:
        # Writing the output failed (a full disk, an I/O error): the commands
        # turn every error of their own files into a message, so an OSError
        # naming no file is the output's. Typer already ends quietly on a
        # closed pipe.
        if exc.filename is not None or exc.errno not in _OUTPUT_ERRORS:
            raise
        sys.stdout = open(os.devnull, "w")  # what is left in the old buffer cannot be written either
        _err(f"error: cannot write the output: {exc.strerror}")
        sys.exit(1)


_OUTPUT_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}
