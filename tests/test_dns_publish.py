"""`dns diff` and `dns apply` against a real BIND 9 primary taking RFC 2136
updates signed with TSIG, through octoDNS's RFC 2136 provider (octodns-bind).

Every scenario compares full zone transfers before and after: only the
records this tool owns may change. The policy host is a real HTTPS server
with the test CA, reached with --connect-to as `check` does.
"""

from __future__ import annotations

import dataclasses
import selectors
import socket
from pathlib import Path

import pytest
import yaml

from generator.check.https import POLICY_PATH
from generator.config import loads
from tests.support.bind_server import BindServer, TsigKey, start_named
from tests.support.cli import run_cli
from tests.support.dns_server import minimal_zone
from tests.support.tcp import ThreadedTcpServer
from tests.support.tls_server import Route, TlsServer

pytestmark = pytest.mark.timeout(120)

ZONE = "example.com"
HOST = f"mta-sts.{ZONE}"
# Records nobody asked this tool to touch, several at the names it owns.
OTHER_RECORDS = """\
@ IN MX 10 mx1
@ IN TXT "v=spf1 mx -all"
@ IN SPF "v=spf1 mx -all"
mx1 IN A 192.0.2.25
www IN A 192.0.2.80
_mta-sts IN TXT "google-site-verification=keep-me"
_mta-sts IN SPF "v=spf1 -all"
_mta-sts IN TXT "v=STSv1; id=old1"
_smtp._tls IN TXT "v=spf1 -all"
_smtp._tls IN SPF "v=spf1 -all"
"""
CONFIG = """\
domain: example.com
policy:
  mode: testing
  mx: ['{mx}']
  max_age: 1d
tlsrpt:
  rua: [{rua}]
pages:
  owner: example-org
dns:
  provider:
    class: octodns_bind.Rfc2136Provider
    host: 127.0.0.1
    port: {port}
    key_name: env/TSIG_KEY_NAME
    key_secret: env/TSIG_KEY_SECRET
    key_algorithm: hmac-sha256
"""


@pytest.fixture
def named(bind_server_factory, monkeypatch) -> BindServer:
    server = bind_server_factory({ZONE: minimal_zone(ZONE, OTHER_RECORDS)})
    monkeypatch.setenv("TSIG_KEY_NAME", server.key.name)
    monkeypatch.setenv("TSIG_KEY_SECRET", server.key.secret)
    return server


@dataclasses.dataclass
class Setup:
    named: BindServer
    web: TlsServer
    config: Path

    def write(self, mx: str = "mx1.example.com", rua: str = "mailto:tls@example.com"):
        self.config.write_text(CONFIG.format(port=self.named.port, mx=mx, rua=rua))
        return loads(self.config.read_text()).domains[0]

    def serve(self, domain) -> None:
        self.web.route(HOST, Route(body=domain.policy_bytes), POLICY_PATH)

    def dns(self, verb: str, *extra: str):
        return run_cli("dns", verb, "-c", self.config, "--ca-file", self.web.ca_pem_path,
                       "--connect-to", f"{HOST}:443:127.0.0.1:{self.web.port}", "--timeout", "10", *extra)

    def zone(self) -> set[tuple[str, int, str, str]]:
        return set(self.named.transfer(ZONE))


@pytest.fixture
def setup(named, tls_server_factory, tmp_path) -> Setup:
    return Setup(named, tls_server_factory(), tmp_path / "mta-sts.yml")


def row(name: str, rtype: str, value: str, ttl: int = 300) -> tuple[str, int, str, str]:
    return (f"{name}.{ZONE}.", ttl, rtype, value)


