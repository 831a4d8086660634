"""`build`: config in, site folders out."""

from __future__ import annotations

from pathlib import Path

from generator.config import Config
from generator.site import INDEX_PATH, site_files
from generator.writer import Plan, write_sites


def site_folder(config: Config, out: Path, domain: str) -> Path:
    """A single-domain site fills ``out``; many domains get ``out/<domain>``."""
    return out / domain if config.multi else out


def build(config: Config, out: Path, adopt: bool = False) -> list[Plan]:
    sites = {site_folder(config, out, d.domain): site_files(d) for d in config.domains}
    return write_sites(out, sites, adopt, {INDEX_PATH: "to keep your own landing page, set pages.index: false"})
