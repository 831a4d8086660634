"""`check` asks each DNS question once per domain: DNS is a large part of a
check's CPU time (benchmarks/bench_check.py)."""

from __future__ import annotations

import pytest

from generator.check.dns import Resolver
from tests.support.check_run import HEALTHY, policy_bytes, run_check_json
from tests.support.dns_server import minimal_zone
from tests.support.tls_server import Route


@pytest.mark.timeout(30)
def test_the_fetch_connects_to_the_address_already_looked_up(monkeypatch, dns_server_factory, tls_server_factory) -> None:
    domain = "once.test"
    nsd = dns_server_factory({domain: minimal_zone(domain, HEALTHY)})
    https = tls_server_factory()
    https.route(f"mta-sts.{domain}", Route(body=policy_bytes(domain)))
    asked = []
    lookup = Resolver.lookup

    async def recording(self, name: str, rdtype: str, *deadline: float):
        asked.append((name, rdtype))
        return await lookup(self, name, rdtype, *deadline)

    monkeypatch.setattr(Resolver, "lookup", recording)
    # The rule changes only the port, so the fetch still needs the host's address.
    run = run_check_json(domain, "--nameserver", nsd.address, "--ca-file", str(https.ca_pem_path),
                         "--connect-to", f"mta-sts.{domain}:443::{https.port}")

    assert run.report(domain)["result"] == "ok", run.report(domain)["findings"]
    assert sorted(asked) == sorted([(f"_mta-sts.{domain}", "TXT"), (f"_smtp._tls.{domain}", "TXT"), (domain, "MX"), (f"mta-sts.{domain}", "A")])
    assert [r.sni for r in https.requests] == [f"mta-sts.{domain}"]