def test_apply_publishes_the_owned_records_and_leaves_every_other_record(setup):
    domain = setup.write()
    setup.serve(domain)
    before = setup.zone()

    diff = setup.dns("diff")
    assert diff.code == 1, diff.output
    assert setup.zone() == before, "diff must change nothing"
    assert "3 changes pending" in diff.out, diff.out
    assert f'~ _mta-sts.{ZONE}. TXT "v=STSv1; id=old1" -> "v=STSv1; id={domain.id}"' in diff.out

    applied = setup.dns("apply")
    assert applied.code == 0, applied.output
    after = setup.zone()

    assert before - after == {row("_mta-sts", "TXT", '"v=STSv1; id=old1"')}
    assert after - before == {
        row("_mta-sts", "TXT", f'"v=STSv1; id={domain.id}"'),
        row("_smtp._tls", "TXT", '"v=TLSRPTv1; rua=mailto:tls@example.com"'),
        row("mta-sts", "CNAME", "example-org.github.io.", ttl=3600),
    }

    again = setup.dns("diff")
    assert again.code == 0, again.output
    assert f"{ZONE}: in sync" in again.out
    for run in (diff, applied, again):  # the TSIG secret never reaches a log
        assert setup.named.key.secret not in run.output


def test_a_policy_change_moves_only_the_id(setup):
    setup.serve(setup.write())
    assert setup.dns("apply").code == 0
    before = setup.zone()

    changed = setup.write(mx="*.example.com")
    setup.serve(changed)
    result = setup.dns("apply")

    assert result.code == 0, result.output
    after = setup.zone()
    [old] = before - after
    assert old[:3] == (f"_mta-sts.{ZONE}.", 300, "TXT")
    assert after - before == {row("_mta-sts", "TXT", f'"v=STSv1; id={changed.id}"')}


def test_a_stale_live_policy_holds_the_id_back_and_the_rest_goes_out(setup):
    served = setup.write()
    setup.serve(served)
    assert setup.dns("apply").code == 0
    before = setup.zone()

    setup.write(mx="*.example.com", rua="mailto:reports@example.com")  # the site still serves the old policy
    result = setup.dns("apply")

    assert result.code == 1, result.output
    assert f"_mta-sts.{ZONE}. TXT stays \"v=STSv1; id={served.id}\"" in result.out
    assert "does not serve the built policy yet" in result.out and "mx *.example.com missing" in result.out
    after = setup.zone()
    assert before - after == {row("_smtp._tls", "TXT", '"v=TLSRPTv1; rua=mailto:tls@example.com"')}
    assert after - before == {row("_smtp._tls", "TXT", '"v=TLSRPTv1; rua=mailto:reports@example.com"')}

    forced = setup.dns("apply", "--force")
    assert forced.code == 0, forced.output
    assert "warning: --force" in forced.err and "WITHOUT checking" in forced.err
    assert (set(setup.zone()) - after) == {row("_mta-sts", "TXT", f'"v=STSv1; id={loads(setup.config.read_text()).domains[0].id}"')}


def test_nameserver_is_where_the_policy_host_is_looked_up(setup, dns_server_factory):
    """--nameserver: the policy check before a new id goes out looks the
    policy host up at that server (NSD here, holding the domain as the
    world sees it), not at the system's resolver; --connect-to keeps the
    name and changes only the port."""
    domain = setup.write()
    setup.serve(domain)
    world = dns_server_factory({ZONE: minimal_zone(ZONE, f"mta-sts IN A {setup.web.host}\n")})
    before = setup.zone()

    def dns(verb: str, nameserver: str):
        return run_cli("dns", verb, "-c", setup.config, "--nameserver", nameserver, "--ca-file", setup.web.ca_pem_path,
                       "--connect-to", f"{HOST}:443::{setup.web.port}", "--timeout", "10")

    # BIND's zone has no address for the policy host: the id waits.
    unresolved = dns("diff", setup.named.address)
    assert unresolved.code == 1, unresolved.output
    assert "the new _mta-sts id waits for the new policy" in unresolved.out and 'stays "v=STSv1; id=old1"' in unresolved.out

    diff = dns("diff", world.address)
    assert diff.code == 1, diff.output
    assert "3 changes pending (" in diff.out, diff.out
    assert f'~ _mta-sts.{ZONE}. TXT "v=STSv1; id=old1" -> "v=STSv1; id={domain.id}"' in diff.out
    assert setup.zone() == before

    applied = dns("apply", world.address)
    assert applied.code == 0, applied.output
    assert before - setup.zone() == {row("_mta-sts", "TXT", '"v=STSv1; id=old1"')}
    assert row("_mta-sts", "TXT", f'"v=STSv1; id={domain.id}"') in setup.zone()
    assert [r.sni for r in setup.web.requests] == [HOST, HOST]


