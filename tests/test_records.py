"""`records`: BIND lines a real zone checker accepts, and JSON for scripts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from generator.config import loads
from generator.records import bind_line, records_for, txt_strings
from tests.support.cli import run_cli
from tests.support.dns_server import loopback_resolver, minimal_zone
from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parent.parent
ZONE_HEAD = """\
$ORIGIN {domain}.
$TTL 3600
@ IN SOA ns.{domain}. hostmaster.{domain}. 1 7200 3600 1209600 3600
@ IN NS ns.{domain}.
ns IN A 127.0.0.1
"""


def check_zone(tmp_path: Path, domain: str, lines: str) -> subprocess.CompletedProcess:
    checker = require_tool("nsd-checkzone")
    zone = tmp_path / f"{domain}.zone"
    zone.write_text(ZONE_HEAD.format(domain=domain) + lines)
    return subprocess.run([checker, domain, zone], capture_output=True, text=True, timeout=30)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("example", ["google-workspace.yml", "microsoft-365.yml", "self-hosted.yml"])
def test_bind_output_passes_nsd_checkzone(tmp_path, example):
    result = run_cli("records", "-c", ROOT / "examples" / example)
    assert result.code == 0, result.output
    domain = loads((ROOT / "examples" / example).read_text()).domains[0].domain
    checked = check_zone(tmp_path, domain, result.out)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.timeout(60)
def test_long_txt_is_split_and_still_valid(tmp_path):
    rua = [f"mailto:tls-reports-{i}@{'a' * 40}.example.com" for i in range(8)]
    config = loads("domain: example.com\npolicy:\n  mx: [mx.example.com]\ntlsrpt:\n  rua:\n" + "".join(f"    - {u}\n" for u in rua))
    [tlsrpt] = [r for r in records_for(config.domains[0]) if r.name.startswith("_smtp._tls.")]
    assert len(tlsrpt.value) > 255
    strings = txt_strings(tlsrpt.value)
    assert len(strings) == 3 and all(len(s) <= 255 for s in strings) and "".join(strings) == tlsrpt.value
    checked = check_zone(tmp_path, "example.com", bind_line(tlsrpt) + "\n")
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.timeout(60)
def test_bad_zone_line_is_caught_by_the_checker(tmp_path):
    """The checker really checks: an unterminated TXT string fails."""
    checked = check_zone(tmp_path, "example.com", '_mta-sts.example.com. 3600 IN TXT "v=STSv1; id=1\n')
    assert checked.returncode != 0


def test_json_format():
    result = run_cli("records", "-c", ROOT / "examples" / "multi-domain.yml", "--format", "json")
    assert result.code == 0, result.output
    data = json.loads(result.out)
    assert [d["domain"] for d in data] == ["example.net", "example.info", "xn--bcher-kva.example"]
    first = data[0]
    types = [(r["name"], r["type"]) for r in first["records"]]
    # In the order to publish them, as build prints them: the _mta-sts id last.
    assert types == [("mta-sts.example.net", "CNAME"), ("_smtp._tls.example.net", "TXT"), ("_mta-sts.example.net", "TXT")]
    assert first["records"][2]["value"] == f"v=STSv1; id={first['policy_id']}"
    assert first["records"][0]["value"] == "example-hosting.github.io."


def test_build_prints_the_records_in_publishing_order_the_mta_sts_record_last_and_apart(tmp_path):
    """RFC 8461 §8.1: the _mta-sts id goes live only once the policy is
    served, so it comes last, under a line that says when."""
    (tmp_path / "mta-sts.yml").write_text("domain: example.com\npolicy:\n  mx: [mx.example.com]\ntlsrpt:\n  rua: [mailto:t@example.com]\n"
                                          "pages:\n  owner: octo\n  verification: a8f3e1c07d9b4265e0b1c3d5f7a9e2\n")
    result = run_cli("build", cwd=tmp_path)
    assert result.code == 0, result.output
    lines = result.out.split("in this order")[1].split("\n", 1)[1].strip().splitlines()
    names = [line.split("\t")[0] for line in lines if not line.startswith(";")]
    assert names == ["_github-pages-challenge-octo.example.com.", "mta-sts.example.com.", "_smtp._tls.example.com.", "_mta-sts.example.com."]
    assert lines[-2] == "; after https://mta-sts.example.com/.well-known/mta-sts.txt serves the policy:"


def test_ttl_from_dns_ttl_without_a_provider_or_from_ttl(tmp_path):
    """A short TTL while testing: `dns.ttl` in the config (no provider
    needed just for `records`), or --ttl for one run."""
    (tmp_path / "mta-sts.yml").write_text("domain: example.com\npolicy:\n  mx: [mx.example.com]\npages:\n  owner: octo\ndns:\n  ttl: 5m\n")
    result = run_cli("records", cwd=tmp_path)
    assert result.code == 0, result.output
    assert "_mta-sts.example.com.\t300\tIN\tTXT" in result.out and "mta-sts.example.com.\t300\tIN\tCNAME" in result.out
    result = run_cli("records", "--ttl", "120", "--format", "json", cwd=tmp_path)
    assert {r["ttl"] for r in json.loads(result.out)[0]["records"]} == {120}
    result = run_cli("records", "--ttl", "5", cwd=tmp_path)
    assert result.code == 2 and "--ttl 5: give seconds from 60 to 604800" in result.err
    (tmp_path / "mta-sts.yml").write_text("domain: example.com\npolicy:\n  mx: [mx.example.com]\ndns:\n  ttl: 10\n")
    result = run_cli("records", cwd=tmp_path)
    assert result.code == 2 and "dns.ttl: 10 is 10 seconds, outside 60..604800 (mta-sts.yml:5)" in result.err


def test_records_of_one_domain_of_a_multi_domain_config():
    config = ROOT / "examples" / "multi-domain.yml"
    result = run_cli("records", "-c", config, "example.info", "--format", "json")
    assert result.code == 0, result.output
    assert [d["domain"] for d in json.loads(result.out)] == ["example.info"]
    result = run_cli("records", "-c", config, "nosuch.example")
    assert result.code == 2 and "DOMAIN 'nosuch.example': nosuch.example is not in" in result.err


def test_no_owner_no_cname_no_tlsrpt_no_record():
    config = loads("domain: example.com\npolicy:\n  mx: [mx.example.com]\n")
    assert [r.type for r in records_for(config.domains[0])] == ["TXT"]


@pytest.mark.timeout(60)
def test_verification_code_gives_githubs_challenge_record_that_nsd_serves(tmp_path, dns_server_factory):
    """GitHub looks the code up at _github-pages-challenge-<owner>.<domain>."""
    config = tmp_path / "mta-sts.yml"
    config.write_text("domain: example.com\npolicy:\n  mx: [mx.example.com]\npages:\n"
                      "  owner: Example-Org\n  verification: a8f3e1c07d9b4265e0b1c3d5f7a9e2\n")
    result = run_cli("records", "-c", config)
    assert result.code == 0, result.output
    assert '_github-pages-challenge-example-org.example.com.\t3600\tIN\tTXT\t"a8f3e1c07d9b4265e0b1c3d5f7a9e2"\n' in result.out
    checked = check_zone(tmp_path, "example.com", result.out)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    nsd = dns_server_factory({"example.com": minimal_zone("example.com", result.out)})
    answer = loopback_resolver(nsd.port).resolve("_github-pages-challenge-example-org.example.com", "TXT")
    assert [b"".join(r.strings) for r in answer] == [b"a8f3e1c07d9b4265e0b1c3d5f7a9e2"]
def _octodns_zone(directory: Path, zone_name: str):
    """The zone as octoDNS's own YamlProvider reads it (ordering enforced)."""
    from octodns.provider.yaml import YamlProvider
    from octodns.record import Record
    from octodns.zone import Zone

    Record.enable_validators(("legacy",))
    Zone.enable_zone_validators(("legacy",))
    zone = Zone(zone_name + ".", [])
    YamlProvider("config", str(directory), escaped_semicolons=True, enforce_order=True).populate(zone)
    return {(r.name, r._type): r for r in zone.records}


