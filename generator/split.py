"""One domain's own `mta-sts.yml`, for a repository that holds only its
config (way 2): the action builds one domain per config, so a domain of a
multi-domain config gets a config of its own, with the defaults merged in
as `load` merges them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from generator.config import Config, DomainConfig, merged_entry


def domain_configs(config: Config) -> Callable[[DomainConfig], bytes]:
    """Each domain's own config: the config file itself for a one-domain
    config (comments kept); for a multi-domain config, the domain's entry
    over the defaults. The file is read and parsed once for all its domains."""
    text = Path(config.file).read_bytes()
    if not config.multi:
        return lambda domain: text
    data = yaml.safe_load(text)
    defaults = data.get("defaults") or {}
    # load() keeps the entries' order and refuses duplicates, so the n-th
    # domain is the n-th entry.
    entries = {domain.domain: entry for domain, entry in zip(config.domains, data["domains"])}
    source = Path(config.file).name

    def cut(domain: DomainConfig) -> bytes:
        head = (f"# The config of {domain.domain}, cut by mta-sts-pages pages setup from {source}\n"
                "# (its defaults merged in): edit it there and run pages setup again.\n")
        merged = merged_entry(entries[domain.domain], defaults)
        return (head + yaml.safe_dump(merged, sort_keys=False, allow_unicode=True)).encode()

    return cut