def test_nothing_is_published_before_the_policy_is_served(setup):
    domain = setup.write()
    before = setup.zone()

    result = setup.dns("apply")  # no route: the policy host answers 404

    assert result.code == 1, result.output
    assert 'stays "v=STSv1; id=old1"' in result.out and "404" in result.out
    assert f'publish "v=STSv1; id={domain.id}"' in result.out
    after = setup.zone()
    assert before - after == set()
    assert {r[:3] for r in after - before} == {(f"_smtp._tls.{ZONE}.", 300, "TXT"), (f"mta-sts.{ZONE}.", 3600, "CNAME")}


def test_a_wrong_tsig_key_is_a_clear_error_and_changes_nothing(setup, monkeypatch):
    setup.serve(setup.write())
    before = setup.zone()
    wrong = TsigKey.random().secret
    monkeypatch.setenv("TSIG_KEY_SECRET", wrong)

    for verb in ("diff", "apply"):
        result = setup.dns(verb)
        assert result.code == 2, result.output
        assert f"error: {ZONE}: could not read the zone {ZONE}" in result.err
        assert "the server rejected the TSIG key" in result.err
        assert "Traceback" not in result.output
    assert "nothing was changed" in result.err
    assert setup.zone() == before
    assert wrong not in result.output and setup.named.key.secret not in result.output


def test_a_refused_update_is_a_clear_error_and_changes_nothing(tls_server_factory, tmp_path, monkeypatch):
    key = TsigKey.random()
    monkeypatch.setenv("TSIG_KEY_NAME", key.name)
    monkeypatch.setenv("TSIG_KEY_SECRET", key.secret)
    with start_named({ZONE: minimal_zone(ZONE, OTHER_RECORDS)}, tmp_path, key, updates=False) as read_only:
        setup = Setup(read_only, tls_server_factory(), tmp_path / "mta-sts.yml")
        setup.serve(setup.write())
        before = setup.zone()

        result = setup.dns("apply")

        assert result.code == 2, result.output
        assert "failed to apply the changes to example.com.: Unable to perform update: REFUSED (the server refused" in result.err
        assert "run `mta-sts-pages dns diff` to see" in result.err and "nothing was changed" not in result.err
        assert setup.zone() == before


def test_mode_none_keeps_the_record_and_says_how_to_retire(setup):
    setup.config.write_text(CONFIG.format(port=setup.named.port, mx="mx1.example.com", rua="mailto:tls@example.com")
                            .replace("mode: testing", "mode: none"))
    domain = loads(setup.config.read_text()).domains[0]
    setup.serve(domain)

    result = setup.dns("apply")

    assert result.code == 0, result.output
    assert "RFC 8461 §8.3" in result.out and "never deletes" in result.out
    assert row("_mta-sts", "TXT", f'"v=STSv1; id={domain.id}"') in setup.zone()


