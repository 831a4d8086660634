"""Worker processes that send their results over a pipe, for the commands
that spread work over the machine's cores (check's domains, reports' files).

Each worker gets the sending end of its own pipe as its last argument; any
failure inside it travels to this process as a ``("failed", exc)`` message,
which the reader raises, and every worker still running when the reader
stops (done, failed or abandoned) is ended."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any


@contextmanager
def started(context: Any, target: Callable[..., None], arguments: Sequence[tuple]) -> Iterator[tuple[list[Connection], list]]:
    """One process of ``target(*args, link)`` per entry of ``arguments``,
    started from the multiprocessing ``context``; yields the receiving ends
    and the processes, in that order."""
    links, processes = [], []
    try:
        for args in arguments:
            ours, theirs = context.Pipe(duplex=False)
            process = context.Process(target=target, args=(*args, theirs), daemon=True)
            process.start()
            theirs.close()
            links.append(ours)
            processes.append(process)
        yield links, processes
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()


def forwarding(link: Connection, work: Callable[[], None]) -> None:
    """Run ``work`` in a worker; a failure goes to the parent, which raises it."""
    try:
        work()
    except BaseException as exc:  # noqa: BLE001 - every failure goes to the parent
        link.send(("failed", exc))
    finally:
        link.close()
