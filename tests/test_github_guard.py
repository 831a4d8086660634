"""The deploy guard: the `verify` job of each Pages workflow the project
writes or documents (build's, the template's, the README's), run step by
step as a runner runs it, against NSD and a TLS server with the test CA.
Served bytes equal: green; a stale policy or a 404: red, with a summary
that says so."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.config import load
from generator.records import to_bind
from generator.site import WORKFLOW_PATH
from tests.support.check_run import MX
from tests.support.cli import run_cli
from tests.support.dns_server import minimal_zone
from tests.support.github import JobRunner, action_checkout, fresh_python, readme_workflow, render_template, run_job
from tests.support.tls_server import Route

pytestmark = pytest.mark.timeout(180)

DOMAIN = "guard.test"
CONFIG = f"""\
domain: {DOMAIN}
policy:
  mode: testing
  mx: [mx1.{DOMAIN}]
pages:
  owner: example-org
"""
WORKFLOWS = ["build", "template", "readme"]


@pytest.fixture(scope="module")
def tools(tmp_path_factory):
    """Built once: the action's checkout and a fresh Python."""
    base = tmp_path_factory.mktemp("runner")
    return action_checkout(base / "action"), fresh_python(base / "python")


def _repository(kind: str, base: Path) -> Path:
    """A policy repository of each kind, as its owner pushes it."""
    if kind == "build":
        config = base / "mta-sts.yml"
        config.write_text(CONFIG)
        repo = base / "repo"
        assert run_cli("build", "-c", config, "-o", repo).code == 0
        return repo
    repo = render_template(base / "rendered", f"domain={DOMAIN}", f"mx=mx1.{DOMAIN}", "github_owner=example-org", "tlsrpt_rua=")
    if kind == "readme":
        (repo / WORKFLOW_PATH).write_text(readme_workflow())
    return repo


@pytest.mark.parametrize("kind", WORKFLOWS)
@pytest.mark.parametrize(
    ("served", "green", "says"),
    [
        pytest.param("built", True, ["**Served.**"], id="served"),
        pytest.param("stale", False, ["**Not served.**", "`policy-differs`", "What is served:", "mode: enforce"], id="stale"),
        pytest.param("missing", False, ["**Not served.**", "`policy-not-found`", "answers HTTP 404"], id="404"),
        # Pages serves the site but not .well-known: an upload without include-hidden-files.
        pytest.param("dropped", False, ["**Not served.**", "`pages-well-known-dropped`", "include-hidden-files: true"], id="dropped"),
    ],
)
def test_verify_job(tmp_path, tools, dns_server_factory, tls_server_factory, kind, served, green, says):
    action_dir, python_bin = tools
    repo = _repository(kind, tmp_path)
    [built] = load(str(repo / "mta-sts.yml") if kind != "build" else str(tmp_path / "mta-sts.yml")).domains
    # DNS still has the previous id: the summary must say when to publish the new one.
    records = to_bind([built]).replace(built.id, "previous1")
    nsd = dns_server_factory({DOMAIN: minimal_zone(DOMAIN, records + MX + "\n"), "github.io": minimal_zone("github.io", "example-org A 127.0.0.1")})
    https = tls_server_factory()
    routes = {
        "built": Route(body=built.policy_bytes),
        "stale": Route(body=built.policy_bytes.replace(b"mode: testing", b"mode: enforce")),
        "missing": Route(status=404, content_type="text/html", body=b"<h1>404</h1>"),
        "dropped": Route(status=404, content_type="text/html", body=b"<h1>404</h1>"),
    }
    https.route(f"mta-sts.{DOMAIN}", routes[served])
    if served == "dropped":
        https.route(f"mta-sts.{DOMAIN}", Route(content_type="text/html", body=b"<html>home</html>"), "/")
    runner = JobRunner(
        python_bin=python_bin, action_dir=action_dir, path=[],
        env={
            "MTA_STS_PAGES_NAMESERVER": nsd.address,
            "MTA_STS_PAGES_CA_FILE": str(https.ca_pem_path),
            "MTA_STS_PAGES_CONNECT_TO": f"mta-sts.{DOMAIN}:443:example-org.github.io:{https.port}",
            "MTA_STS_PAGES_WAIT": "1",
        },
        context={},
    )

    result = run_job(repo / WORKFLOW_PATH, "verify", repo, runner, tmp_path / "run")

    assert (result.returncode == 0) is green, result.log
    assert f"### MTA-STS deploy check: {DOMAIN}" in result.summary
    for text in says:
        assert text in result.summary, result.summary
    record = f'_mta-sts.{DOMAIN}.\t3600\tIN\tTXT\t"v=STSv1; id={built.id}"'
    assert f"```dns\n{record}\n```" in result.summary
    assert ("publish this record now" in result.summary) is green
    # No redirect followed; "/" only asked after a 404, to tell a dropped .well-known from a missing site.
    allowed = {"/.well-known/mta-sts.txt", "/"} if served in ("missing", "dropped") else {"/.well-known/mta-sts.txt"}
    assert https.requests and {r.path for r in https.requests} <= allowed
    shutil.rmtree(tmp_path / "run")