def test_many_domains_share_a_zone_and_a_provider_from_defaults(setup):
    text = f"""\
defaults:
  policy: {{mode: testing, mx: [mx1.example.com]}}
  dns:
    zone: example.com
    provider:
      class: octodns_bind.Rfc2136Provider
      host: 127.0.0.1
      port: {setup.named.port}
      key_name: env/TSIG_KEY_NAME
      key_secret: env/TSIG_KEY_SECRET
      key_algorithm: hmac-sha256
domains:
  - domain: example.com
  - domain: eu.example.com
    policy: {{mode: enforce}}
"""
    setup.config.write_text(text)
    domains = loads(text).domains
    for domain in domains:
        setup.web.route(domain.policy_host, Route(body=domain.policy_bytes), POLICY_PATH)
    before = setup.zone()

    result = run_cli("dns", "apply", "-c", setup.config, "--ca-file", setup.web.ca_pem_path,
                     "--connect-to", f"::127.0.0.1:{setup.web.port}", "--timeout", "10")

    assert result.code == 0, result.output
    assert [line.split(":")[0] for line in result.out.splitlines() if "applied" in line] == ["example.com", "eu.example.com"]
    after = setup.zone()
    assert before - after == {row("_mta-sts", "TXT", '"v=STSv1; id=old1"')}
    assert after - before == {
        row("_mta-sts", "TXT", f'"v=STSv1; id={domains[0].id}"'),
        row("_mta-sts.eu", "TXT", f'"v=STSv1; id={domains[1].id}"', ttl=3600),
    }
    assert run_cli("dns", "diff", "eu.example.com", "-c", setup.config, "--connect-to", f"::127.0.0.1:{setup.web.port}").code == 0


YAML_ZONE = """\
---
? ''
: - type: MX
    value:
      exchange: mx1.example.com.
      preference: 10
  - type: TXT
    value: v=spf1 mx -all
_mta-sts:
  type: TXT
  values:
  - keep=1
  - v=STSv1\\; id=old1
www:
  type: A
  value: 192.0.2.80
"""
FILE_PROVIDER = """\
domain: example.com
policy:
  mx: [mx1.example.com]
tlsrpt:
  rua: ['mailto:tls@example.com']
dns:
  provider:
    class: {cls}
    directory: {directory}
{extra}"""


def test_octodns_yaml_provider_keeps_the_other_records(tmp_path):
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "example.com.yaml").write_text(YAML_ZONE)
    config = tmp_path / "mta-sts.yml"
    config.write_text(FILE_PROVIDER.format(cls="octodns.provider.yaml.YamlProvider", directory=zones, extra="    escaped_semicolons: true\n"))
    domain = loads(config.read_text()).domains[0]

    result = run_cli("dns", "apply", "--force", "--rewrite-files", "-c", config)

    assert result.code == 0, result.output
    written = yaml.safe_load((zones / "example.com.yaml").read_text())
    before = yaml.safe_load(YAML_ZONE)
    assert {k: v for k, v in written.items() if k not in ("_mta-sts", "_smtp._tls")} == {k: v for k, v in before.items() if k != "_mta-sts"}
    assert written["_mta-sts"]["values"] == ["keep=1", f"v=STSv1\\; id={domain.id}"]
    assert written["_smtp._tls"]["value"] == "v=TLSRPTv1\\; rua=mailto:tls@example.com"
    # A short TTL while testing: --ttl sets it on the sets this tool owns, and nowhere else.
    result = run_cli("dns", "apply", "--force", "--rewrite-files", "-c", config, "--ttl", "300")
    assert result.code == 0, result.output
    assert "(TTL 3600 -> 300)" in result.out
    written = yaml.safe_load((zones / "example.com.yaml").read_text())
    assert (written["_mta-sts"]["ttl"], written["_smtp._tls"]["ttl"]) == (300, 300)
    assert "ttl" not in written["www"]


