"""Jinja filters for cookiecutter.json, loaded through its "_extensions" key.

This file sits beside cookiecutter.json, outside the rendered folder, so it
is not copied into the new repository.
"""

from __future__ import annotations

import idna  # cookiecutter depends on requests, which depends on idna
from cookiecutter.utils import simple_filter


@simple_filter
def alabel(domain: str) -> str:
    """The domain in A-labels, converted as mta-sts-pages converts it (IDNA
    2008 with UTS 46 mapping). Python's "idna" codec is IDNA 2003, which
    turns faß.de into fass.de: another domain, whose owner would then get
    the TLS reports."""
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        # Left as typed: mta-sts-pages validate names the bad domain in
        # mta-sts.yml, which a traceback from the prompt would not.
        return domain
