"""The octoDNS glue: the provider a `dns:` section names, the zone as the
provider has it, the zone wanted, and octoDNS's plan between the two.

The wanted zone is the zone read from the provider with only the owned
record sets replaced, so octoDNS's plan holds nothing else; `owned.unsafe`
then checks every change of the plan before anything is applied.

Providers raise their own exception types (HTTP clients, cloud SDKs,
dnspython), so at this boundary any exception from a provider call is that
provider's failure, reported as a DnsError with the likely cause.
"""

from __future__ import annotations

import importlib
import os
import re
from typing import Any

from generator.dnspublish.model import ENV_PREFIX, DnsConfig
from generator.dnspublish.owned import RecordSet, SetChange
from generator.errors import ConfigError, ConfigIssue, DnsError

EXTRA = "mta-sts-pages[dns]"
PROVIDER_ID = "mta-sts-pages"


def require_octodns() -> None:
    try:
        importlib.import_module("octodns")
    except ImportError:
        raise DnsError(f"the dns commands need octoDNS: pip install '{EXTRA}' (plus the package of your provider)") from None


def package_of(class_path: str) -> str:
    """The PyPI package that ships a provider class, by octoDNS's naming
    (octodns_bind.Rfc2136Provider: octodns-bind)."""
    return class_path.split(".", 1)[0].replace("_", "-")


def _issue(dns: DnsConfig, key: str, message: str) -> ConfigError:
    path = f"{dns.path}.{key}" if key else dns.path
    return ConfigError([ConfigIssue(path, message, dns.file, dns.line(path))])


def _install_hint(class_path: str) -> str:
    package = package_of(class_path)
    return f"pip install '{EXTRA}'" + ("" if package == "octodns" else f" {package}")


def provider_class(dns: DnsConfig) -> type:
    module_name, _, class_name = dns.provider_class.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise _issue(dns, "class", f"{dns.provider_class} is not installed: {_install_hint(dns.provider_class)}") from None
        raise _issue(dns, "class", f"importing {module_name} failed: {exc} ({_install_hint(dns.provider_class)})") from None
    except ImportError as exc:
        raise _issue(dns, "class", f"importing {module_name} failed: {exc}") from None
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise _issue(dns, "class", f"{module_name} has no class {class_name}")
    return cls


# Providers that write a whole file from the zone they plan (octoDNS's
# YamlProvider._apply dumps the zone with safe_dump; SplitYamlProvider and
# split_extension one file per name; octodns-bind's ZoneFileProvider the
# zone file): every other record keeps its value, but comments, order and
# quoting in those files are gone.
WHOLE_FILE_PROVIDERS = ("octodns.provider.yaml.YamlProvider", "octodns_bind.ZoneFileProvider")


def rewrites_files(provider_class: type) -> bool:
    """Whether the class is, or derives from, a provider that writes whole files."""
    return any(f"{c.__module__}.{c.__qualname__}" in WHOLE_FILE_PROVIDERS for c in provider_class.__mro__)


def _resolve(value: Any, key: str, dns: DnsConfig) -> Any:
    """Options with ``env/NAME`` replaced as octoDNS's own Manager does it."""
    from octodns.secret.environ import EnvironSecrets

    if isinstance(value, dict):
        return {k: _resolve(v, f"{key}.{k}" if key else k, dns) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, f"{key}[{i}]", dns) for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX):]
        variable, has_default = name.split("/", 1)[0], "/" in name
        if variable not in os.environ and not has_default:
            # Said here: octoDNS would log a traceback first.
            raise _issue(dns, key, f"the environment variable {variable} is not set")
        return EnvironSecrets("env").fetch(name, None)
    return value


def load_provider(dns: DnsConfig):
    """An instance of the provider class with the section's options."""
    cls = provider_class(dns)
    options = {k: v for k, v in dns.provider.items() if k != "class"}
    kwargs = _resolve(options, "", dns)
    try:
        return cls(PROVIDER_ID, **kwargs)
    except TypeError as exc:
        match = re.search(r"unexpected keyword argument '([^']+)'", str(exc))
        if match:
            raise _issue(dns, match.group(1), f"{dns.provider_class} takes no option {match.group(1)!r}") from None
        raise _issue(dns, "", f"{dns.provider_class} rejects these options: {exc}") from None
    except Exception as exc:  # a provider's own check of its options, or a failed lookup of its host
        raise DnsError(f"{dns.provider_class} could not start: {explain(exc)}") from None


