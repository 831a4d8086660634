"""The pure parts of `dns diff` / `dns apply` (which values are owned, the
wanted record sets, the plan check) and the errors met before any zone is
read: a missing provider package or variable, an option the class refuses."""

from __future__ import annotations

import re
import socket
import sys

import pytest

from generator.config import json_schema, loads
from generator.dnspublish.model import is_secret_option
from generator.dnspublish.octo import package_of
from generator.errors import ConfigError, UsageError
from generator.dnspublish.owned import (
    RecordSet,
    SetChange,
    conflicts,
    desired_sets,
    has_tag,
    owned_records,
    planned,
    shares,
    sts_record,
    unsafe,
)
from tests.support.cli import run_cli

CONFIG = """\
domain: mail.example.com
policy:
  mx: [mx.example.com]
tlsrpt:
  rua: ['mailto:tls@example.com']
pages:
  owner: example-org
dns:
  zone: example.com
  provider:
    class: {cls}
    host: 127.0.0.1
    key_name: env/TSIG_KEY_NAME
    key_secret: env/TSIG_KEY_SECRET
{extra}"""


def domain(cls: str = "octodns_bind.Rfc2136Provider", extra: str = ""):
    return loads(CONFIG.format(cls=cls, extra=extra)).domains[0]


def test_owned_records_are_named_in_the_zone_and_claim_their_version_only():
    owned = {(o.name, o.type): o for o in owned_records(domain())}
    assert set(owned) == {("_mta-sts.mail", "TXT"), ("_smtp._tls.mail", "TXT"), ("mta-sts.mail", "CNAME")}
    sts, rpt, cname = owned[("_mta-sts.mail", "TXT")], owned[("_smtp._tls.mail", "TXT")], owned[("mta-sts.mail", "CNAME")]
    assert sts.claims("v=STSv1; id=old") and sts.claims("v=STSv1 id=typo") and not sts.claims("v=TLSRPTv1; rua=x")
    assert not sts.claims("google-site-verification=x") and not sts.claims("v=STSv10; id=x")
    assert rpt.claims("v=TLSRPTv1;rua=mailto:x@example.com") and not rpt.claims("v=spf1 -all")
    assert cname.claims("anything.example.")


@pytest.mark.parametrize(
    ("value", "tag", "expected"),
    [("v=STSv1", "v=STSv1", True), ("v=STSv1;id=1", "v=STSv1", True), ("v=STSv1\tid=1", "v=STSv1", True),
     ("v=STSv12", "v=STSv1", False), ("V=STSv1; id=1", "v=STSv1", False), ("x v=STSv1", "v=STSv1", False)],
)
def test_has_tag(value, tag, expected):
    assert has_tag(value, tag) is expected


def test_desired_sets_keep_other_values_and_ttls():
    owned = owned_records(domain())
    existing = {
        ("_mta-sts.mail", "TXT"): RecordSet("_mta-sts.mail", "TXT", 60, ("v=STSv1; id=a", "v=STSv1; id=b", "keep=1")),
        ("_smtp._tls.mail", "SPF"): RecordSet("_smtp._tls.mail", "SPF", 60, ("v=spf1 -all",)),
    }
    wanted = desired_sets(owned, shares(existing, owned))
    sts = sts_record(owned)
    assert wanted[("_mta-sts.mail", "TXT")] == RecordSet("_mta-sts.mail", "TXT", 60, tuple(sorted(("keep=1", sts.value))))
    assert wanted[("_smtp._tls.mail", "TXT")].ttl == 3600
    assert ("_smtp._tls.mail", "SPF") not in wanted


def test_dns_ttl_sets_the_ttl_of_every_owned_set_existing_or_new():
    owned = owned_records(domain(extra="  ttl: 5m\n"))
    existing = {("_mta-sts.mail", "TXT"): RecordSet("_mta-sts.mail", "TXT", 3600, ("v=STSv1; id=a", "keep=1"))}
    wanted = desired_sets(owned, shares(existing, owned))
    assert {key: wanted[key].ttl for key in wanted} == {("_mta-sts.mail", "TXT"): 300, ("_smtp._tls.mail", "TXT"): 300, ("mta-sts.mail", "CNAME"): 300}


