"""The composite action's `dns` input: `dns apply` after the build, against a
real BIND 9 taking TSIG-signed updates, the key given through the step's env."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from generator.config import loads
from tests.support.dns_server import minimal_zone
from tests.support.github import ROOT, action_checkout, check_schema, fresh_python, render_template, run_composite, zizmor_findings
from tests.test_dns_publish import CONFIG as PUBLISH_CONFIG

pytestmark = pytest.mark.timeout(120)

CONFIG = PUBLISH_CONFIG.replace("{mx}", "mx1.example.com").replace("{rua}", "mailto:tls@example.com")


@pytest.fixture(scope="module")
def action_dir(tmp_path_factory) -> Path:
    return action_checkout(tmp_path_factory.mktemp("action") / "mta-sts-pages")


def test_action_applies_the_records_with_secrets_from_env(tmp_path, action_dir, bind_server_factory):
    # The id is already live, so apply needs no policy fetch (none is served here).
    sts_id = loads(CONFIG.format(port=53)).domains[0].id
    named = bind_server_factory({"example.com": minimal_zone("example.com", f'@ IN MX 10 mx1\n_mta-sts IN TXT "v=STSv1; id={sts_id}"\n')})
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "mta-sts.yml").write_text(CONFIG.format(port=named.port))
    python = fresh_python(tmp_path / "python")
    secrets = {"TSIG_KEY_NAME": named.key.name, "TSIG_KEY_SECRET": named.key.secret}
    before = set(named.transfer("example.com"))

    def run(inputs, step_env=secrets):
        return run_composite(action_dir, inputs, workspace, python, tmp_path / "runner-temp", step_env=step_env)

    applied = run({"dns": "apply"})
    assert applied.returncode == 0, applied.log
    assert "mta-sts-pages dns apply, exit 0" in applied.summary and "applied 2 changes" in applied.summary
    assert set(named.transfer("example.com")) - before == {
        ("_smtp._tls.example.com.", 3600, "TXT", '"v=TLSRPTv1; rua=mailto:tls@example.com"'),
        ("mta-sts.example.com.", 3600, "CNAME", "example-org.github.io."),
    }

    diff = run({"dns": "diff"})
    assert diff.returncode == 0, diff.log
    assert "example.com: in sync" in diff.summary

    missing = run({"dns": "apply"}, step_env={})
    assert missing.returncode == 2, missing.log
    assert "the environment variable TSIG_KEY_NAME is not set" in missing.summary

    wrong = run({"dns": "yes"})
    assert wrong.returncode != 0 and "::error::dns is 'yes'; use 'apply', 'diff' or leave it empty" in wrong.log


def test_readme_dns_job_added_to_the_template_workflow_passes_the_schema_and_zizmor(tmp_path):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("<!-- dns:start -->"):readme.index("<!-- dns:end -->")]
    [job] = [block for block in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL) if block.startswith("  dns:")]
    workflow = render_template(tmp_path / "repo") / ".github" / "workflows" / "mta-sts-pages.yml"
    workflow.write_text(workflow.read_text() + "\n" + job)

    check_schema("vendor.github-workflows", workflow)
    assert zizmor_findings(workflow) == []
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    assert jobs["dns"]["needs"] == "deploy"
    [step] = [s for s in jobs["dns"]["steps"] if s.get("with", {}).get("dns") == "apply"]
    assert all(value.startswith("${{ secrets.") for value in step["env"].values())
