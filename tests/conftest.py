"""Shared fixtures: real DNS, HTTPS and SMTP servers on 127.0.0.1 (tests/support)."""

from tests.support.fixtures import (  # noqa: F401 - imported to register the fixtures
    bind_server_factory,
    dns_server_factory,
    _no_github_token,
    local_github,
    smtp_server_factory,
    test_ca,
    tls_server_factory,
)