def test_dns_says_nothing_of_root_ns_and_asks_to_apply_again_only_after_an_apply(tmp_path):
    """The zone's NS records are never this tool's: octoDNS's notice about
    them is not shown. Before any apply, the held id asks for `dns apply`;
    after one, for `dns apply` again."""
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "example.com.yaml").write_text(YAML_ZONE)
    config = tmp_path / "mta-sts.yml"
    config.write_text(FILE_PROVIDER.format(cls="octodns.provider.yaml.YamlProvider", directory=zones, extra="    escaped_semicolons: true\n"))
    # Nothing listens there: the policy host has no address, so the new id is held back.
    nowhere = ["--nameserver", "127.0.0.1:1", "--timeout", "2"]

    diff = run_cli("dns", "diff", "-c", config, *nowhere)
    assert diff.code == 1, diff.output
    assert "Deploy the site, then run `mta-sts-pages dns apply` to publish" in diff.out
    applied = run_cli("dns", "apply", "--rewrite-files", "-c", config, *nowhere)
    assert "Deploy the site, then run `mta-sts-pages dns apply` again to publish" in applied.out
    for result in (diff, applied):
        assert "root NS" not in result.err and "octoDNS:" not in result.err, result.err


@pytest.mark.parametrize("cls", ["octodns.provider.yaml.YamlProvider", "octodns.provider.yaml.SplitYamlProvider", "octodns_bind.ZoneFileProvider"])
def test_a_provider_that_rewrites_zone_files_needs_rewrite_files(tmp_path, cls):
    """octoDNS's YamlProvider dumps the whole zone file again: the values
    stay, the comments go. `dns apply` says so and changes nothing unless
    told; `dns diff` still shows the plan."""
    zones = tmp_path / "zones"
    zones.mkdir()
    text = "# Keep: the office's records, see ticket 12.\n" + YAML_ZONE
    for name in ("example.com.yaml", "example.com."):
        (zones / name).write_text(text)
    config = tmp_path / "mta-sts.yml"
    config.write_text(FILE_PROVIDER.format(cls=cls, directory=zones, extra="    escaped_semicolons: true\n" if "Yaml" in cls else ""))

    result = run_cli("dns", "apply", "--force", "-c", config)

    assert result.code == 2, result.output
    assert f"{cls} rewrites its zone files whole" in result.err and "--rewrite-files" in result.err, result.err
    assert "nothing was changed" in result.err
    assert sorted(p.name for p in zones.iterdir()) == ["example.com.", "example.com.yaml"]
    assert all((zones / name).read_text() == text for name in ("example.com.yaml", "example.com."))


def test_a_provider_that_writes_whole_zones_from_a_plan_is_refused(tmp_path):
    zones = tmp_path / "zones"
    zones.mkdir()
    text = "$ORIGIN example.com.\n@ 300 IN SOA ns1 hostmaster 1 3600 900 604800 300\n@ 300 IN NS ns1\nns1 300 IN A 192.0.2.1\nwww 300 IN A 192.0.2.80\n"
    (zones / "example.com.").write_text(text)
    config = tmp_path / "mta-sts.yml"
    config.write_text(FILE_PROVIDER.format(cls="octodns_bind.ZoneFileProvider", directory=zones, extra=""))

    result = run_cli("dns", "apply", "--force", "--rewrite-files", "-c", config)

    assert result.code == 2, result.output
    assert "refusing octoDNS's plan for example.com: it would change" in result.err and "a record this tool does not own" in result.err
    assert "nothing was changed" in result.err
    assert (zones / "example.com.").read_text() == text


def test_a_record_the_server_drops_is_reported_after_apply(bind_server_factory, tls_server_factory, tmp_path, monkeypatch):
    # A URI record octoDNS's RFC 2136 provider does not read: the CNAME
    # looks free, and BIND silently ignores a CNAME beside other data.
    named = bind_server_factory({ZONE: minimal_zone(ZONE, OTHER_RECORDS + 'mta-sts IN URI 10 1 "https://example.net/"\n')})
    monkeypatch.setenv("TSIG_KEY_NAME", named.key.name)
    monkeypatch.setenv("TSIG_KEY_SECRET", named.key.secret)
    setup = Setup(named, tls_server_factory(), tmp_path / "mta-sts.yml")
    setup.serve(setup.write())

    result = setup.dns("apply")

    assert result.code == 1, result.output
    assert f"reading the zone back does not show mta-sts.{ZONE}. CNAME example-org.github.io." in result.err
    assert row("mta-sts", "CNAME", "example-org.github.io.", ttl=3600) not in setup.zone()


