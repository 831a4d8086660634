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
    if served.replace(b"\r\n", b"\n") == config.policy_bytes.replace(b"\r\n", b"\n"):
        return "same content, other line ends (the build writes CRLF; check .gitattributes)"
    return "same content, other formatting or order"


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
