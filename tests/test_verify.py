"""`verify`, the deploy guard, against a real TLS server and NSD: the served
bytes must be the built policy; the summary says what is served and which
`_mta-sts` record to publish, and when."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from generator import markdown as md
from generator.config import loads
from generator.verify import domain_from_site
from tests.support.check_run import MX, POLICY_HOST, TLSRPT
from tests.support.cli import run_cli
from tests.support.dns_server import minimal_zone
from tests.support.certs import CertKind
from tests.support.runner import workflow_commands
from tests.support.tls_server import Route

pytestmark = pytest.mark.timeout(60)

DOMAIN = "guard.test"
CONFIG = f"""\
domain: {DOMAIN}
policy:
  mode: enforce
  mx: [mx1.{DOMAIN}]
  max_age: 1w
"""
OLD_CONFIG = CONFIG.replace("enforce", "testing")
BUILT = loads(CONFIG).domains[0]
OLD = loads(OLD_CONFIG).domains[0]


def _sts(sts_id: str) -> str:
    return f'_mta-sts TXT "v=STSv1; id={sts_id}"'


@pytest.fixture
def deployment(tmp_path: Path, dns_server_factory, tls_server_factory):
    """Start servers for one scenario: ``(dns records, route)`` → verify's flags."""

    def start(records: str, route: Route):
        nsd = dns_server_factory({DOMAIN: minimal_zone(DOMAIN, "\n".join([records, TLSRPT, MX, POLICY_HOST]))})
        https = tls_server_factory()
        https.route(f"mta-sts.{DOMAIN}", route)
        config = tmp_path / "mta-sts.yml"
        config.write_text(CONFIG)
        flags = ["--nameserver", nsd.address, "--ca-file", str(https.ca_pem_path), "--connect-to", f":443:127.0.0.1:{https.port}"]
        return https, config, flags

    return start


def _verify(tmp_path: Path, *args: str):
    summary = tmp_path / "summary.md"
    result = run_cli("verify", "--summary", str(summary), "--timeout", "5", *args)
    return result, summary.read_text("utf-8") if summary.exists() else ""


def test_served_policy_with_its_id_in_dns_passes(tmp_path, deployment):
    https, config, flags = deployment(_sts(BUILT.id), Route(body=BUILT.policy_bytes))
    result, summary = _verify(tmp_path, "-c", str(config), "--wait", "0", *flags)
    assert result.code == 0, result.output
    assert f"{DOMAIN}: served: https://mta-sts.{DOMAIN}/.well-known/mta-sts.txt is the built policy (id {BUILT.id}" in result.out
    assert "**Served.**" in summary
    assert f"already has id `{BUILT.id}`" in summary
    assert https.errors == []


def test_served_policy_under_an_old_id_says_which_record_to_publish_now(tmp_path, deployment):
    _, config, flags = deployment(_sts(OLD.id), Route(body=BUILT.policy_bytes))
    result, summary = _verify(tmp_path, "-c", str(config), "--wait", "0", *flags)
    assert result.code == 0, result.output
    record = f'_mta-sts.{DOMAIN}.\t3600\tIN\tTXT\t"v=STSv1; id={BUILT.id}"'
    assert f"publish this record now:\n  {record}" in result.out
    # The id read from DNS is outside text: broken where GitHub would take it for a commit (generator.markdown).
    assert f"the \\_mta-sts record has id {md.text(OLD.id)}. The new policy is served, so **publish this record now**" in summary
    assert f"```dns\n{record}\n```" in summary


