"""The STARTTLS probe outside `check`: `monitor --smtp`, the action's
`smtp: true` for its check command, and `monitor.smtp: true` read by the
action's monitor command. A real SMTP server (aiosmtpd) with STARTTLS is
the MX host, NSD the DNS, a TLS server the policy host, and the real `gh`
keeps the issues on the local GitHub. Each broken case would pass unnoticed
if the probe were skipped: only the probe can see the MX host's STARTTLS."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.config import loads
from generator.records import to_bind
from tests.support.certs import CertKind
from tests.support.cli import run_cli
from tests.support.dns_server import minimal_zone
from tests.support.fixtures import SmtpServerFactory
from tests.support.github import action_checkout, fresh_python, run_composite
from tests.support.local_github import Issue, LocalGitHub
from tests.support.tls_server import Route

pytestmark = pytest.mark.timeout(120)

DOMAIN = "probed.test"
MX_HOST = f"mx1.{DOMAIN}"
CONFIG = f"""\
domain: {DOMAIN}
policy:
  mode: enforce
  mx: [{MX_HOST}]
tlsrpt:
  rua: ["mailto:tls@example.net"]
"""
BUILT = loads(CONFIG).domains[0]
REPOSITORY = "example-org/mta-sts-probed"


@dataclass
class Mail:
    """The domain's DNS and policy host, and what the check commands need
    to reach them; ``mx(cert)`` starts an MX host (cert None: no STARTTLS)."""

    nameserver: str
    ca_file: Path
    https_port: int
    smtp_server_factory: SmtpServerFactory
    github: LocalGitHub
    gh_env: dict[str, str]  # what the runner's gh needs to reach the local GitHub

    def mx(self, cert: CertKind | None):
        return self.smtp_server_factory(MX_HOST, cert=cert)

    def connect_to(self, smtp_port: int) -> list[str]:
        return [f"mta-sts.{DOMAIN}:443:127.0.0.1:{self.https_port}", f"{MX_HOST}:25:127.0.0.1:{smtp_port}"]

    def issues(self) -> list[Issue]:
        return list(self.github.repos[REPOSITORY].issues.values())


@pytest.fixture
def mail(tmp_path, monkeypatch, dns_server_factory, tls_server_factory, smtp_server_factory, local_github) -> Mail:
    zone = minimal_zone(DOMAIN, to_bind([BUILT]) + f"@ MX 10 mx1\nmx1 A 127.0.0.1\nmta-sts A 127.0.0.1\n")
    nsd = dns_server_factory({DOMAIN: zone})
    https = tls_server_factory()
    https.route(f"mta-sts.{DOMAIN}", Route(body=BUILT.policy_bytes))
    local_github.repo(REPOSITORY)
    env = local_github.env(local_github.token("github-actions[bot]", {"contents": "read", "issues": "write"}), tmp_path)
    for name in ("MTA_STS_PAGES_NAMESERVER", "MTA_STS_PAGES_CA_FILE", "MTA_STS_PAGES_CONNECT_TO"):
        monkeypatch.delenv(name, raising=False)
    return Mail(nsd.address, https.ca_pem_path, https.port, smtp_server_factory, local_github, env)


def test_monitor_smtp_opens_an_issue_for_a_broken_mx_and_closes_it_once_fixed(tmp_path, monkeypatch, mail):
    """The config has no monitor: section, so only --smtp asks for the probe."""
    config = tmp_path / "mta-sts.yml"
    config.write_text(CONFIG)
    for name, value in mail.gh_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GH_REPO", REPOSITORY)

    def run(smtp_port: int):
        flags = [f for rule in mail.connect_to(smtp_port) for f in ("--connect-to", rule)]
        return run_cli("monitor", "-c", config, "--smtp", "--nameserver", mail.nameserver, "--ca-file", mail.ca_file,
                       *flags, "--timeout", "10")

    broken = mail.mx(cert=None)
    result = run(broken.port)

    assert result.code == 0, result.output
    assert broken.connections == 1
    assert f"{DOMAIN}: findings need action; opened issue #1" in result.out
    [issue] = mail.issues()
    assert issue.state == "open" and "`smtp-starttls-missing`" in issue.body, issue.body

    fixed = mail.mx(cert=CertKind.GOOD)
    result = run(fixed.port)

    assert result.code == 0, result.output
    assert fixed.connections == 1
    assert f"{DOMAIN}: healthy again; closed issue #1" in result.out
    [issue] = mail.issues()
    assert issue.state == "closed" and issue.comments[-1].startswith("Healthy again.")


@pytest.fixture(scope="module")
def action_dir(tmp_path_factory) -> Path:
    return action_checkout(tmp_path_factory.mktemp("action") / "mta-sts-pages")


def _run_action(tmp_path: Path, action_dir: Path, mail: Mail, smtp_port: int, config: str, inputs: dict[str, str]):
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "mta-sts.yml").write_text(config)
    hooks = {
        "MTA_STS_PAGES_NAMESERVER": mail.nameserver,
        "MTA_STS_PAGES_CA_FILE": str(mail.ca_file),
        "MTA_STS_PAGES_CONNECT_TO": " ".join(mail.connect_to(smtp_port)),  # a list option's variable: blank-separated
        **mail.gh_env,
    }
    python = fresh_python(tmp_path / "python")
    # The runner's PATH has gh; the action puts its own Python first.
    hooks["PATH"] = os.pathsep.join([str(python), os.environ["PATH"]])
    return run_composite(action_dir, inputs, workspace, python, tmp_path / "runner-temp", extra_env=hooks,
                         github={"github.repository": REPOSITORY})


@pytest.mark.parametrize(("smtp", "result"), [("true", "errors"), ("false", "ok")])
def test_action_check_probes_the_mx_with_smtp_true(tmp_path, action_dir, mail, smtp, result):
    broken = mail.mx(cert=CertKind.WRONG_NAME)

    run = _run_action(tmp_path, action_dir, mail, broken.port, CONFIG, {"command": "check", "smtp": smtp})

    assert run.outputs["result"] == result, run.log
    assert run.returncode == (1 if result == "errors" else 0), run.log
    assert ("`smtp-cert-name`" in run.summary) is (smtp == "true"), run.summary
    assert broken.connections == (2 if smtp == "true" else 0)  # the second session reads the names the certificate carries


def test_action_monitor_probes_the_mx_when_the_config_says_monitor_smtp(tmp_path, action_dir, mail):
    broken = mail.mx(cert=None)

    run = _run_action(tmp_path, action_dir, mail, broken.port, CONFIG + "monitor:\n  smtp: true\n", {"command": "monitor"})

    assert run.returncode == 0, run.log
    assert broken.connections == 1
    assert "`smtp-starttls-missing`" in run.summary, run.summary
    [issue] = mail.issues()
    assert issue.state == "open" and "`smtp-starttls-missing`" in issue.body, issue.body
    assert {call.path.split("/")[2:4] == REPOSITORY.split("/") for call in mail.github.calls} == {True}