def test_a_shared_name_whose_values_had_different_ttls_keeps_the_others(bind_server_factory, tls_server_factory, tmp_path, monkeypatch):
    """A zone file that gave the values at _mta-sts different TTLs: BIND
    holds one TTL per set (the first), and apply keeps that TTL and every
    value it does not own."""
    records = OTHER_RECORDS.replace('_mta-sts IN TXT "google-site-verification=keep-me"', '_mta-sts 7200 IN TXT "google-site-verification=keep-me"')
    server = bind_server_factory({ZONE: minimal_zone(ZONE, records)})
    monkeypatch.setenv("TSIG_KEY_NAME", server.key.name)
    monkeypatch.setenv("TSIG_KEY_SECRET", server.key.secret)
    setup = Setup(server, tls_server_factory(), tmp_path / "mta-sts.yml")
    domain = setup.write()
    setup.serve(domain)
    before = setup.zone()
    [ttl] = {r[1] for r in before if r[0] == f"_mta-sts.{ZONE}." and r[2] == "TXT"}

    result = setup.dns("apply")

    assert result.code == 0, result.output
    after = setup.zone()
    assert before - after == {row("_mta-sts", "TXT", '"v=STSv1; id=old1"', ttl)}
    assert row("_mta-sts", "TXT", f'"v=STSv1; id={domain.id}"', ttl) in after
    assert row("_mta-sts", "TXT", '"google-site-verification=keep-me"', ttl) in after
    assert setup.dns("diff").code == 0


def test_records_beside_the_mta_sts_name_keep_the_cname_out_and_change_nothing(bind_server_factory, tls_server_factory, tmp_path, monkeypatch):
    """pages.owner wants mta-sts CNAME <owner>.github.io, but the name holds an
    address and a TXT record: a CNAME cannot sit beside them, so apply says
    so and leaves the zone as it was."""
    server = bind_server_factory({ZONE: minimal_zone(ZONE, OTHER_RECORDS + 'mta-sts IN A 192.0.2.80\nmta-sts IN TXT "site"\n')})
    monkeypatch.setenv("TSIG_KEY_NAME", server.key.name)
    monkeypatch.setenv("TSIG_KEY_SECRET", server.key.secret)
    setup = Setup(server, tls_server_factory(), tmp_path / "mta-sts.yml")
    setup.serve(setup.write())
    before = setup.zone()

    result = setup.dns("apply")

    assert result.code == 2, result.output
    assert f"error: {ZONE}: {HOST} has A, TXT records, and a CNAME cannot sit beside other records" in result.err
    assert f"{ZONE}: nothing was changed" in result.err and "Traceback" not in result.output
    assert setup.zone() == before


# --- Faults: an apply that fails halfway --------------------------------------

UPDATE = 5  # the DNS opcode of an RFC 2136 update