@pytest.mark.parametrize(
    ("route", "code", "answer"),
    [
        pytest.param(Route(body=OLD.policy_bytes), "policy-differs", f"HTTP 200, text/plain, {len(OLD.policy_bytes)} bytes", id="stale"),
        pytest.param(Route(status=404, content_type="text/html", body=b"<h1>404</h1>"), "policy-not-found", "HTTP 404, text/html", id="404"),
        pytest.param(Route.redirect("https://example-org.github.io/"), "policy-redirect", "HTTP 301, text/html", id="redirect"),
    ],
)
def test_anything_but_the_built_policy_fails_and_keeps_the_old_id(tmp_path, deployment, route, code, answer):
    https, config, flags = deployment(_sts(OLD.id), route)
    result, summary = _verify(tmp_path, "-c", str(config), "--wait", "1", *flags)
    assert result.code == 1, result.output
    assert f"{DOMAIN}: NOT SERVED after " in result.out
    assert f"answers {answer}" in result.out
    assert f"[{code}]" in result.out
    assert "**Not served.**" in summary and f"`{code}`" in summary
    assert "Keep it until the built policy is served; then publish:" in summary
    assert len(https.requests) >= 2  # it tried again within the wait
    if code == "policy-differs":
        assert "What is served:\n\n```text\nversion: STSv1\nmode: testing\n" in summary
        assert "What the build wrote:\n\n```text\nversion: STSv1\nmode: enforce\n" in summary


@pytest.mark.parametrize(
    ("served", "said"),
    [
        pytest.param(BUILT.policy_bytes.replace(b"\r\n", b"\n"), "other line ends (the build writes CRLF", id="lf"),
        pytest.param(BUILT.policy_bytes.removesuffix(b"\r\n"), "does not end with a line end (CRLF)", id="no-final-line-end"),
    ],
)
def test_the_same_policy_in_other_bytes_fails_and_says_where_they_part(tmp_path, deployment, served, said):
    """The id announces bytes: LF for CRLF or a lost final line end is red, and says so."""
    _, config, flags = deployment(_sts(BUILT.id), Route(body=served))
    result, summary = _verify(tmp_path, "-c", str(config), "--wait", "0", *flags)
    assert result.code == 1, result.output
    assert "[policy-differs]" in result.out and said in result.out
    assert said in summary


def test_an_id_published_before_its_policy_is_served_is_a_warning(tmp_path, deployment):
    """DNS announces the new id while the old policy is still served: senders
    cache the old one under it, so the summary must not read as all well."""
    _, config, flags = deployment(_sts(BUILT.id), Route(body=OLD.policy_bytes))
    result, summary = _verify(tmp_path, "-c", str(config), "--wait", "0", *flags)
    assert result.code == 1, result.output
    assert f"DNS: WARNING: the _mta-sts record already has the built id {BUILT.id}, but the built policy is not served" in result.out
    assert "**DNS: warning.**" in summary and "change the id once more" in summary
    assert "already has id" not in summary


def test_an_id_published_before_a_first_policy_does_not_ask_for_another_id(tmp_path, deployment):
    """A 404 gives senders nothing to cache: a first-time user who published
    the record early keeps `id: auto` and only has to get the policy served."""
    _, config, flags = deployment(_sts(BUILT.id), Route(status=404, content_type="text/html", body=b"<h1>404</h1>"))
    result, summary = _verify(tmp_path, "-c", str(config), "--wait", "0", *flags)
    assert result.code == 1, result.output
    assert f"DNS: the _mta-sts record already has the built id {BUILT.id}; until the built policy is served senders find no policy" in result.out
    assert "no need to change the id" in summary
    for text in (result.out, summary):
        assert "DNS: WARNING" not in text and "DNS: warning" not in text and "change the id once more" not in text


def test_a_failed_id_lookup_does_not_claim_the_record_is_missing(tmp_path, deployment):
    """The policy is served but no name server answers: the record may well
    be right already, so the summary says it could not be read."""
    _, config, flags = deployment(_sts(BUILT.id), Route(body=BUILT.policy_bytes))
    flags[flags.index("--nameserver") + 1] = "127.0.0.1:1"  # nothing listens there
    result, summary = _verify(tmp_path, "-c", str(config), "--wait", "0", *flags)
    assert result.code == 0, result.output  # the policy is what it must be
    assert "the record could not be read; unless it already is this one, publish this record now:" in result.out
    assert "**the record could not be read; unless it already is this one, publish this record now**" in summary


def test_pages_own_certificate_is_named_as_in_check(tmp_path, deployment):
    """Right after the first deploy Pages presents its *.github.io certificate:
    the guard says to set the custom domain, not only that the name is wrong."""
    https, config, flags = deployment(_sts(BUILT.id), Route(body=BUILT.policy_bytes))
    https.set_cert(f"mta-sts.{DOMAIN}", CertKind.GITHUB_IO)
    result, summary = _verify(tmp_path, "-c", str(config), "--wait", "0", *flags)
    assert result.code == 1, result.output
    assert "[pages-cert-github-io]" in result.out and "Settings > Pages" in result.out
    assert "`pages-cert-github-io`" in summary


