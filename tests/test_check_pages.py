"""GitHub Pages' traps in `check` (issue 12), against real NSD and TLS servers.

NSD serves a `github.io` zone beside one zone per row, so `mta-sts.<row>`
can be a CNAME to `<owner>.github.io` as on Pages, and CAA records sit where
a real zone would hold them. One TLS server answers for every row with the
certificate, routes or built site the row asks for. Each trap row also
names the generic finding the trap replaces; each negative row asserts the
trap stays silent.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.check.pages import caa_refusal
from tests.support.bad_dns import zone_only_dns
from tests.support.certs import CertKind
from tests.support.check_run import MX, STS, TLSRPT, policy_bytes, run_check_json
from tests.support.cli import run_cli
from tests.support.dns_server import minimal_zone, start_nsd
from tests.support.tls_server import Route, TlsServer
from tests.support.tools import require_tool

OWNER = "example-org"
ON_PAGES = f"mta-sts CNAME {OWNER}.github.io."
PAGES_A = "mta-sts A 185.199.108.153"  # one of Pages' documented addresses; --connect-to sends the fetch to the test server
GITHUB_IO = "\n".join([
    f"{OWNER} A 127.0.0.1",
    "other-org A 127.0.0.1",
    "strict-org A 127.0.0.1",
    'strict-org CAA 0 issue "digicert.com"',  # a CNAME target with CAA records of its own
])
CONFIG = f"""
domain: {{d}}
policy:
  mode: enforce
  mx: [mx1.{{d}}]
  max_age: 1w
  id: abc123
pages:
  owner: {OWNER}