class CutAfterUpdate:
    """A TCP relay in front of named that, for the ``cut``-th update (1-based;
    0: none), passes the update on and then cuts the connection before the
    answer: named has made the change, the provider sees a network failure
    halfway through its batches."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.cut = 0
        self.updates = 0
        self.server = ThreadedTcpServer(self._relay)

    def _relay(self, client: socket.socket) -> None:
        with socket.create_connection(("127.0.0.1", self.upstream), timeout=10) as named:
            client.settimeout(10)
            request = _read_message(client)
            named.sendall(request)
            if (request[4] >> 3) & 0xF == UPDATE:
                self.updates += 1
                if self.updates == self.cut:
                    _read_message(named)  # taken by named, never answered
                    return
            with selectors.DefaultSelector() as both:
                both.register(client, selectors.EVENT_READ, named)
                both.register(named, selectors.EVENT_READ, client)
                while True:
                    for key, _ in both.select(timeout=10):
                        data = key.fileobj.recv(65536)
                        if not data:
                            return
                        key.data.sendall(data)


def _read_message(conn: socket.socket) -> bytes:
    """One length-prefixed DNS message over TCP, with its prefix."""
    wire = b""
    while len(wire) < 2 or len(wire) < 2 + int.from_bytes(wire[:2], "big"):
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed mid-message")
        wire += chunk
    return wire


@pytest.fixture
def cutting(named, tls_server_factory, tmp_path):
    relay = CutAfterUpdate(named.port)
    with relay.server:
        setup = Setup(named, tls_server_factory(), tmp_path / "mta-sts.yml")
        # One update per record set, through the relay: a failure can fall between them.
        setup.write = lambda: _write_through(setup, relay.server.port)
        yield setup, relay


def _write_through(setup: Setup, port: int):
    setup.config.write_text(CONFIG.format(port=port, mx="mx1.example.com", rua="mailto:tls@example.com") + "    update_batch_size: 1\n")
    return loads(setup.config.read_text()).domains[0]


def test_an_apply_cut_halfway_converges_and_the_id_waits_for_the_policy(cutting):
    """The connection drops after named took the first of two updates: exit 2
    and a hint to run diff; the next apply makes the rest, and the id still
    moves only once the new policy is served."""
    setup, relay = cutting
    domain = setup.write()
    before = setup.zone()
    wanted = {row("_smtp._tls", "TXT", '"v=TLSRPTv1; rua=mailto:tls@example.com"'), row("mta-sts", "CNAME", "example-org.github.io.", ttl=3600)}

    relay.cut = 1
    failed = setup.dns("apply")  # the policy host answers 404: the id is held back

    assert failed.code == 2, failed.output
    assert "failed to apply the changes" in failed.err and "run `mta-sts-pages dns diff` to see" in failed.err, failed.err
    assert "nothing was changed" not in failed.err and "Traceback" not in failed.output
    made = setup.zone() - before
    assert len(made) == 1 and made < wanted, made  # half of it
    assert before - setup.zone() == set()  # the old id, and everything else, still there

    relay.cut = 0
    resumed = setup.dns("apply")
    assert resumed.code == 1, resumed.output  # the rest goes out; the id still waits
    assert "1 change to make" in resumed.out and 'stays "v=STSv1; id=old1"' in resumed.out, resumed.out
    assert setup.zone() - before == wanted and before - setup.zone() == set()

    setup.serve(domain)
    published = setup.dns("apply")
    assert published.code == 0, published.output
    assert before - setup.zone() == {row("_mta-sts", "TXT", '"v=STSv1; id=old1"')}
    assert setup.zone() - before == wanted | {row("_mta-sts", "TXT", f'"v=STSv1; id={domain.id}"')}
    assert "in sync" in setup.dns("diff").out


def test_an_apply_cut_after_the_id_went_out_converges_on_the_next_run(cutting):
    """With the policy served, the id may go out in any batch; a cut after it
    leaves the rest to the next run, which makes only that."""
    setup, relay = cutting
    domain = setup.write()
    setup.serve(domain)
    before = setup.zone()

    relay.cut = 2
    assert setup.dns("apply").code == 2
    assert len(setup.zone() - before) == 2  # two of the three updates were made

    relay.cut = 0
    resumed = setup.dns("apply")
    assert resumed.code == 0, resumed.output
    assert "1 change to make" in resumed.out, resumed.out
    assert before - setup.zone() == {row("_mta-sts", "TXT", '"v=STSv1; id=old1"')}
    assert len(setup.zone() - before) == 3
    assert relay.updates == 3  # each change sent once: the one named took without answering is not sent again
