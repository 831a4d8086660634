"""One domain's own `mta-sts.yml`, for a repository that holds only its
config (way 2): the action builds one domain per config, so a domain of a
multi-domain config gets a config of its own, with the defaults merged in
as `load` merges them."""

from __future__ import annotations

from pathlib import Path

import yaml

from generator.config import Config, DomainConfig

# Sections a domain overrides key by key; any other (tlsrpt) it replaces whole.
_MERGED = ("policy", "pages", "monitor", "dns")


def domain_config(config: Config, domain: DomainConfig) -> bytes:
    """The config file itself for a one-domain config (comments kept); for a
    multi-domain config, the domain's entry over the defaults."""
    text = Path(config.file).read_bytes()
    if not config.multi:
        return text
    data = yaml.safe_load(text)
    # load() keeps the entries' order and refuses duplicates, so the n-th
    # domain is the n-th entry.
    entry = data["domains"][config.domains.index(domain)]
    defaults = data.get("defaults") or {}
    merged: dict = {"domain": entry["domain"]}
    for section in ("policy", "tlsrpt", "pages", "monitor", "dns"):
        own, shared = entry.get(section), defaults.get(section)
        if section in _MERGED and isinstance(own, dict) and isinstance(shared, dict):
            merged[section] = {**shared, **own}
        elif own is not None or shared is not None:
            merged[section] = own if own is not None else shared
    head = (f"# The config of {domain.domain}, cut by mta-sts-pages pages setup from {Path(config.file).name}\n"
            "# (its defaults merged in): edit it there and run pages setup again.\n")
    return (head + yaml.safe_dump(merged, sort_keys=False, allow_unicode=True)).encode()
