"""Report files read and parsed across the machine's cores.

Reading, inflating and parsing a file is most of `reports`' time, and each
file is read alone. The file list is cut into one contiguous part per core:
worker processes read and parse the later parts while this process reads
the first, then hands on theirs, file by file, in the list's order. So the
collection is the same as read in one process: the first copy of a
report-id is the one kept, errors come in the files' order.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from multiprocessing.connection import Connection

from generator.processes import forwarding, started
from generator.reports.collect import Parsed, parsed
from generator.reports.sources import Item, read_file

# Below this many files a part, starting a process costs more than it saves.
MIN_FILES_PER_WORKER = 1000
# A worker parses its whole part before it sends (this process reads the
# pipe only once its own part is done, and a full pipe would stall the
# worker), then sends it in batches of files, each pickled on its own.
BATCH = 1000


def parsed_file_items(files: Sequence[tuple[str, bool]], shown: Iterable[tuple[str, bool]],
                      workers: int | None = None) -> Iterator[Item | Parsed]:
    """The items of ``files``, in their order, reports parsed; ``shown`` is
    ``files`` as the progress bar hands them on. ``workers``: how many
    processes (this one included) read them; by default :func:`default_workers`."""
    parts = _parts(len(files), default_workers(len(files)) if workers is None else workers)
    context = multiprocessing.get_context("fork") if len(parts) > 1 else None
    arguments = [(files[start:end],) for start, end in parts[1:]]
    with started(context, _worker, arguments) as (links, processes):
        remote = _received(links, processes)
        local_end = parts[0][1]
        for index, (path, named) in enumerate(shown):
            if index < local_end:
                yield from parsed(read_file(path, named))
            else:
                yield from next(remote)


def default_workers(files: int) -> int:
    """One process per idle core this process may run on, while each has
    enough files; forked only from a single-threaded process (a fork copies
    locks other threads may hold), as the CLI is.

    Idle as the load average tells, as ``make -l`` does: on cores busy with
    other work a second process only shares this one's time, and the
    hand-over of its reports (pickled, sent, unpickled here) makes the whole
    slower: 20,000 reports on two cores, another program busy on one, took
    1.9 s in one process and 2.4 s in two (best of 7).
    """
    if threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        idle = cores - int(os.getloadavg()[0] + 0.5)
    except OSError:  # no load average to read
        idle = cores
    return max(1, min(idle, files // MIN_FILES_PER_WORKER))


def _parts(count: int, workers: int) -> list[tuple[int, int]]:
    size = -(-count // workers) if count else 0
    return [(i * size, min(count, (i + 1) * size)) for i in range(workers)] or [(0, 0)]


def _worker(files: Sequence[tuple[str, bool]], link: Connection) -> None:
    def work() -> None:
        results = [list(parsed(read_file(path, named))) for path, named in files]
        for start in range(0, len(results), BATCH):
            link.send(("files", results[start:start + BATCH]))

    forwarding(link, work)


def _received(links: list[Connection], processes: list) -> Iterator[list[Item | Parsed]]:
    """Each file's items from the workers, in the parts' order."""
    for link, process in zip(links, processes):
        while True:
            try:
                message = link.recv()
            except EOFError:
                break
            if message[0] == "failed":
                raise message[1]
            yield from message[1]
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"a report worker process ended without finishing (exit code {process.exitcode})")
