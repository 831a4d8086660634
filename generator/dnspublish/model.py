"""The `dns:` section of `mta-sts.yml`: an octoDNS provider and the zone.

``provider`` is handed to octoDNS as one provider definition (its ``class``
and the options that class takes), so its keys cannot be known here; what
can be known is checked: a class path, plain values, and secrets only as
octoDNS ``env/NAME`` references, so a config file never holds a credential.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, NamedTuple

import yaml

from generator.names import InvalidName, normalize_domain
from generator.schema import INVALID, Duration, Key, Section, Text, Type, describe
from generator.yamlsource import Source

# A TTL under a minute is refused by many providers; a week is as long as a policy is cached by default.
MIN_TTL, MAX_TTL = 60, 604800
CLASS_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+\Z")
ENV_PREFIX = "env/"
# octoDNS's reference syntax: env/NAME, or env/NAME/default for a non-secret.
_ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_ENV_RE = re.compile(rf"env/{_ENV_NAME}(?:/.*)?\Z", re.DOTALL)
_SECRET_ENV_RE = re.compile(rf"env/{_ENV_NAME}\Z")

# Option names that hold credentials in octoDNS providers (key_secret,
# token, api_key, secret_access_key, password, ...). TSIG's key_name and
# key_algorithm only name the key; *_file/_path/_dir options name a file.
SECRET_WORDS = ("secret", "token", "password", "passwd", "key")
NOT_SECRET = ("key_name", "key_algorithm")
_PATH_SUFFIXES = ("_file", "_path", "_dir")

_SCALARS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


def is_secret_option(name: str) -> bool:
    """Whether option ``name`` holds a credential (so must be ``env/NAME``)."""
    # Exemptions by exact name, words in any case: as the JSON Schema has it.
    if name in NOT_SECRET or name.endswith(_PATH_SUFFIXES):
        return False
    return any(word in name.lower() for word in SECRET_WORDS)


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


# The same rule for editors (JSON Schema has no case-insensitive flag).
_SECRET_KEY_PATTERN = (
    "^(?!(?:" + "|".join(NOT_SECRET) + ")$)(?!.*(?:" + "|".join(_PATH_SUFFIXES) + ")$)"
    ".*(?:" + "|".join(_any_case(w) for w in SECRET_WORDS) + ")"
)


@cache
def _constructor() -> yaml.SafeLoader:
    """Made on first use: only a config with a `dns:` section needs it."""
    return yaml.SafeLoader("")


def _constructed(node: yaml.ScalarNode) -> Any:
    """A scalar as octoDNS's own (safe) YAML loader reads it: 53 a number, yes a boolean."""
    constructor = _constructor()
    return constructor.yaml_constructors[node.tag](constructor, node)


class ProviderOptions(Type):
    """An octoDNS provider definition: ``class`` plus free options.

    Values are scalars, lists and mappings; a credential option (see
    :func:`is_secret_option`), at any depth, must be an ``env/NAME``
    reference. Each option's line is kept for errors found later (a
    missing variable, an option the class does not take).
    """

    def check(self, node, path, source):
        if not isinstance(node, yaml.MappingNode):
            source.error(path, f"expected a mapping with 'class:' and the provider's options, got {describe(node)}", node)
            return INVALID
        value = self._mapping(node, path, source, top=True)
        if value is INVALID:
            return INVALID
        if "class" not in value:
            source.error(path, "missing required key 'class' (the octoDNS provider class, e.g. octodns_bind.Rfc2136Provider)", node)
            return INVALID
        return value

    def _mapping(self, node: yaml.MappingNode, path: str, source: Source, top: bool = False):
        result: dict[str, Any] = {}
        seen: dict[str, int] = {}
        ok = True
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                source.error(path, f"option names must be plain names, got {describe(key_node)}", key_node)
                ok = False
                continue
            key = key_node.value
            where = f"{path}.{key}"
            if key in seen:
                source.error(where, f"duplicate key (first defined on line {seen[key]})", key_node)
                ok = False
                continue
            seen[key] = source.lines[where] = key_node.start_mark.line + 1
            value = self._class(value_node, where, source) if top and key == "class" else self._value(key, value_node, where, source)
            if value is INVALID:
                ok = False
            else:
                result[key] = value
        return result if ok else INVALID

    @staticmethod
    def _class(node: yaml.Node, where: str, source: Source):
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str" and CLASS_RE.match(node.value):
            return node.value
        shown = repr(node.value) if isinstance(node, yaml.ScalarNode) else describe(node)
        source.error(where, f"{shown} is not a Python class path like octodns_bind.Rfc2136Provider", node)
        return INVALID

    def _value(self, key: str, node: yaml.Node, where: str, source: Source):
        if is_secret_option(key):
            if not (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str" and _SECRET_ENV_RE.match(node.value)):
                source.error(where, f"looks like a secret, so it must be an environment reference such as env/{_env_hint(key)}, "
                             "never the value itself (set the variable where mta-sts-pages runs, e.g. from a CI secret)", node)
                return INVALID
            return node.value
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, where, source)
        if isinstance(node, yaml.SequenceNode):
            items = [self._value("", child, f"{where}[{i}]", source) for i, child in enumerate(node.value)]
            return INVALID if any(v is INVALID for v in items) else items
        if node.tag not in _SCALARS:
            source.error(where, f"expected a plain value, got {describe(node)}", node)
            return INVALID
        value = _constructed(node)
        if isinstance(value, str) and value.startswith(ENV_PREFIX) and not _ENV_RE.match(value):
            source.error(where, f"{value!r} is not an octoDNS environment reference: write env/NAME (letters, digits, '_')", node)
            return INVALID
        return value

    def json_schema(self):
        return {
            "type": "object",
            "required": ["class"],
            "properties": {"class": {"type": "string", "pattern": "^" + CLASS_RE.pattern.removesuffix(r"\Z") + "$"}},
            "patternProperties": {_SECRET_KEY_PATTERN: {"type": "string", "pattern": f"^env/{_ENV_NAME}$"}},
            "additionalProperties": True,
        }