@pytest.mark.parametrize(
    ("config", "zone", "names"),
    [
        pytest.param(ROOT / "examples" / "google-workspace.yml", "example.com", ("mta-sts", "_smtp._tls", "_mta-sts"), id="domain-is-the-zone"),
        pytest.param("domain: mail.example.org\npolicy:\n  mx: [mx.example.org]\ntlsrpt:\n  rua: ['mailto:tls@example.org']\n"
                     "pages:\n  owner: example-org\ndns:\n  zone: example.org\n  provider:\n    class: octodns_bind.Rfc2136Provider\n"
                     "    host: 192.0.2.53\n", "example.org", ("mta-sts.mail", "_smtp._tls.mail", "_mta-sts.mail"), id="parent-zone"),
    ],
)
def test_octodns_format_loads_in_octodns_yaml_provider(tmp_path, config, zone, names):
    if not isinstance(config, Path):
        (tmp_path / "mta-sts.yml").write_text(config)
        config = tmp_path / "mta-sts.yml"
    result = run_cli("records", "-c", config, "--format", "octodns")
    assert result.code == 0, result.output
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / f"{zone}.yaml").write_text(result.out)

    loaded = _octodns_zone(zones, zone)

    [domain] = loads(Path(config).read_text()).domains
    expected = {(name, r.type): r for name, r in zip(names, records_for(domain))}
    assert set(loaded) == set(expected)
    for key, record in expected.items():
        got = loaded[key]
        assert got.ttl == record.ttl
        if record.type == "TXT":
            # octoDNS holds ';' escaped; on the wire the value is the record's own.
            assert [v.to_raw_text() for v in got.values] == [record.value]
            assert ";" in record.value
        else:
            assert got.value == record.value


def test_octodns_format_gives_one_document_per_zone(tmp_path):
    result = run_cli("records", "-c", ROOT / "examples" / "multi-domain.yml", "--format", "octodns")
    assert result.code == 0, result.output
    documents = result.out.split("# zone ")[1:]
    zones = [doc.split(".:", 1)[0] for doc in documents]
    assert zones == ["example.net", "example.info", "xn--bcher-kva.example"]
    for zone, document in zip(zones, documents):
        directory = tmp_path / zone
        directory.mkdir()
        (directory / f"{zone}.yaml").write_text("# zone " + document)
        assert {name for name, _ in _octodns_zone(directory, zone)} >= {"_mta-sts", "mta-sts"}
