"""Drift: does the live deployment still match what the config builds?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.check import codes
from generator.errors import ParseError
from generator.findings import Finding, error, warning
from generator.policy import parse_policy, render_sts_record
from generator.tlsrpt import render_tlsrpt_record

if TYPE_CHECKING:  # a check without --config never loads the config module (YAML)
    from generator.config import DomainConfig


def policy_drift(config: DomainConfig, served: bytes) -> list[Finding]:
    """The served policy must be byte for byte what `build` renders."""
    if served == config.policy_bytes:
        return []
    return [error(codes.POLICY_DIFFERS, f"the served policy differs from the config: {_difference(config, served)}",
                  f"deploy the site from `mta-sts-pages build` (policy id {config.id}), then check again")]


def _difference(config: DomainConfig, served: bytes) -> str:
    """Say what differs in the terms of the config, or in bytes when the
    policies mean the same."""
    try:
        live = parse_policy(served).policy
    except ParseError:
        return "the served file is not a valid policy"
    want = config.policy
    parts = []
    if live.mode != want.mode:
        parts.append(f"mode is {live.mode}, the config says {want.mode}")
    if live.max_age != want.max_age:
        parts.append(f"max_age is {live.max_age}, the config says {want.max_age}")
    missing = [p for p in want.mx if p not in live.mx]
    extra = [p for p in live.mx if p not in want.mx]
    if missing:
        parts.append(f"mx {', '.join(missing)} missing")
    if extra:
        parts.append(f"mx {', '.join(extra)} not in the config")
    if parts:
        return "; ".join(parts)
    return _byte_difference(config.policy_bytes, served)


def _byte_difference(built: bytes, served: bytes) -> str:
    """Policies that mean the same: where the bytes part, so a missing final
    line end or a stray blank line is named rather than guessed at."""
    built_lines, served_lines = built.split(b"\n"), served.split(b"\n")
    if [line.rstrip(b"\r") for line in built_lines] == [line.rstrip(b"\r") for line in served_lines]:
        return "same content, other line ends (the build writes CRLF; check .gitattributes)"
    if served.rstrip(b"\r\n") == built.rstrip(b"\r\n"):
        return ("same content, but the served file does not end with a line end (CRLF) as the build writes it"
                if len(served) < len(built) else "same content, with blank lines or line ends after the last line")
    if served.replace(b"\r\n", b"\n").rstrip(b"\n") == built.replace(b"\r\n", b"\n").rstrip(b"\n"):
        return "same content, other line ends and another end of file (the build writes CRLF after every line; check .gitattributes)"
    for number, (want, got) in enumerate(zip(built_lines, served_lines), start=1):
        if want.rstrip(b"\r") != got.rstrip(b"\r"):
            return f"same content, other formatting or order: line {number} is {_shown(got)}, the build wrote {_shown(want)}"
    return "same content, other formatting or order"


def _shown(line: bytes) -> str:
    return repr(line.rstrip(b"\r").decode("utf-8", errors="replace"))


def id_drift(config: DomainConfig, live_id: str) -> list[Finding]:
    if live_id == config.id:
        return []
    return [error(codes.ID_STALE, f"the _mta-sts record has id {live_id}, the config's policy has id {config.id}; senders keep their cached policy",
                  f"once the new policy is served, set _mta-sts.{config.domain} TXT \"{render_sts_record(config.id)}\"")]


def tlsrpt_drift(config: DomainConfig, live_rua: tuple[str, ...]) -> list[Finding]:
    if config.tlsrpt_rua is None or set(live_rua) == set(config.tlsrpt_rua):
        return []
    return [warning(codes.TLSRPT_DIFFERS, f"the _smtp._tls record sends reports to {', '.join(live_rua)}; the config says {', '.join(config.tlsrpt_rua)}",
                    f"set _smtp._tls.{config.domain} TXT \"{render_tlsrpt_record(config.tlsrpt_rua)}\"")]