def test_a_dropped_well_known_folder_on_pages_is_named_as_in_check(tmp_path, deployment):
    """Pages answers / but 404 for the policy: the upload left .well-known out."""
    https, config, flags = deployment(_sts(OLD.id) + "\nmta-sts A 185.199.108.153", Route(status=404, content_type="text/html", body=b"<h1>404</h1>"))
    https.route(f"mta-sts.{DOMAIN}", Route(content_type="text/html", body=b"<html>home</html>"), "/")
    result, summary = _verify(tmp_path, "-c", str(config), "--wait", "0", *flags)
    assert result.code == 1, result.output
    assert "[pages-well-known-dropped]" in result.out and "include-hidden-files: true" in result.out
    assert "[policy-not-found]" not in result.out


def test_it_waits_for_the_cdn(tmp_path, deployment):
    https, config, flags = deployment(_sts(BUILT.id), Route(body=OLD.policy_bytes))
    # The new policy shows up a moment after the first fetch, as after a deploy.
    flip = threading.Timer(0.5, https.route, (f"mta-sts.{DOMAIN}", Route(body=BUILT.policy_bytes)))
    flip.start()
    try:
        result, summary = _verify(tmp_path, "-c", str(config), "--wait", "30", *flags)
    finally:
        flip.cancel()
    assert result.code == 0, result.output
    assert "2 attempts in" in result.out
    assert "**Served.**" in summary
    # The wait is never silent: each attempt tried again is a line on stderr.
    answer = f"HTTP 200, text/plain, {len(OLD.policy_bytes)} bytes"
    assert result.err == f"{DOMAIN}: attempt 1: {answer}, not the built policy yet; trying again in 2 s\n"


def test_a_built_site_without_its_config(tmp_path, deployment):
    """Way 1: the repository holds the site; the policy file and the id are given."""
    _, _, flags = deployment(_sts("explicit1"), Route(body=BUILT.policy_bytes))
    policy = tmp_path / "mta-sts.txt"
    policy.write_bytes(BUILT.policy_bytes)
    result, _ = _verify(tmp_path, DOMAIN, "--policy", str(policy), "--id", "explicit1", "--wait", "0", *flags)
    assert result.code == 0, result.output
    assert "the _mta-sts record has the built id explicit1" in result.out
    # Without --id, the id is the automatic one of the policy bytes.
    result, _ = _verify(tmp_path, DOMAIN, "--policy", str(policy), "--wait", "0", *flags)
    assert f"is the built policy (id {BUILT.id};" in result.out
    assert "publish this record now" in result.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--policy", "x.txt"], "--policy needs the DOMAIN", id="policy-without-domain"),
        pytest.param(["-c", "mta-sts.yml", "--id", "abc"], "--id goes with --policy", id="id-with-config"),
        pytest.param([DOMAIN, "--policy", "missing.txt"], "--policy missing.txt: No such file", id="missing-policy"),
        pytest.param([DOMAIN, "--policy", "bad.txt"], "--policy bad.txt is not a valid policy", id="invalid-policy"),
        pytest.param(["bad_domain.test", "--policy", "good.txt"], "DOMAIN 'bad_domain.test'", id="bad-domain"),
        pytest.param([DOMAIN, "--policy", "good.txt", "--id", "a-b"], "--id 'a-b' is not 1-32 letters and digits", id="bad-id"),
        pytest.param(["-c", "mta-sts.yml", "other.test"], "other.test is not in", id="domain-not-in-config"),
        pytest.param(["-c", "mta-sts.yml", "--wait", "-1"], "--wait -1.0", id="negative-wait"),
        # A wait or deadline of NaN or infinity never ends; a huge one overflows the timers.
        pytest.param(["-c", "mta-sts.yml", "--wait", "nan"], "--wait nan: give a number of seconds from 0", id="nan-wait"),
        pytest.param(["-c", "mta-sts.yml", "--wait", "inf"], "--wait inf", id="inf-wait"),
        pytest.param(["-c", "mta-sts.yml", "--wait", "1e300"], "at most 86400 (a day)", id="huge-wait"),
        pytest.param(["-c", "mta-sts.yml", "--timeout", "nan"], "--timeout nan: give a number of seconds above 0", id="nan-timeout"),
        pytest.param(["-c", "mta-sts.yml", "--timeout", "-inf"], "--timeout -inf", id="minus-inf-timeout"),
        pytest.param(["-c", "mta-sts.yml", "--timeout", "inf"], "--timeout inf", id="inf-timeout"),
    ],
)
@pytest.mark.timeout(10)
def test_usage_errors_exit_2_before_any_fetch(tmp_path, args, message):
    (tmp_path / "mta-sts.yml").write_text(CONFIG)
    (tmp_path / "bad.txt").write_text("version: STSv1\nmode: sometimes\n")
    (tmp_path / "good.txt").write_bytes(BUILT.policy_bytes)
    result = run_cli("verify", *args, cwd=tmp_path)
    assert result.code == 2, result.output
    assert message in result.err


