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


def _free_udp_port() -> int:
    """A loopback UDP port nothing listens on: queries there get an ICMP 'port unreachable'."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("why", ["refused-connection", "refused-query"])
def test_a_resolver_that_cannot_be_asked_is_one_finding_that_names_it(why, dns_server_factory) -> None:
    """Four lookups, one cause: the report names the resolver once and does
    not send the user to the domain's name servers."""
    if why == "refused-connection":
        server, said = f"127.0.0.1:{_free_udp_port()}", "Connection refused"
    else:  # an authoritative server asked about a zone it does not serve answers REFUSED
        server, said = dns_server_factory({"other.test": minimal_zone("other.test")}).address, "answered REFUSED"
    run = run_check_json("example.test", "--nameserver", server, "--timeout", "5")
    failed = [f for f in run.report("example.test")["findings"] if f["severity"] == "error"]
    assert len(failed) == 1, failed
    assert failed[0]["code"] == "dns-lookup-failed"
    assert f"the DNS resolver could not be asked ({server}: {said})" in failed[0]["message"]
    assert "--nameserver" in failed[0]["fix"] and "domain's name servers" not in failed[0]["fix"]


@pytest.mark.timeout(30)
def test_a_domain_that_does_not_exist_is_named_so_by_check_and_init(tmp_path, dns_server_factory) -> None:
    from tests.support.cli import run_cli

    nsd = dns_server_factory({"com": minimal_zone("com")})  # answers NXDOMAIN for gmail.com
    run = run_check_json("gmail.com", "--nameserver", nsd.address, "--timeout", "5")
    mx = [f for f in run.report("gmail.com")["findings"] if f["code"] == "mx-records-missing"]
    assert len(mx) == 1 and "gmail.com does not exist in DNS (NXDOMAIN)" in mx[0]["message"], mx
    result = run_cli("init", "gmail.com", "--nameserver", nsd.address, "-o", tmp_path / "mta-sts.yml")
    assert result.code == 2, result.output
    assert "gmail.com does not exist in DNS" in result.err and "has no MX host" not in result.err
    assert not (tmp_path / "mta-sts.yml").exists()


@pytest.mark.timeout(30)
def test_verify_on_a_resolver_that_cannot_be_asked_blames_the_resolver(tmp_path) -> None:
    from tests.support.cli import run_cli

    policy = tmp_path / "mta-sts.txt"
    policy.write_bytes(policy_bytes("example.test"))
    result = run_cli("verify", "example.test", "--policy", policy, "--nameserver", f"127.0.0.1:{_free_udp_port()}", "--wait", "0", "--timeout", "5")
    assert result.code == 1, result.output
    assert "[policy-connect-failed]" in result.out
    assert "fix: give a resolver that answers recursive queries" in result.out and "point mta-sts.example.test" not in result.out
