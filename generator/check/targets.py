"""Which domains a check covers: the names given, read as they are needed,
normalized, each once, and only those of this shard. Pure: nothing here
touches the network.

A shard is a stable slice of the domains by a hash of the normalized name,
not by position, so every machine of a job matrix agrees on it whatever the
order or the other lines of the list; worker processes split a shard the
same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import chain
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from generator.check.options import Target
from generator.errors import UsageError
from generator.names import InvalidName, normalize_policy_domain

if TYPE_CHECKING:
    from generator.config import Config

MAX_SHARDS = 10_000
_SHARD = re.compile(r"([0-9]{1,5})/([0-9]{1,5})\Z")


@dataclass(frozen=True)
class Slice:
    """The domains whose hash is ``residue`` modulo ``modulus``."""

    modulus: int = 1
    residue: int = 0

    def contains(self, domain: str) -> bool:
        return self.modulus == 1 or domain_hash(domain) % self.modulus == self.residue

    def part(self, index: int, parts: int) -> Slice:
        """Part ``index`` (from 0) of ``parts``: the parts partition this slice."""
        return Slice(self.modulus * parts, self.residue + self.modulus * index)


def domain_hash(domain: str) -> int:
    """A hash of the normalized name that every machine and Python computes alike."""
    import hashlib  # here: loading OpenSSL costs a usage error or a one-worker run about 2 ms

    return int.from_bytes(hashlib.sha256(domain.encode("ascii")).digest()[:8], "big")


def parse_shard(value: str) -> Slice:
    """``K/N``: the K-th of N shards, K from 1 to N."""
    match = _SHARD.match(value.strip())
    if not match or not 1 <= int(match[1]) <= int(match[2]) <= MAX_SHARDS:
        raise UsageError(f"--shard {value!r}: write K/N with 1 <= K <= N <= {MAX_SHARDS}, e.g. 1/4 for the first of four shards")
    return Slice(int(match[2]), int(match[1]) - 1)


def read_domains_file(path: Path) -> Iterator[tuple[str, str]]:
    """(where, name) for each line of ``path``, read as it is needed; blank
    lines and ``#`` comments skipped."""
    try:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                name = line.split("#", 1)[0].strip()
                if name:
                    yield f"{path}:{number}", name
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(f"--domains-file {path}: {reason}") from None


@dataclass(frozen=True)
class Targets:
    """The domains of one check: DOMAIN arguments, then the lines of
    ``domains_file``; with neither, every domain of ``config``. With a config
    and names, each name must be in it (drift needs its settings)."""

    domains: tuple[str, ...] = ()
    domains_file: Path | None = None
    config: Config | None = None
    slice: Slice = field(default_factory=Slice)
    flag: str = "DOMAIN"  # how errors name where ``domains`` came from: the argument, or an option such as --domain

    def part(self, index: int, parts: int) -> Targets:
        return replace(self, slice=self.slice.part(index, parts))

    def _names(self) -> Iterator[tuple[str, str]]:
        yield from ((f"{self.flag} {name!r}", name) for name in self.domains)
        if self.domains_file is not None:
            yield from read_domains_file(self.domains_file)

    def _checked(self) -> Iterator[tuple[str | None, Target | None]]:
        """(problem, None) or (None, target) for every name, in order."""
        config = self.config
        names = self._names()
        first = next(names, None)
        if first is None:
            if config is None:
                raise UsageError("give a DOMAIN, --domains-file FILE or --config FILE")
            yield from ((None, Target(d.domain, d)) for d in config.domains)
            return
        configured = {d.domain: d for d in config.domains} if config else {}
        for where, name in chain([first], names):
            try:
                domain = normalize_policy_domain(name.rstrip("."))
            except InvalidName as exc:
                yield f"{where}: {name!r} {exc}", None
                continue
            if config is not None and domain not in configured:
                yield f"{where}: {domain} is not in {config.file}", None
                continue
            yield None, Target(domain, configured.get(domain))

    def validate(self) -> int:
        """Read every name once, before any check starts: a UsageError lists
        every bad one. Returns how many distinct domains this slice holds."""
        problems: list[str] = []
        seen: set[str] = set()
        for problem, target in self._checked():
            if problem is not None:
                problems.append(problem)
            elif self.slice.contains(target.domain):
                seen.add(target.domain)
        if problems:
            raise UsageError("\n".join(problems))
        return len(seen)

    def numbered(self) -> Iterator[tuple[int, Target]]:
        """This slice's targets in the order given, each once with its place
        in the whole list, read as they are needed (a duplicate always falls
        in the same slice)."""
        seen: set[str] = set()
        for position, (_, target) in enumerate(self._checked()):
            if target is not None and target.domain not in seen and self.slice.contains(target.domain):
                seen.add(target.domain)
                yield position, target