"""


@dataclass(frozen=True)
class Row:
    name: str
    records: str = ON_PAGES  # besides the healthy _mta-sts, _smtp._tls and MX records
    expect: tuple[str, str] | None = None  # (code, severity) of the trap; None: nothing to find
    replaces: str = ""  # the generic code the trap stands in for
    absent: tuple[str, ...] = ()  # codes that must not appear
    says: tuple[str, ...] = ()  # parts of the trap's message and fix
    unsaid: tuple[str, ...] = ()  # parts the trap's message and fix must not hold
    cert: CertKind = CertKind.GOOD
    routes: tuple[tuple[str | None, Route], ...] = ()  # (path or None for every path, route)
    dropped_site: bool = False  # serve a built site whose .well-known folder is gone
    config: bool = False  # check with a config naming pages.owner

    @property
    def domain(self) -> str:
        return f"{self.name}.test"


NOT_FOUND = Route(status=404, content_type="text/html", body=b"<h1>404</h1>\n")
HOME = Route(content_type="text/html", body=b"<html>MTA-STS policy host</html>\n")
CAA_TRAP = ("pages-caa-blocks", "error")
ACCOUNT = "https://acme-v02.api.letsencrypt.org/acme/acct/123456"  # an accounturi of the form Let's Encrypt gives

ROWS = [
    # CAA: RFC 8659 climbs from mta-sts.<domain> to the domain, following CNAMEs.
    Row("caa-other-ca", records=ON_PAGES + '\n@ CAA 0 issue "digicert.com"\n@ CAA 0 iodef "mailto:ca@example.net"', expect=CAA_TRAP,
        says=("CAA records at caa-other-ca.test", "only digicert.com", 'add caa-other-ca.test. CAA 0 issue "letsencrypt.org"'),
        unsaid=("mta-sts.caa-other-ca.test. CAA",)),  # a CNAME cannot hold CAA records of its own
    Row("caa-forbids-all", records=ON_PAGES + '\n@ CAA 0 issue ";"', expect=CAA_TRAP, says=("forbid every CA",)),
    Row("caa-bad-parameters", records=ON_PAGES + '\n@ CAA 0 issue "letsencrypt.org; accounturi"', expect=CAA_TRAP, says=("not tag=value",)),
    Row("caa-critical", records=ON_PAGES + '\n@ CAA 0 issue "letsencrypt.org"\n@ CAA 128 tbs "unknown"', expect=CAA_TRAP,
        says=("critical 'tbs' property", "clear the critical flag")),
    Row("caa-cname-target", records="mta-sts CNAME strict-org.github.io.", expect=CAA_TRAP,
        says=("through its CNAME to strict-org.github.io", "add strict-org.github.io. CAA 0 issue")),
    # A policy host with Pages' address instead of a CNAME: its own CAA set is the nearest, and decides.
    Row("caa-host-blocks", records=f'{PAGES_A}\nmta-sts CAA 0 issue "digicert.com"\n@ CAA 0 issue "letsencrypt.org"', expect=CAA_TRAP,
        says=("CAA records at mta-sts.caa-host-blocks.test",)),
    Row("caa-host-allows", records=f'{PAGES_A}\nmta-sts CAA 0 issue "letsencrypt.org"\n@ CAA 0 issue "digicert.com"', absent=("pages-caa-blocks",)),
    Row("caa-allows", records=ON_PAGES + '\n@ CAA 0 issue "digicert.com"\n@ CAA 0 issue "letsencrypt.org; validationmethods=http-01"\n@ CAA 0 issuewild ";"',
        absent=("pages-caa-blocks",)),
    # RFC 8657 parameters, judged as Boulder judges them for Pages' requests.
    Row("caa-account-bound", records=ON_PAGES + f'\n@ CAA 0 issue "letsencrypt.org; accounturi={ACCOUNT}"\n@ CAA 0 issue "digicert.com"',
        expect=("pages-caa-account-bound", "warning"), absent=("pages-caa-blocks",),
        says=(f"ACME account {ACCOUNT}", "GitHub's own ACME account", "unless that is GitHub's own account")),
    # Pages' address on the host: a CAA record of its own would end the climb there, and the fix says so.
    Row("caa-dns-01-only", records=f'{PAGES_A}\n@ CAA 0 issue "letsencrypt.org; validationmethods=dns-01"', expect=CAA_TRAP,
        says=("validationmethods=dns-01", "cannot answer a DNS challenge", "validationmethods=dns-01,http-01,tls-alpn-01",
              'add mta-sts.caa-dns-01-only.test. CAA 0 issue "letsencrypt.org"', "issue for the policy host alone")),
    Row("caa-methods-allow", records=ON_PAGES + '\n@ CAA 0 issue "letsencrypt.org; validationmethods=dns-01"'
        '\n@ CAA 0 issue "letsencrypt.org; validationmethods=tls-alpn-01,http-01"\n@ CAA 128 issuemail "letsencrypt.org"',
        absent=("pages-caa-blocks", "pages-caa-account-bound")),
    Row("caa-wild-only", records=ON_PAGES + '\n@ CAA 0 issuewild ";"\n@ CAA 128 iodef "mailto:ca@example.net"', absent=("pages-caa-blocks",)),
    Row("caa-not-pages", records='mta-sts A 127.0.0.1\n@ CAA 0 issue "digicert.com"', absent=("pages-caa-blocks",)),
    # The certificate Pages presents for a custom domain it does not know.
    Row("github-io-cert", cert=CertKind.GITHUB_IO, expect=("pages-cert-github-io", "error"), replaces="policy-cert-name",
        says=("*.github.io", "Settings > Pages")),
    Row("wrong-name-cert", cert=CertKind.WRONG_NAME, absent=("pages-cert-github-io",)),
    # A 404 for the policy while the site answers: .well-known was dropped.
    Row("dot-folder-dropped", dropped_site=True, expect=("pages-well-known-dropped", "error"), replaces="policy-not-found",
        says=("include-hidden-files: true", 'include: [".well-known"]')),
    Row("dot-folder-routes", routes=((None, NOT_FOUND), ("/", HOME)), expect=("pages-well-known-dropped", "error"), replaces="policy-not-found"),
    Row("all-404", routes=((None, NOT_FOUND),), absent=("pages-well-known-dropped",)),
    Row("not-pages-404", records="mta-sts A 127.0.0.1", routes=((None, NOT_FOUND), ("/", HOME)), absent=("pages-well-known-dropped",)),
    # pages.owner: the CNAME must lead to <owner>.github.io.
    Row("cname-other-owner", records="mta-sts CNAME other-org.github.io.", config=True, expect=("pages-cname-mismatch", "warning"),
        says=("leading to other-org.github.io", f"CNAME {OWNER}.github.io.")),
    Row("cname-own-address", records="mta-sts A 127.0.0.1", config=True, expect=("pages-cname-mismatch", "warning"),
        says=("address records of its own (127.0.0.1)",)),
    Row("cname-right", config=True, absent=("pages-cname-mismatch",)),
    # pages.owner set, but the name leads to another server: its 404 is not Pages dropping .well-known.
    Row("owner-elsewhere-404", records="mta-sts A 127.0.0.1", config=True, routes=((None, NOT_FOUND), ("/", HOME)),
        expect=("pages-cname-mismatch", "warning"), absent=("pages-well-known-dropped",)),
]

# Codes for the generic symptom a trap explains; they stay when no trap does.
GENERIC = {"wrong-name-cert": "policy-cert-name", "all-404": "policy-not-found", "not-pages-404": "policy-not-found",
           "owner-elsewhere-404": "policy-not-found"}


@dataclass
class Servers:
    nameserver: str
    ca_file: Path
    https_port: int
    errors: list = dataclasses.field(default_factory=list)


def _dropped_site(tmp: Path, domain: str) -> Path:
    """A site `build` wrote, as Pages serves it after an upload without hidden files."""
    config = tmp / f"{domain}.yml"
    config.write_text(CONFIG.replace("{d}", domain))
    site = tmp / domain
    result = run_cli("build", "-c", str(config), "-o", str(site))
    assert result.code == 0, result.output
    shutil.rmtree(site / ".well-known")
    return site


@pytest.fixture(scope="module")
def servers(tmp_path_factory, test_ca):
    require_tool("nsd")
    require_tool("nsd-checkzone")
    zones = {row.domain: minimal_zone(row.domain, "\n".join([STS, TLSRPT, MX, row.records])) for row in ROWS}
    zones["github.io"] = minimal_zone("github.io", GITHUB_IO)
    nsd = start_nsd(zones, tmp_path_factory.mktemp("nsd"))
    https = TlsServer(test_ca).start()
    sites = tmp_path_factory.mktemp("sites")
    for row in ROWS:
        host = f"mta-sts.{row.domain}"
        https.set_cert(host, row.cert)
        if row.dropped_site:
            https.serve_directory(host, _dropped_site(sites, row.domain))
            continue
        for path, route in row.routes or ((None, Route(body=policy_bytes(row.domain))),):
            https.route(host, route, path)
    yield Servers(nsd.address, test_ca.pem_path, https.port, https.errors)
    https.stop()
    nsd.stop()


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name, marks=pytest.mark.timeout(20)) for r in ROWS])
def test_pages_trap(row: Row, servers: Servers, tmp_path: Path) -> None:
    extra = []
    if row.config:
        config = tmp_path / "mta-sts.yml"
        config.write_text(CONFIG.replace("{d}", row.domain))
        extra = ["-c", str(config)]
    run = run_check_json(row.domain, "--nameserver", servers.nameserver, "--ca-file", str(servers.ca_file),
                         "--connect-to", f":443:127.0.0.1:{servers.https_port}", "--timeout", "5", *extra)
    findings = run.report(row.domain)["findings"]
    codes = {(f["code"], f["severity"]) for f in findings}
    pages_codes = {c for c, _ in codes if c.startswith("pages-")}
    if row.expect is None:
        assert not pages_codes, findings
    else:
        assert row.expect in codes and pages_codes == {row.expect[0]}, findings
        trap = next(f for f in findings if f["code"] == row.expect[0])
        for part in row.says:
            assert part in trap["message"] + trap["fix"], trap
        for part in row.unsaid:
            assert part not in trap["message"] + trap["fix"], trap
    if row.replaces:
        assert row.replaces not in {c for c, _ in codes}, findings
    if row.name in GENERIC:
        assert GENERIC[row.name] in {c for c, _ in codes}, findings
    assert not set(row.absent) & {c for c, _ in codes}
    if row.expect is None and row.name not in GENERIC:
        assert run.report(row.domain)["result"] == "ok", findings
    assert servers.errors == []


def test_the_generic_404_fix_names_both_ways_a_deploy_drops_well_known() -> None:
    """Off Pages (or with Pages unsure), the 404 is the generic finding; its
    fix still names the upload setting as well as Jekyll's."""
    from generator.check import https

    (found,), _ = https.fetch_findings(https.FetchResult(https.Status.OK, http_status=404), "mta-sts.a.test")
    assert found.code == "policy-not-found"
    assert "include-hidden-files: true" in found.fix and "_config.yml" in found.fix


