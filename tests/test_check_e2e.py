"""`check` end to end: the sites `build` writes, served over TLS, with the DNS
records `records` prints served by NSD, pass with zero errors."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from generator.check.command import Output, check_command
from generator.check.targets import Targets
from generator.check.options import make_options
from generator.config import load
from tests.support.check_run import run_check_json
from tests.support.cli import run_cli
from tests.support.dns_server import minimal_zone
from tests.support.tools import require_tool

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _zones_from_records(config: Path, extra: dict[str, str]) -> dict[str, str]:
    """One zone per domain from `records --format bind` (a block per domain),
    plus the MX lines the user already has (``extra``)."""
    printed = run_cli("records", "-c", config, "--format", "bind")
    assert printed.code == 0, printed.output
    zones = {}
    for block in printed.out.strip().split("\n\n"):
        domain = block.split(":", 1)[0].removeprefix("; ")
        zones[domain] = minimal_zone(domain, block + "\n" + extra[domain])
    return zones


def _flags(nameserver: str, ca_file: Path, https_port: int) -> list[str]:
    # Every host's port 443 goes to the test server: the curl-style rule
    # that checks a site before DNS points at it.
    return ["--nameserver", nameserver, "--ca-file", str(ca_file), "--connect-to", f":443:127.0.0.1:{https_port}"]


@pytest.mark.timeout(90)
def test_example_built_by_jekyll_passes(tmp_path: Path, dns_server_factory, tls_server_factory) -> None:
    jekyll = require_tool("jekyll")
    config = EXAMPLES / "google-workspace.yml"
    site, served = tmp_path / "site", tmp_path / "_site"
    built = run_cli("build", "-c", config, "-o", site)
    assert built.code == 0, built.output
    subprocess.run([jekyll, "build", "-s", site, "-d", served, "--disable-disk-cache"], check=True, capture_output=True, timeout=60)

    mx = "@ MX 1 smtp.google.com.\n@ MX 5 aspmx.l.google.com.\n@ MX 10 alt1.aspmx.l.google.com."
    zones = _zones_from_records(config, {"example.com": mx})
    # `records` points mta-sts at <owner>.github.io; this zone stands in for GitHub's.
    zones["github.io"] = minimal_zone("github.io", "example-org A 127.0.0.1")
    nsd = dns_server_factory(zones)
    https = tls_server_factory()
    https.serve_directory("mta-sts.example.com", served)

    # As in the README: reach the policy host through the Pages host's name,
    # which the check resolves with its own resolver (NSD here).
    run = run_check_json(
        "-c", str(config),
        "--nameserver", nsd.address,
        "--ca-file", str(https.ca_pem_path),
        "--connect-to", f"mta-sts.example.com:443:example-org.github.io:{https.port}",
    )

    report = run.report("example.com")
    assert run.code == 0, report["findings"]
    assert report["errors"] == 0 and report["warnings"] == 0, report["findings"]
    assert report["sts_id"] == load(str(config)).domains[0].id
    assert report["mx_hosts"] == ["smtp.google.com", "aspmx.l.google.com", "alt1.aspmx.l.google.com"]
    assert [(r.sni, r.path) for r in https.requests] == [("mta-sts.example.com", "/.well-known/mta-sts.txt")]
    assert https.errors == []


@pytest.fixture
def multi_domain(tmp_path: Path, dns_server_factory, tls_server_factory):
    """The multi-domain example, built and served (branch publishing: no Jekyll)."""
    config = EXAMPLES / "multi-domain.yml"
    sites = tmp_path / "sites"
    assert run_cli("build", "-c", config, "-o", sites).code == 0
    domains = [d.domain for d in load(str(config)).domains]
    mx = {d: f"@ MX 10 {d.replace('.', '-')}.mail.protection.outlook.com." for d in domains}
    mx["xn--bcher-kva.example"] = "@ MX 10 mx\nmx A 127.0.0.1"
    zones = _zones_from_records(config, mx)
    zones["github.io"] = minimal_zone("github.io", "example-hosting A 127.0.0.1")
    nsd = dns_server_factory(zones)
    https = tls_server_factory()
    for domain in domains:
        https.serve_directory(f"mta-sts.{domain}", sites / domain)
    return config, domains, _flags(nsd.address, https.ca_pem_path, https.port)


@pytest.mark.timeout(30)
def test_multi_domain_config_prints_a_summary_table(multi_domain) -> None:
    config, domains, flags = multi_domain
    result = run_cli("check", "-c", config, "--concurrency", "2", *flags)
    assert result.code == 0, result.output
    table = result.out[result.out.index("DOMAIN"):].splitlines()
    assert table[0].split() == ["DOMAIN", "RESULT", "ERRORS", "WARNINGS", "MODE", "ID"]
    assert [line.split()[:4] for line in table[1:4]] == [[d, "ok", "0", "0"] for d in domains]
    assert table[4] == "3 domains: 3 ok, 0 with warnings, 0 with errors"
    assert result.err == ""  # no progress bar: stderr is not a terminal


@pytest.mark.timeout(30)
def test_domains_file_gives_json_lines_and_errors_exit_1(multi_domain, tmp_path: Path) -> None:
    _, domains, flags = multi_domain
    listing = tmp_path / "domains.txt"
    listing.write_text("# our domains\n" + "\n".join(domains) + "\nbücher.example  # again, as a U-label\nexample-hosting.github.io\n")
    run = run_check_json("--domains-file", str(listing), *flags)
    assert sorted(r["domain"] for r in run.reports) == sorted([*domains, "example-hosting.github.io"])
    assert all(run.report(d)["result"] == "ok" for d in domains)
    assert ("sts-record-missing", "error") in run.findings("example-hosting.github.io")
    assert run.code == 1


@pytest.mark.timeout(30)
def test_progress_bar_only_on_a_terminal(multi_domain) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    config, domains, flags = multi_domain
    nameserver, ca_file, connect_to = flags[1], Path(flags[3]), flags[5]
    options = make_options(nameservers=[nameserver], ca_file=ca_file, connect_to=[connect_to], timeout=5, concurrency=4, smtp=False)
    out, err = io.StringIO(), Terminal()
    assert check_command(Targets(config=load(str(config))), options, workers=1, output=Output("json"), out=out, err=err) == 0
    assert "3/3 checked, 0 with errors" in err.getvalue()
    assert err.getvalue().endswith("\r\x1b[K")  # the bar is wiped at the end
    assert len(out.getvalue().splitlines()) == 3