def test_conflicts_name_cname_clashes():
    owned = owned_records(domain())
    existing = {
        ("mta-sts.mail", "A"): RecordSet("mta-sts.mail", "A", 60, ("192.0.2.1",)),
        ("_mta-sts.mail", "CNAME"): RecordSet("_mta-sts.mail", "CNAME", 60, ("policy.provider.example.",)),
    }
    problems = conflicts(existing, owned)
    assert len(problems) == 2
    assert "mta-sts.mail.example.com has A records, and a CNAME cannot sit beside other records" in problems[0] + problems[1]
    assert "_mta-sts.mail.example.com is a CNAME to policy.provider.example." in problems[0] + problems[1]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (SetChange("www", "A", RecordSet("www", "A", 60, ("192.0.2.1",)), None), "a record this tool does not own"),
        (SetChange("_mta-sts.mail", "TXT", RecordSet("_mta-sts.mail", "TXT", 60, ("v=STSv1; id=a",)), None), "never deletes"),
        (SetChange("_mta-sts.mail", "TXT", RecordSet("_mta-sts.mail", "TXT", 60, ("v=STSv1; id=a", "keep=1")),
                   RecordSet("_mta-sts.mail", "TXT", 60, ("v=STSv1; id=b",))), "values of _mta-sts.mail TXT that this tool does not own"),
        (SetChange("_mta-sts.mail", "TXT", RecordSet("_mta-sts.mail", "TXT", 60, ("v=STSv1; id=a", "keep=1")),
                   RecordSet("_mta-sts.mail", "TXT", 60, ("keep=1", "v=STSv1; id=b"))), None),
        (SetChange("mta-sts.mail", "CNAME", None, RecordSet("mta-sts.mail", "CNAME", 3600, ("example-org.github.io.",))), None),
    ],
    ids=["other-record", "delete", "unowned-value-dropped", "owned-value-replaced", "cname-created"],
)
def test_unsafe_plan_changes_are_refused(change, reason):
    [change_to_make] = planned([change], owned_records(domain()))
    found = unsafe(change_to_make)
    assert (found is None) if reason is None else (reason in found), found


def run_dns(tmp_path, text: str, *args: str):
    config = tmp_path / "mta-sts.yml"
    config.write_text(text)
    return run_cli("dns", "diff", "-c", config, *args), config


def test_missing_provider_package_names_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("TSIG_KEY_NAME", "k")
    monkeypatch.setenv("TSIG_KEY_SECRET", "c2VjcmV0")
    result, config = run_dns(tmp_path, CONFIG.format(cls="octodns_nosuch.NoSuchProvider", extra=""))
    assert result.code == 2, result.output
    assert (f"error: mail.example.com: dns.provider.class: octodns_nosuch.NoSuchProvider is not installed: "
            f"pip install 'mta-sts-pages[dns]' octodns-nosuch ({config}:11)") in result.err
    assert package_of("octodns.provider.yaml.YamlProvider") == "octodns"


def test_missing_octodns_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "octodns", None)  # what an install without the extra looks like
    result, _ = run_dns(tmp_path, CONFIG.format(cls="octodns_bind.Rfc2136Provider", extra=""))
    assert result.code == 2, result.output
    assert "pip install 'mta-sts-pages[dns]'" in result.err and "Traceback" not in result.output


def test_unset_variable_names_the_option_and_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TSIG_KEY_NAME", "k")
    monkeypatch.delenv("TSIG_KEY_SECRET", raising=False)
    result, config = run_dns(tmp_path, CONFIG.format(cls="octodns_bind.Rfc2136Provider", extra=""))
    assert result.code == 2, result.output
    assert f"dns.provider.key_secret: the environment variable TSIG_KEY_SECRET is not set ({config}:14)" in result.err


def test_an_option_the_class_does_not_take_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("TSIG_KEY_NAME", "k")
    monkeypatch.setenv("TSIG_KEY_SECRET", "c2VjcmV0")
    result, config = run_dns(tmp_path, CONFIG.format(cls="octodns_bind.Rfc2136Provider", extra="    hostname: ns.example.com\n"))
    assert result.code == 2, result.output
    assert f"dns.provider.hostname: octodns_bind.Rfc2136Provider takes no option 'hostname' ({config}:15)" in result.err


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("domain: example.com\npolicy:\n  mx: [mx.example.com]\n", (), "no domain in"),
        (CONFIG.format(cls="octodns_bind.Rfc2136Provider", extra=""), ("example.org",), "example.org is not in"),
    ],
    ids=["no-dns-section", "unknown-domain"],
)
def test_usage_errors(tmp_path, text, args, message):
    result, _ = run_dns(tmp_path, text, *args)
    assert result.code == 2 and message in result.err, result.output