def explain(exc: BaseException) -> str:
    """A provider or network error in a line, with the likely cause."""
    text = str(exc) or exc.__class__.__name__
    lower = text.lower()
    if "peer didn't" in lower or any(code in text for code in ("BADSIG", "BADKEY", "BADTIME", "NOTAUTH")):
        return f"{text} (the server rejected the TSIG key: check key_name, key_secret and key_algorithm)"
    if "REFUSED" in text:
        return f"{text} (the server refused: does it allow zone transfers and updates of this zone with this key?)"
    if "timed out" in lower or "timeout" in lower or "connection refused" in lower:
        return f"{text} (is the server reachable at the configured host and port?)"
    return text


def _enable_validators() -> None:
    # What octoDNS's Manager enables unless told otherwise; without it
    # octoDNS warns on every record.
    from octodns.record import Record
    from octodns.zone import Zone

    Record.enable_validators(("legacy",))
    Zone.enable_zone_validators(("legacy",))


def _values(record) -> tuple[str, ...]:
    values = getattr(record, "values", None)
    if values is None:
        values = [record.value]
    return tuple(v.to_raw_text() if hasattr(v, "to_raw_text") else str(v) for v in values)


def record_set(record) -> RecordSet | None:
    return None if record is None else RecordSet(record.name, record._type, record.ttl, _values(record))


def read_zone(provider, zone_name: str):
    """The zone as the provider has it: (octoDNS zone, record sets by (name, type))."""
    from octodns.zone import Zone

    _enable_validators()
    zone = Zone(zone_name + ".", [])
    try:
        # target=False: the zone's real content; in target mode some
        # providers report an empty zone, which a plan would then overwrite.
        exists = provider.populate(zone, target=False, lenient=True)
    except Exception as exc:
        raise DnsError(f"could not read the zone {zone_name} from {type(provider).__name__}: {explain(exc)}") from None
    if exists is False:
        raise DnsError(f"{type(provider).__name__} has no zone {zone_name}; create it there, or set dns.zone to the zone that holds the domain")
    return zone, {(r.name, r._type): record_set(r) for r in zone.records}


def _record(zone, wanted: RecordSet):
    from octodns.record import Record
    from octodns.record.txt import TxtValue

    data: dict[str, Any] = {"type": wanted.type, "ttl": wanted.ttl}
    if wanted.type == "TXT":
        data["values"] = [TxtValue.normalize_raw_text(v) for v in wanted.values]
    else:
        [data["value"]] = wanted.values
    return Record.new(zone, wanted.name, data, lenient=True)


def plan_zone(provider, zone, wanted: dict[tuple[str, str], RecordSet]):
    """octoDNS's plan from the zone as it is to the zone with ``wanted`` in
    place: (plan or None, its changes as record sets)."""
    desired = zone.copy()
    for record_set_wanted in wanted.values():
        desired.add_record(_record(desired, record_set_wanted), replace=True, lenient=True)
    # The root NS records are the zone's own, never ours to configure:
    # octoDNS's notice that the plan holds none would only puzzle on every run.
    provider.root_ns_warnings = False
    try:
        plan = provider.plan(desired)
    except Exception as exc:
        raise DnsError(f"{type(provider).__name__} could not plan the changes to {zone.decoded_name}: {explain(exc)}") from None
    if plan is None:
        return None, []
    return plan, [SetChange(c.record.name, c.record._type, record_set(c.existing), record_set(c.new)) for c in plan.changes]


def apply_plan(provider, plan) -> None:
    try:
        provider.apply(plan)
    except Exception as exc:
        raise DnsError(f"{type(provider).__name__} failed to apply the changes to {plan.desired.decoded_name}: {explain(exc)}; "
                       "an RFC 2136 server takes an update whole or not at all, other providers may have made part of it: "
                       "run `mta-sts-pages dns diff` to see", applying=True) from None
