"""Checks spread over worker processes, for the machine's every core.

One event loop is one core: parsing, TLS handshakes and the checks' own code
all run on it. Each worker process checks one part of the targets (split by
the shard hash, so no list is handed around) on its own loop, renders what
will be printed of each domain, and sends that to this process, which alone
writes: every JSON line stays whole.
"""

from __future__ import annotations

import math
import multiprocessing
import threading
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from typing import Any

from generator.check.domain import DomainReport
from generator.check.options import CheckOptions
from generator.check.runner import run_checks
from generator.check.targets import Targets
from generator.processes import forwarding, started

Render = Callable[[DomainReport], Any]
OnResult = Callable[[int, Any], None]


def check_all(targets: Targets, options: CheckOptions, workers: int, render: Render, on_result: OnResult) -> None:
    """Check every target, with ``workers`` processes when that is more than one.

    ``render(report)`` runs where the domain was checked and turns its report
    into what the caller keeps (it must pickle); ``on_result(position,
    rendered)`` runs here, in this process, as each domain finishes,
    ``position`` being the domain's place in the list.
    """
    if workers <= 1:
        _check_part(targets, options, lambda position, report: on_result(position, render(report)))
        return
    # Each worker gets its share of --concurrency: the flag bounds the open
    # connections of the whole run, as it does without workers.
    options = replace(options, concurrency=max(1, math.ceil(options.concurrency / workers)))
    context = multiprocessing.get_context(_start_method())
    arguments = [(targets.part(index, workers), options, render) for index in range(workers)]
    with started(context, _worker, arguments) as (links, processes):
        _merge(links, processes, on_result)


def _start_method() -> str:
    """Fork, the cheapest start, from the single-threaded CLI; a host with
    threads (a test runner, an embedding program) spawns, since a fork copies
    locks that other threads may be holding."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


def _check_part(targets: Targets, options: CheckOptions, on_report: Callable[[int, DomainReport], None]) -> None:
    positions: dict[str, int] = {}  # the domains in flight only

    def numbered():
        for position, target in targets.numbered():
            positions[target.domain] = position
            yield target

    run_checks(numbered(), options, lambda report: on_report(positions.pop(report.domain), report))


def _worker(targets: Targets, options: CheckOptions, render: Render, link: Connection) -> None:
    def work() -> None:
        _check_part(targets, options, lambda position, report: link.send(("result", position, render(report))))
        link.send(("done",))

    forwarding(link, work)


def _merge(links: list[Connection], processes: list, on_result: OnResult) -> None:
    """Hand on the workers' results until each has said it is done."""
    open_links = dict(zip(links, processes))
    while open_links:
        for link in wait(list(open_links)):
            try:
                message = link.recv()
            except EOFError:
                process = open_links[link]
                process.join()
                raise RuntimeError(f"a check worker process ended without finishing (exit code {process.exitcode})") from None
            if message[0] == "result":
                on_result(message[1], message[2])
            elif message[0] == "failed":
                raise message[1]
            else:
                del open_links[link]