MULTI = """\
defaults:
  policy: {mx: [mx.example.com]}
  dns:
    zone: example.com
    provider: {class: octodns_bind.Rfc2136Provider, host: 192.0.2.53, key_secret: env/SHARED}
domains:
  - domain: example.com
  - domain: mail.example.com
    dns:
      provider: {class: octodns_cloudflare.CloudflareProvider, token: env/CF_TOKEN}
  - domain: example.org
    dns: {zone: example.org}
"""


def test_defaults_dns_merges_key_by_key_and_a_provider_is_taken_whole():
    first, second, third = loads(MULTI).domains
    assert (first.dns.zone, first.dns.path, first.dns.provider["key_secret"]) == ("example.com", "defaults.dns.provider", "env/SHARED")
    assert second.dns.provider == {"class": "octodns_cloudflare.CloudflareProvider", "token": "env/CF_TOKEN"}
    assert (second.dns.zone, second.dns.path) == ("example.com", "domains[1].dns.provider")
    assert (third.dns.zone, third.dns.provider_class) == ("example.org", "octodns_bind.Rfc2136Provider")


def test_a_default_zone_must_hold_every_domain():
    with pytest.raises(ConfigError) as caught:
        loads(MULTI.replace("    dns: {zone: example.org}\n", ""), file="multi.yml")
    assert [str(i) for i in caught.value.issues] == ["defaults.dns.zone: example.org is not in the zone example.com; "
                                                     "give the zone that holds the domain's records (multi.yml:4)"]


def test_an_unreachable_server_is_a_clear_error(tmp_path, monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("TSIG_KEY_NAME", "k")
    monkeypatch.setenv("TSIG_KEY_SECRET", "c2VjcmV0")
    result, _ = run_dns(tmp_path, CONFIG.format(cls="octodns_bind.Rfc2136Provider", extra=f"    port: {port}\n    timeout: 5\n"))
    assert result.code == 2, result.output
    assert "could not read the zone example.com from Rfc2136Provider" in result.err
    assert "(is the server reachable at the configured host and port?)" in result.err


@pytest.mark.parametrize(
    ("name", "secret"),
    [("key_secret", True), ("token", True), ("api_key", True), ("secret_access_key", True), ("Password", True),
     ("application_key", True), ("key_name", False), ("key_algorithm", False), ("credentials_file", False),
     ("private_key_path", False), ("host", False), ("port", False), ("email", False), ("Key_Name", True)],
)
def test_secret_options_in_python_and_in_the_schema(name, secret):
    [pattern] = json_schema()["else"]["properties"]["dns"]["properties"]["provider"]["patternProperties"]
    assert is_secret_option(name) is secret
    assert bool(re.search(pattern, name)) is secret


def test_select_names_each_domain_once_in_the_order_given():
    """`dns apply -d a -d A.` handles a once; a named domain without dns: is refused."""
    from generator.dnspublish.command import select

    config = loads(CONFIG.format(cls="octodns_bind.Rfc2136Provider", extra=""), file="mta-sts.yml")
    [domain] = config.domains
    assert select(config, [domain.domain, domain.domain.upper() + "."]) == [domain]
    plain = loads("domain: example.com\npolicy:\n  mx: [mx.example.com]\n", file="mta-sts.yml")
    with pytest.raises(UsageError, match="example.com has no dns: section"):
        select(plain, ["example.com"])


def test_a_domain_with_dns_compares_and_hashes_by_what_its_section_says():
    """Not by where it was written: the key -> line map is the whole file's."""
    first = domain()
    moved = loads("\n\n" + CONFIG.format(cls="octodns_bind.Rfc2136Provider", extra="")).domains[0]
    assert first.dns.lines != moved.dns.lines
    assert first == moved and hash(first) == hash(moved) and {first, moved} == {first}
    other_zone = first._replace(dns=first.dns._replace(zone="example.org"))
    assert other_zone != first
    assert "lines" not in repr(first.dns)
