"""`promote`: change ``mode: testing`` to ``mode: enforce`` in mta-sts.yml,
and nothing else.

The config is read once (:func:`read`): the same text and node tree give
the config that is validated and judged, and the place of each mode's
scalar. That tree comes from the config reader's own composer (so any YAML
``validate`` takes is taken here too; its marks count characters), and only
the word ``testing`` in the scalar's span is replaced: quotes, tags, anchors
and block indicators stay, as do comments, order, spacing and line ends,
byte for byte. The result is loaded again and must differ from the old
config in exactly the promoted domains' modes before it is written
(atomically, in place).
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator.config import Config, DomainConfig, loads, loads_with_nodes
from generator.errors import BuildError, ConfigError, UsageError
from generator.policy import render_sts_record
from generator.yamlsource import read_text


@dataclass(frozen=True)
class Current:
    """The config as it is: its text, the node tree of that text, and the
    config validated from that same tree."""

    path: Path
    text: str
    root: yaml.Node
    config: Config


def read(path: Path) -> Current:
    """Read and validate the config at ``path``; raise :class:`ConfigError`
    as :func:`generator.config.load` does."""
    text = read_text(str(path))  # decoded as it is: a CRLF stays a CRLF
    # libyaml's marks leave out a byte order mark; the pure-Python reader's
    # count it. Without it, both count characters from the same place.
    config, root = loads_with_nodes(text.removeprefix("\ufeff"), str(path))
    return Current(path, text, root, config)


@dataclass(frozen=True)
class Promotion:
    path: Path
    text: str  # the new config
    domains: tuple[DomainConfig, ...]  # as they will be, in enforce
    lines: tuple[int, ...]  # the lines changed


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def _mode_nodes(root: yaml.Node, config: Config) -> tuple[dict[str, yaml.ScalarNode | None], yaml.ScalarNode | None]:
    """Each domain's own ``policy.mode`` node (None when it has none), and the defaults' one."""
    if not config.multi:
        return {config.domains[0].domain: _child(_child(root, "policy"), "mode")}, None
    own: dict[str, yaml.ScalarNode | None] = {}
    entries = _child(root, "domains")
    for entry, domain in zip(entries.value if isinstance(entries, yaml.SequenceNode) else [], config.domains):
        own[domain.domain] = _child(_child(entry, "policy"), "mode")
    return own, _child(_child(_child(root, "defaults"), "policy"), "mode")


def plan(current: Current, targets: list[DomainConfig]) -> Promotion:
    """The promoted config, or :class:`UsageError` saying why it cannot be made."""
    path, text, config = current.path, current.text, current.config
    not_testing = [f"{d.domain} is in mode {d.policy.mode}" for d in targets if d.policy.mode != "testing"]
    if not_testing:
        raise UsageError(f"{path}: {'; '.join(not_testing)}, not testing: promote moves a domain from testing to enforce")
    offset = len(text) - len(text.removeprefix("\ufeff"))  # the marks' count starts after a byte order mark
    own, default = _mode_nodes(current.root, config)
    names = {d.domain for d in targets}
    nodes: dict[int, yaml.ScalarNode] = {}
    for domain in targets:
        node = own.get(domain.domain) or default
        if node is None:
            where = "policy:" if not config.multi else f"the policy: of {domain.domain}"
            raise UsageError(f"{path}: {domain.domain} is in testing by default (no mode: line); add 'mode: enforce' under {where} yourself")
        if node is default:
            sharing = sorted(d.domain for d in config.domains if own.get(d.domain) is None and d.domain not in names)
            if sharing:
                raise UsageError(
                    f"{path}:{default.start_mark.line + 1}: defaults.policy.mode also sets the mode of {', '.join(sharing[:5])}"
                    f"{' and others' if len(sharing) > 5 else ''}; add 'mode: enforce' to the policy of {domain.domain}, "
                    "or promote every domain that shares the default with --domain")
        nodes[node.start_mark.index] = node
    new = text
    for start in sorted(nodes, reverse=True):
        first, last = _value_span(text, offset + start, offset + nodes[start].end_mark.index, nodes[start].style, path)
        quote = nodes[start].style if nodes[start].style in ("'", '"') else ""
        new = new[:first] + f"{quote}enforce{quote}" + new[last:]
    try:
        promoted = loads(new, str(path))
    except ConfigError:
        raise BuildError(f"{path}: changing the mode line would not give a valid config; edit it by hand") from None
    expected = {d.domain for d in targets}
    changed = {a.domain for a, b in zip(config.domains, promoted.domains) if a.policy != b.policy}
    if changed != expected or any(d.policy.mode != "enforce" for d in promoted.domains if d.domain in expected):
        raise BuildError(f"{path}: changing the mode line would not promote exactly {', '.join(sorted(expected))}; edit it by hand")
    return Promotion(path, new, tuple(d for d in promoted.domains if d.domain in expected),
                     tuple(sorted(n.start_mark.line + 1 for n in nodes.values())))


def _value_span(text: str, start: int, end: int, style: str | None, path: Path) -> tuple[int, int]:
    """Where the word ``testing`` (or its quoted form) is in a mode node's
    span, which starts at its tag or anchor, and for a block scalar at the
    ``|`` or ``>``: the value is the span's last word."""
    word = re.search(r"\S+(?=\s*$)", text[start:end])
    found = word.group() if word else ""
    if style in ("'", '"'):
        ok = len(found) > 1 and found[0] == found[-1] == style
    else:
        ok = found == "testing"
    if not ok:
        line = text.count("\n", 0, start) + 1
        raise BuildError(f"{path}:{line}: cannot find the word testing in the mode value; edit it by hand")
    return start + word.start(), start + word.end()


def write(promotion: Promotion) -> None:
    """Replace the config in one rename; its permissions stay, a link is followed."""
    target = Path(os.path.realpath(promotion.path))
    temp = None
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
        # Beside the config, so the rename stays on one file system; a folder
        # the user may not write to fails here, before anything changed.
        handle, temp = tempfile.mkstemp(prefix=".mta-sts-promote-", dir=target.parent)
        with os.fdopen(handle, "wb") as out:
            out.write(promotion.text.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except OSError as exc:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)
        raise BuildError(f"{promotion.path}: cannot write it: {exc.strerror}; it is unchanged") from None


def next_steps(promotion: Promotion, config_arg: str) -> list[str]:
    lines = [f"{promotion.path}: mode: enforce for {', '.join(d.domain for d in promotion.domains)} (line {', '.join(map(str, promotion.lines))})",
             "", "Next:", f"  1. mta-sts-pages build -c {config_arg}",
             "  2. commit and push, so that GitHub Pages serves the enforce policy; wait until"]
    lines += [f"     https://{d.policy_host}/.well-known/mta-sts.txt says 'mode: enforce'" for d in promotion.domains]
    lines.append("  3. then, not before (RFC 8461 §8.1), publish the new policy id:")
    for d in promotion.domains:
        lines.append(f"     _mta-sts.{d.domain}. TXT \"{render_sts_record(d.id)}\"")
        if not d.id_is_auto:
            lines.append(f"     warning: policy.id of {d.domain} is fixed ({d.id}): change it too, or senders keep the cached testing policy until max_age runs out")
    lines.append(f"     (mta-sts-pages records -c {config_arg} prints every record)")
    lines += [f"  4. mta-sts-pages check {d.domain} --config {config_arg} --smtp" for d in promotion.domains]
    return lines
