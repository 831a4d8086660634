"""One domain's own `mta-sts.yml`, for a repository that holds only its
config (way 2): the action builds one domain per config, so a domain of a
multi-domain config gets a config of its own, with the defaults merged in
as `load` merges them."""

from __future__ import annotations

from pathlib import Path

import yaml

from generator.config import Config, DomainConfig, merged_entry


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
    merged = merged_entry(entry, data.get("defaults") or {})
    head = (f"# The config of {domain.domain}, cut by mta-sts-pages pages setup from {Path(config.file).name}\n"
            "# (its defaults merged in): edit it there and run pages setup again.\n")
    return (head + yaml.safe_dump(merged, sort_keys=False, allow_unicode=True)).encode()