@pytest.mark.parametrize("command", [["check", "example.com"], ["monitor", "-c", "mta-sts.yml"], ["dns", "diff", "-c", "mta-sts.yml"]])
@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1", "1e300"])
@pytest.mark.timeout(10)
def test_every_timeout_takes_only_a_finite_number_of_seconds(tmp_path, command, value):
    (tmp_path / "mta-sts.yml").write_text(CONFIG + "dns:\n  provider:\n    class: octodns.provider.yaml.YamlProvider\n    directory: zones\n")
    result = run_cli(*command, "--timeout", value, cwd=tmp_path)
    assert result.code == 2, result.output
    assert f"--timeout {float(value)}: give a number of seconds above 0" in result.err, result.err


def test_a_summary_shows_a_policy_with_non_ascii_extension_fields(tmp_path, deployment):
    """RFC 8461 §3.2 extension values are any UTF-8 text but controls; the
    summary shows the file it was given, as served."""
    body = BUILT.policy_bytes + "x-note: für Kunden ☂\r\n".encode()
    _, _, flags = deployment(_sts("explicit1"), Route(body=BUILT.policy_bytes))
    policy = tmp_path / "mta-sts.txt"
    policy.write_bytes(body)
    result, summary = _verify(tmp_path, DOMAIN, "--policy", str(policy), "--id", "explicit1", "--wait", "0", *flags)
    assert result.code == 1 and "Traceback" not in result.output, result.output
    assert "x-note: für Kunden ☂" in summary, summary


@pytest.mark.parametrize("route", [
    pytest.param(Route(body=b"version: STSv1\r\n::add-mask::x\r\nmode: enforce ##[stop-commands]t\r\n"), id="policy-body"),
    pytest.param(Route.redirect("https://elsewhere.test/##[stop-commands]t"), id="location"),
])
def test_server_text_never_becomes_a_workflow_command(tmp_path, deployment, route):
    _, config, flags = deployment(_sts("old1"), route)
    result, summary = _verify(tmp_path, "-c", str(config), "--wait", "0", *flags)
    assert result.code == 1 and "stop-commands" in result.out + summary, result.output
    assert workflow_commands(result.out) == [] and workflow_commands(result.err) == []


def test_the_config_defaults_to_mta_sts_yml_as_for_build(tmp_path, deployment):
    _, config, flags = deployment(_sts(BUILT.id), Route(body=BUILT.policy_bytes))
    result = run_cli("verify", "--wait", "0", "--timeout", "5", *flags, cwd=config.parent)
    assert result.code == 0, result.output
    assert f"{DOMAIN}: served:" in result.out
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("verify", cwd=empty)
    assert result.code == 2, result.output
    assert "give --config FILE, or DOMAIN and --policy FILE (there is no mta-sts.yml here)" in result.err


def test_domain_from_site_reads_the_policy_as_build_wrote_it(tmp_path):
    policy = tmp_path / "mta-sts.txt"
    policy.write_bytes(BUILT.policy_bytes)
    site = domain_from_site("Guard.Test.", policy, None)
    assert (site.domain, site.policy, site.policy_bytes, site.id) == (DOMAIN, BUILT.policy, BUILT.policy_bytes, BUILT.id)