def test_the_docs_say_the_dropped_folder_trap_needs_pages_itself_to_answer() -> None:
    """docs/check.md as the code has it (pages.owner alone is not enough; the
    row owner-elsewhere-404 above shows it)."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "check.md").read_text()
    assert "`pages.owner` alone is not enough" in text


@pytest.mark.timeout(20)
def test_a_certificate_for_another_name_is_named(servers: Servers) -> None:
    """As the Pages certificate finding does: which names it carries, so the
    fix is plain (a certificate for the wrong host, or one missing a SAN)."""
    domain = next(r.domain for r in ROWS if r.name == "wrong-name-cert")
    run = run_check_json(domain, "--nameserver", servers.nameserver, "--ca-file", str(servers.ca_file),
                         "--connect-to", f":443:127.0.0.1:{servers.https_port}", "--timeout", "5")
    (finding,) = [f for f in run.report(domain)["findings"] if f["code"] == "policy-cert-name"]
    assert finding["message"] == f"the policy host's certificate does not name mta-sts.{domain}: it names wrong-name.invalid"


@pytest.mark.timeout(30)
def test_the_nearest_caa_set_decides_while_the_tld_is_still_unanswered(servers: Servers) -> None:
    """A name server that never answers for names outside its zone (here the
    TLD `test`): the CAA set found at the domain decides at once, so the
    trap is reported long before the 10 s deadline would cut the lookups."""
    domain = "silent-tld.test"
    records = "\n".join([STS, TLSRPT, MX, PAGES_A, '@ CAA 0 issue "digicert.com"'])
    with zone_only_dns(minimal_zone(domain, records), domain) as dns_server:
        run = run_check_json(domain, "--nameserver", dns_server.address, "--ca-file", str(servers.ca_file),
                             "--connect-to", f":443:127.0.0.1:{servers.https_port}", "--timeout", "10")
        assert dns_server.errors == []
    findings = run.report(domain)["findings"]
    assert CAA_TRAP in {(f["code"], f["severity"]) for f in findings}, findings


BLOCKS, BOUND = "pages-caa-blocks", "pages-caa-account-bound"
ACCOUNT_BOUND = f"letsencrypt.org; accounturi={ACCOUNT}".encode()


@pytest.mark.parametrize(
    ("records", "expect"),
    [
        pytest.param([], None, id="no-records"),
        pytest.param([(0, b"issue", b"letsencrypt.org")], None, id="letsencrypt"),
        pytest.param([(0, b"ISSUE", b" letsencrypt.org ;")], None, id="tag-case-and-spaces"),
        pytest.param([(0, b"issue", b"letsencrypt.org; validationmethods=http-01")], None, id="with-parameters"),
        pytest.param([(0, b"issue", b"LetsEncrypt.org")], BLOCKS, id="issuer-case"),  # Boulder compares exactly
        pytest.param([(0, b"issue", b"letsencrypt.org; accounturi")], BLOCKS, id="bad-parameter"),
        # RFC 8659 §4.2: issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]
        pytest.param([(0, b"issue", b"letsencrypt.org; ")], None, id="space-after-semicolon"),
        pytest.param([(0, b"issue", b"letsencrypt.org;\t")], None, id="tab-after-semicolon"),
        pytest.param([(0, b"issue", b"letsencrypt.org; validationmethods=http-01; ")], BLOCKS, id="semicolon-after-parameters"),
        pytest.param([(0, b"issue", b"letsencrypt.org; account-uri=x")], BLOCKS, id="hyphen-in-parameter-tag"),  # Boulder: letters and digits
        pytest.param([(0, b"issue", b";"), (0, b"issue", b"letsencrypt.org")], None, id="forbid-plus-letsencrypt"),
        pytest.param([(0, b"issuewild", b";"), (0, b"iodef", b"mailto:a@example.net")], None, id="no-issue-property"),
        pytest.param([(128, b"iodef", b"mailto:a@example.net")], None, id="critical-known-tag"),
        pytest.param([(1, b"future", b"x"), (0, b"issue", b"letsencrypt.org")], BLOCKS, id="critical-bit-1"),
        pytest.param([(0, b"future", b"x")], None, id="unknown-not-critical"),
        pytest.param([(0, b"issue", b"digicert.com"), (0, b"issuewild", b"letsencrypt.org")], BLOCKS, id="wild-only"),
        pytest.param([(0, b"issue", b"letsencrypt.org; =x")], None, id="empty-parameter-tag"),  # Boulder takes it, an unknown parameter
        pytest.param([(128, b"issuemail", b"x"), (128, b"issuevmc", b"x"), (0, b"issue", b"letsencrypt.org")], None,
                     id="critical-issuemail-issuevmc"),  # tags Boulder knows (S/MIME, VMC)
        # RFC 8657 (Boulder va/caa.go): Pages asks with GitHub's own account, by http-01 or tls-alpn-01.
        pytest.param([(0, b"issue", ACCOUNT_BOUND)], BOUND, id="accounturi-only"),
        pytest.param([(0, b"issue", b"letsencrypt.org; validationmethods=dns-01")], BLOCKS, id="dns-01-only"),
        pytest.param([(0, b"issue", b"letsencrypt.org; validationmethods=http-01,tls-alpn-01")], None, id="http-01-and-tls-alpn-01"),
        pytest.param([(0, b"issue", b"letsencrypt.org;validationmethods=tls-alpn-01")], None, id="tls-alpn-01-only"),
        pytest.param([(0, b"issue", b"letsencrypt.org; validationmethods=dns-01"), (0, b"issue", ACCOUNT_BOUND),
                      (0, b"issue", b"letsencrypt.org; validationmethods=dns-01,http-01"), (0, b"issue", b"digicert.com")],
                     None, id="mixed-one-usable"),
        pytest.param([(0, b"issue", b"letsencrypt.org; validationmethods=dns-01"), (0, b"issue", ACCOUNT_BOUND)], BOUND,
                     id="mixed-account-bound-and-dns-01"),
        pytest.param([(0, b"issue", ACCOUNT_BOUND + b"; validationmethods=dns-01")], BLOCKS, id="accounturi-and-dns-01"),
        pytest.param([(0, b"issue", b"letsencrypt.org; policy=ev; x1=y")], None, id="unknown-parameters"),
        pytest.param([(0, b"issue", b"letsencrypt.org; ValidationMethods=dns-01; AccountURI=x")], None,
                     id="parameter-tag-case"),  # Boulder matches the tags exactly: these are unknown parameters
        pytest.param([(0, b"issue", b"letsencrypt.org; validationmethods=dns-01 http-01")], BLOCKS, id="malformed-parameter"),
        pytest.param([(0, b"issue", b"letsencrypt.org; validationmethods=HTTP-01,TLS-ALPN-01")], BLOCKS,
                     id="method-case"),  # Boulder compares method names exactly
        pytest.param([(0, b"issue", b"letsencrypt.org; validationmethods=dns-01,,http-01")], BLOCKS,
                     id="bad-method-entry-first"),  # Boulder fails at the first entry that is not a method name
        pytest.param([(0, b"issue", b"letsencrypt.org; validationmethods=http-01,,dns-01")], None, id="bad-method-entry-after"),
        pytest.param([(0, b"issue", b"letsencrypt.org; validationmethods=http-01; validationmethods=http-01")], BLOCKS,
                     id="two-validationmethods"),
        pytest.param([(0, b"issue", ACCOUNT_BOUND + b"; accounturi=" + ACCOUNT.encode())], BLOCKS, id="two-accounturi"),
        pytest.param([(0, b"issue", b"letsencrypt.org; validationmethods=")], BLOCKS, id="empty-validationmethods"),
    ],
)
def test_caa_decides_as_lets_encrypt_does(records, expect: str | None) -> None:
    refusal = caa_refusal(tuple(records), "example.com")
    assert (None if refusal is None else BLOCKS if refusal.certain else BOUND) == expect


def test_the_fix_for_a_parents_caa_set_offers_a_record_at_the_policy_host() -> None:
    """RFC 8659 §3: the climb stops at the first name with CAA records, so
    the policy host's own record leaves the parent's restriction alone."""
    records = ((0, b"issue", b"digicert.com"),)
    own = 'add mta-sts.example.com. CAA 0 issue "letsencrypt.org"'
    assert own in caa_refusal(records, "example.com", "mta-sts.example.com").fix
    assert own in caa_refusal(((128, b"future", b"x"),), "example.com", "mta-sts.example.com").fix
    assert "mta-sts" not in caa_refusal(records, "example.com").fix


def test_methods_pages_cannot_use_are_named_with_the_reason() -> None:
    why = caa_refusal(((0, b"issue", b"letsencrypt.org; validationmethods=dns-01,HTTP-01"),), "example.com").why
    assert "validationmethods=dns-01,HTTP-01" in why and "http-01 or tls-alpn-01" in why
    assert "HTTP-01 is not http-01" in why


@pytest.mark.parametrize("issuer", [b"LetsEncrypt.org", b"letsencrypt.org."])
def test_a_near_miss_of_the_issuer_name_says_it_is_compared_exactly(issuer: bytes) -> None:
    why = caa_refusal(((0, b"issue", issuer),), "example.com").why
    assert f"{issuer.decode()} is not letsencrypt.org: Let's Encrypt compares the issuer name exactly" in why
