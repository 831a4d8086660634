"""The command line: parse arguments, call the core, print, map errors to exit codes.

Exit codes: 0 fine; 1 a checked artefact (policy, record, live domain) has
errors; 2 the config or the command line is wrong.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from generator import __version__
from generator.errors import MtaStsPagesError

app = typer.Typer(
    name="mta-sts-pages",
    help="Publish MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) on GitHub Pages from one YAML file.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The config file.")]
StrictOption = Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")]


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
    typer.echo(line, err=True)


def _load(config: Path, strict: bool):
    from generator.config import fail_on_warnings, load

    loaded = load(str(config))
    for warning in loaded.warnings:
        _err(f"warning: {warning}")
    if strict:
        fail_on_warnings(loaded)
    return loaded


@app.command()
def build(
    config: ConfigOption = Path("mta-sts.yml"),
    output: Annotated[Path, typer.Option("--output", "-o", help="The site folder (one subfolder per domain for a multi-domain config).")] = Path("site"),
    strict: StrictOption = False,
) -> None:
    """Write the GitHub Pages site: policy, Jekyll config, CNAME, landing page, workflow."""
    from generator.build import build as run_build
    from generator.records import to_bind

    loaded = _load(config, strict)
    plans = run_build(loaded, output)
    for plan in plans:
        changes = len(plan.write) + len(plan.remove)
        state = f"{len(plan.write)} written, {len(plan.unchanged)} unchanged" + (f", {len(plan.remove)} removed" if plan.remove else "")
        typer.echo(f"{plan.folder}: {state}" if changes or len(plans) < 20 else f"{plan.folder}: up to date")
    typer.echo("\nSet these DNS records (update the policy before the _mta-sts id; see README):\n")
    typer.echo(to_bind(loaded.domains), nl=False)


class RecordFormat(str, Enum):
    bind = "bind"
    json = "json"


@app.command()
def records(
    config: ConfigOption = Path("mta-sts.yml"),
    format: Annotated[RecordFormat, typer.Option("--format", "-f", help="bind: zone file lines; json: for scripts.")] = RecordFormat.bind,
    strict: StrictOption = False,
) -> None:
    """Print the DNS records to publish: _mta-sts TXT, _smtp._tls TXT, mta-sts CNAME."""
    from generator.records import to_bind, to_json

    loaded = _load(config, strict)
    typer.echo((to_json if format is RecordFormat.json else to_bind)(loaded.domains), nl=False)


@app.command()
def validate(
    files: Annotated[Optional[list[Path]], typer.Argument(metavar="FILE", help="Config files to check, as pre-commit passes them; every one is checked.", show_default=False)] = None,
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
        typer.echo(f"{finding.severity}: [{finding.code}] {finding.message}" + (f"\n  fix: {finding.fix}" if finding.fix else ""))
    if issues:
        raise ConfigError(issues)
    if fails(findings, strict):
        raise typer.Exit(1)
    if linting:
        typer.echo("no errors")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@app.command()
def init(
    domain: Annotated[str, typer.Argument(help="The mail domain, e.g. example.com.")],
    mx: Annotated[Optional[list[str]], typer.Option("--mx", help="An MX pattern (repeat for each). Default: the domain's live MX records.")] = None,
    rua: Annotated[Optional[list[str]], typer.Option("--rua", help="A TLS-RPT report URI (repeat for each).")] = None,
    mode: Annotated[str, typer.Option("--mode", help="testing, enforce or none.")] = "testing",
    owner: Annotated[Optional[str], typer.Option("--owner", help="GitHub user or organization of the Pages repository.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the config.")] = Path("mta-sts.yml"),
    nameserver: Annotated[Optional[list[str]], typer.Option("--nameserver", metavar="IP[:PORT]", help="Look the MX records up at this DNS server instead of the system's resolver (repeatable).")] = None,
) -> None:
    """Write a commented starter mta-sts.yml (never over an existing file)."""
    from generator.errors import UsageError
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


@app.command()
def check(
    domains: Annotated[Optional[list[str]], typer.Argument(help="Domains to check. Default: every domain of --config (or ./mta-sts.yml).", show_default=False)] = None,
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="Also compare the live policy and id with this config (drift).", dir_okay=False)] = None,
    domains_file: Annotated[Optional[Path], typer.Option("--domains-file", help="Check the domains listed in FILE, one a line ('#' starts a comment).", dir_okay=False)] = None,
    json_lines: Annotated[bool, typer.Option("--json", help="Print one JSON object per domain as each finishes (JSON lines).")] = False,
    smtp: Annotated[bool, typer.Option("--smtp", help="Also connect to every MX host on port 25 and verify its STARTTLS certificate.")] = False,
    nameserver: Annotated[Optional[list[str]], typer.Option("--nameserver", metavar="IP[:PORT]", help="Ask this DNS server instead of the system's resolver (repeatable).")] = None,
    ca_file: Annotated[Optional[Path], typer.Option("--ca-file", metavar="PEM", help="Trust only the CA certificates in this file, not the system's.", dir_okay=False)] = None,
    connect_to: Annotated[Optional[list[str]], typer.Option("--connect-to", metavar="HOST:PORT:ADDR:PORT", help="Connect to ADDR:PORT instead of HOST:PORT, like curl (repeatable; an empty HOST or PORT matches any).")] = None,
    # generator.check.options' DEFAULT_TIMEOUT and DEFAULT_CONCURRENCY, spelled out so start-up
    # does not import generator.check; test_check_units.py holds them equal.
    timeout: Annotated[float, typer.Option("--timeout", metavar="S", help="Deadline for all the checks of one domain, in seconds.")] = 20.0,
    concurrency: Annotated[int, typer.Option("--concurrency", help="How many domains are checked at once (at most 1000).")] = 50,
    shard: Annotated[Optional[str], typer.Option("--shard", metavar="K/N", help="Check only the K-th of N stable slices of the domains (by a hash of each name), to split a list across machines.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", metavar="N", help="Worker processes that share the domains (default: one per core; 1 with --smtp, so that each MX host is probed once).", show_default=False)] = None,
) -> None:
    """Check live deployments as a sender does: DNS, the HTTPS policy, MX coverage, drift, STARTTLS."""
    from generator.check.command import check_command, default_workers
    from generator.check.options import make_options
    from generator.check.targets import Slice, Targets, parse_shard

    options = make_options(nameservers=nameserver or [], ca_file=ca_file, connect_to=connect_to or [], timeout=timeout, concurrency=concurrency, smtp=smtp)
    part = parse_shard(shard) if shard is not None else Slice()
    if config is None and not domains and domains_file is None and Path("mta-sts.yml").is_file():
        config = Path("mta-sts.yml")
    loaded = _load(config, strict=False) if config is not None else None
    targets = Targets(tuple(domains or ()), domains_file, loaded, part)
    code = check_command(targets, options, workers=default_workers(options) if workers is None else workers, json_lines=json_lines, out=sys.stdout, err=sys.stderr)
    raise typer.Exit(code)


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
