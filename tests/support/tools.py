"""Locate the external programs that tests drive, failing loudly under CI."""

from __future__ import annotations

import os
import shutil

import pytest

# Debian package that ships each tool the tests use, for the skip message.
DEBIAN_PACKAGES = {
    "nsd": "nsd",
    "nsd-checkzone": "nsd",
    "knotd": "knot",
    "kzonecheck": "knot",
    "named-checkzone": "bind9-utils",
    "named": "bind9",
    "jekyll": "jekyll",
    "nginx": "nginx",
    "openssl": "openssl",
    "dovecot": "dovecot-imapd",
    "shellcheck": "shellcheck",
    "cmark-gfm": "cmark-gfm",
    "gh": "gh",
    "git": "git",
}

# Daemons live in sbin, which a non-root PATH often lacks.
_EXTRA_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def find_tool(name: str) -> str | None:
    """Return the path of executable ``name`` (PATH, then the sbin dirs), or None."""
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *_EXTRA_DIRS])
    return shutil.which(name, path=search)


def require_tool(name: str) -> str:
    """Return the path of ``name``; skip the test if it is missing, fail under CI=true.

    CI must never pass by skipping: a missing tool there is a broken setup.
    """
    path = find_tool(name)
    if path is not None:
        return path
    package = DEBIAN_PACKAGES.get(name, name)
    message = f"{name} is not installed (install it with: apt-get install -y {package})"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