def _env_hint(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", key).upper() or "NAME"


def _zone(value: str) -> str:
    try:
        return normalize_domain(value)
    except InvalidName as exc:
        raise ValueError(str(exc)) from None


DNS = Section(
    {
        "provider": Key(
            ProviderOptions(),
            "The octoDNS provider that serves the zone, as one octoDNS provider definition: 'class' (e.g. octodns_bind.Rfc2136Provider) "
            "and its options; secrets only as env/NAME references.",
        ),
        "zone": Key(Text(convert=_zone), "The zone that holds the domain's records, when the domain sits in a parent zone (default: the domain)."),
        "ttl": Key(Duration(MIN_TTL, MAX_TTL),
                   "The TTL of the records `records` prints and `dns apply` publishes, e.g. 5m while testing (default: 3600 for a new "
                   "record, an existing record's own). Needs no provider."),
    },
    doc="Publish the DNS records with `mta-sts-pages dns apply` through an octoDNS provider.",
)


# A NamedTuple, not a frozen dataclass, as the config's other records (see
# generator.findings.Finding).
class DnsConfig(NamedTuple):
    """A domain's resolved `dns:` section."""

    provider: dict  # the octoDNS definition, env/ references unresolved
    zone: str
    file: str
    path: str  # key path of the provider mapping, e.g. "dns.provider" or "defaults.dns.provider"
    lines: dict[str, int]  # key path -> line, for errors found later

    # ``lines`` is the whole config's map, shared by every domain: where the
    # section was written, not what it says. Equality, hashing and repr leave
    # it out, and hashing the provider mapping too (a dict), so a DomainConfig
    # that holds a DnsConfig still hashes.
    def __eq__(self, other: object) -> bool:
        return isinstance(other, DnsConfig) and self[:4] == other[:4]

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((self.zone, self.file, self.path))

    def __repr__(self) -> str:
        return f"DnsConfig(provider={self.provider!r}, zone={self.zone!r}, file={self.file!r}, path={self.path!r})"

    @property
    def provider_class(self) -> str:
        return self.provider["class"]

    def line(self, key_path: str) -> int | None:
        return self.lines.get(key_path) or self.lines.get(self.path)


def resolve_dns(entry: dict, defaults: dict, path: str, domain: str, source: Source) -> DnsConfig | None:
    """Merge a domain's `dns:` over `defaults.dns` key by key; the provider
    mapping is taken whole from one place (options of two classes do not mix)."""
    own, shared = entry.get("dns"), defaults.get("dns")
    if own is None and shared is None:
        return None
    merged = {**(shared or {}), **(own or {})}
    if set(merged) <= {"ttl"}:
        return None  # only a TTL, for `records`: nothing to publish through
    here = f"{path}.dns" if path else "dns"
    provider_from = here if own and "provider" in own else "defaults.dns"
    if "provider" not in merged:
        source.error(here, "no 'provider:' here or in defaults.dns; name the octoDNS provider that serves the zone",
                     line=source.lines.get(here))
        return None
    zone = merged.get("zone", domain)
    zone_from = here if own and "zone" in own else "defaults.dns"
    if domain != zone and not domain.endswith("." + zone):
        source.error(f"{zone_from}.zone", f"{domain} is not in the zone {zone}; give the zone that holds the domain's records",
                     line=source.lines.get(f"{zone_from}.zone") or source.lines.get(here))
        return None
    # The config's whole key -> line map, shared by every domain (no copy per domain).
    return DnsConfig(provider=merged["provider"], zone=zone, file=source.file, path=f"{provider_from}.provider", lines=source.lines)
