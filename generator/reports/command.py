"""What `reports` and `promote` share: read every input into a collection,
and decide readiness for the config's domains."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from generator.check.options import Target
from generator.check.targets import Targets
from generator.config import Config, DomainConfig
from generator.errors import MailboxError, UsageError
from generator.reports.collect import Collection, Period, collect, parse_bound
from generator.reports.ready import Criteria, Readiness, readiness, window
from generator.reports.sources import InputError, Item, list_files
from generator.reports.workers import parsed_file_items

FileList = list[tuple[str, bool]]

# cli.py spells the defaults out (it imports this package only when a
# command needs it); tests/test_reports_ready.py holds them equal.
DEFAULT_PASSWORD_ENV = "MTA_STS_PAGES_IMAP_PASSWORD"


@dataclass(frozen=True)
class Inputs:
    """Where the reports are, as the command line gives it."""

    paths: Sequence[Path] = ()
    imap_url: str | None = None
    password_env: str = DEFAULT_PASSWORD_ENV
    ca_file: Path | None = None

    @property
    def given(self) -> bool:
        return bool(self.paths) or self.imap_url is not None


def period_of(since: str | None, until: str | None) -> Period:
    period = Period(parse_bound(since, "--since") if since else None, parse_bound(until, "--until", end=True) if until else None)
    if period.since and period.until and period.until <= period.since:
        raise UsageError("--until is before --since")
    return period


def window_start(period: Period, days: int) -> dt.datetime:
    """The first moment of the readiness window of ``days`` before
    ``period``'s end (now when open)."""
    return window(period.until or dt.datetime.now(dt.UTC), days).since


def read_reports(inputs: Inputs, period: Period, environ: Mapping[str, str],
                 show_progress: Callable[[FileList], Iterable[tuple[str, bool]]] = lambda files: files,
                 mailbox_from: dt.datetime | None = None) -> Collection:
    """Every report of ``inputs`` in ``period``; IMAP is asked last, after the
    files, so that a file error is not hidden by a mailbox that fails.
    ``mailbox_from``: search the mailbox from then, not from the period's
    start (a verdict over a window counts nothing older; files, which have no
    delivery day, are all read either way)."""
    items: Iterable[Item] = ()
    if inputs.imap_url is not None:
        from generator.reports.imap import check_password, imap_items, parse_imap_url

        target = parse_imap_url(inputs.imap_url)
        password = environ.get(inputs.password_env)
        if not password:
            raise UsageError(f"--imap: set the password of {target.user} in the environment variable {inputs.password_env}")
        check_password(target, password, inputs.password_env)
        # The mailbox is searched by delivery day, a day early for time
        # zones; collect() then keeps exactly the reports of the period.
        first = mailbox_from or period.since
        since = first.date() - dt.timedelta(days=1) if first and first.date() > dt.date.min else None
        items = _mailbox(target.label, imap_items(target, password, inputs.ca_file, since=since))
    files, errors = list_files(inputs.paths)
    return collect(itertools.chain(errors, parsed_file_items(files, show_progress(files)), items), period)


def _mailbox(label: str, items: Iterable[Item]) -> Iterator[Item]:
    """A mailbox that cannot be read (refused login, untrusted certificate,
    lost connection) is one unreadable input: the reports read before, and
    every file, are still summed."""
    try:
        yield from items
    except MailboxError as exc:
        yield InputError(label, str(exc))


def select_domains(config: Config, names: Sequence[str]) -> list[DomainConfig]:
    """The config's domains named by ``--domain`` (all of them when none is)."""
    return [target.config for target in _targets(names, config)]


def domain_names(names: Sequence[str]) -> list[str]:
    """``--domain`` values as reports and configs spell domains, each once:
    lower case, no trailing dot, A-labels (``bücher.example`` is
    ``xn--bcher-kva.example``)."""
    return [target.domain for target in _targets(names, None)]


def _targets(names: Sequence[str], config: Config | None) -> list[Target]:
    """Each name once, in the order given; a name that is no domain, or not
    in ``config``, is a usage error that says which."""
    wanted = Targets(tuple(names), None, config, flag="--domain")
    wanted.validate()
    return [target for _, target in wanted.numbered()]


def verdicts(domains: Sequence[DomainConfig], collection: Collection, until: dt.datetime, criteria: Criteria) -> list[Readiness]:
    return readiness({d.domain: d.policy.mx for d in domains}, collection.reports, until, criteria, len(collection.errors))
