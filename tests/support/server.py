"""What every test server shares: the loopback address and its lifecycle."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self

HOST = "127.0.0.1"


class Server(abc.ABC):
    """A server on HOST:``port``; ``with server:`` starts it and always stops it."""

    host: str = HOST
    port: int

    @property
    def address(self) -> str:
        """``IP:port``, as given to ``--nameserver`` or ``--connect-to``."""
        return f"{self.host}:{self.port}"

    def start(self) -> Self:
        """Begin serving; returns self. Servers that start when built keep this."""
        return self

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop serving and release the port, whatever clients are doing."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
