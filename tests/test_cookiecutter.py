"""The cookiecutter template (examples/cookiecutter): real `cookiecutter
--no-input` renders a policy repository whose config validates, whose
workflow passes the linters, and whose workflow, run as GitHub runs it
(the action, then the Pages archive), publishes the policy."""

from __future__ import annotations

import tarfile

import pytest
import yaml
from typer.testing import CliRunner

from generator.cli import app
from generator.config import load, loads
from generator.release import action_ref
from generator.site import DEPENDABOT_PATH, POLICY_PATH, WORKFLOW_PATH, config_files
from tests.support.github import (
    ROOT,
    action_checkout,
    as_input,
    check_schema,
    fresh_python,
    pages_artifact,
    render_template,
    resolve,
    run_composite,
    steps_using,
    zizmor_findings,
)

pytestmark = pytest.mark.timeout(60)

SHA = "0123456789abcdef0123456789abcdef01234567"
OVERRIDE = (
    "domain=bücher.example",
    "mx=*.mail.protection.outlook.com",
    "mode=enforce",
    "tlsrpt_rua=mailto:tls@xn--bcher-kva.example, https://tlsrpt.example.net/v1/report",
    "github_owner=Example-Books",
    "branch=trunk",
    f"action=example-org/mta-sts-pages@{SHA} # v1.2.0",
    "repo_name=policy",
)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            (),
            {"repo": "mta-sts-example-com", "domain": "example.com", "mode": "testing", "mx": ("mx1.example.com", "mx2.example.com"),
             "rua": ("mailto:tls-reports@example.com",), "owner": "example-org", "uses": "mta-sts-pages/mta-sts-pages@v1",
             "typed": "example.com", "branch": "main"},
            id="defaults",
        ),
        pytest.param(
            OVERRIDE,
            {"repo": "policy", "domain": "xn--bcher-kva.example", "mode": "enforce", "mx": ("*.mail.protection.outlook.com",),
             "rua": ("mailto:tls@xn--bcher-kva.example", "https://tlsrpt.example.net/v1/report"), "owner": "example-books",
             "uses": f"example-org/mta-sts-pages@{SHA}", "typed": "bücher.example", "branch": "trunk"},
            id="override",
        ),
        pytest.param(
            ("domain=bücher.example",),
            {"repo": "mta-sts-bucher-example", "domain": "xn--bcher-kva.example", "mode": "testing",
             "mx": ("mx1.xn--bcher-kva.example", "mx2.xn--bcher-kva.example"), "rua": ("mailto:tls-reports@xn--bcher-kva.example",),
             "owner": "example-org", "uses": "mta-sts-pages/mta-sts-pages@v1", "typed": "bücher.example", "branch": "main"},
            id="international-domain-defaults",
        ),
        # IDNA 2003 (Python's "idna" codec) maps ß to ss: the reports would go
        # to fass.de, another domain. The tool and the template use IDNA 2008.
        pytest.param(
            ("domain=faß.de",),
            {"repo": "mta-sts-fass-de", "domain": "xn--fa-hia.de", "mode": "testing",
             "mx": ("mx1.xn--fa-hia.de", "mx2.xn--fa-hia.de"), "rua": ("mailto:tls-reports@xn--fa-hia.de",),
             "owner": "example-org", "uses": "mta-sts-pages/mta-sts-pages@v1", "typed": "faß.de", "branch": "main"},
            id="deviation-character-in-domain",
        ),
    ],
)
def test_template_renders_a_repository_that_deploys_its_policy(tmp_path, overrides, expected):
    repo = render_template(tmp_path / "out", *overrides)
    assert repo.name == expected["repo"]
    assert sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()) == [
        ".github/dependabot.yml", ".github/workflows/mta-sts-pages.yml", ".gitignore", "README.md", "mta-sts.yml",
    ]

    # Validates: the config with the CLI, strictly; the workflow with the linters.
    result = CliRunner().invoke(app, ["validate", "--config", str(repo / "mta-sts.yml"), "--strict"])
    assert result.exit_code == 0, result.output
    [domain] = load(str(repo / "mta-sts.yml")).domains
    assert (domain.domain, domain.policy.mode, domain.policy.mx, domain.tlsrpt_rua, domain.owner) == (
        expected["domain"], expected["mode"], expected["mx"], expected["rua"], expected["owner"],
    )
    workflow_file = repo / ".github" / "workflows" / "mta-sts-pages.yml"
    check_schema("vendor.github-workflows", workflow_file)
    # The same Dependabot config `build` writes keeps the workflow's pins current.
    check_schema("vendor.dependabot", repo / ".github" / "dependabot.yml")
    assert (repo / ".github" / "dependabot.yml").read_bytes() == (ROOT / "templates" / "dependabot.yml.j2").read_bytes()
    assert zizmor_findings(workflow_file) == []
    workflow = yaml.safe_load(workflow_file.read_text())
    assert workflow[True]["push"] == {"branches": [expected["branch"]]}  # YAML 1.1 reads a bare `on` as true
    [action_step] = [s for s in workflow["jobs"]["build"]["steps"] if s.get("id") == "site"]
    assert action_step["uses"] == expected["uses"]

    # Builds: the workflow's action step, then its upload step's archive.
    action_dir = action_checkout(tmp_path / "action")
    inputs = {name: as_input(value) for name, value in action_step["with"].items()}
    run = run_composite(action_dir, inputs, repo, fresh_python(tmp_path / "python"), tmp_path / "runner-temp")
    assert run.returncode == 0, run.log
    [upload] = steps_using(workflow, "actions/upload-pages-artifact")
    context = {f"steps.site.outputs.{name}": value for name, value in run.outputs.items()}
    upload_inputs = {name: resolve(as_input(value), context) for name, value in upload["with"].items()}
    archive = pages_artifact(repo, upload_inputs, tmp_path / "runner-temp")
    with tarfile.open(archive) as tar:
        assert tar.extractfile(f"./{POLICY_PATH}").read() == domain.policy_bytes
        assert not [name for name in tar.getnames() if "/.github" in name or name.endswith("mta-sts.yml")]
    assert f"`_mta-sts.{domain.domain}.` | TXT | `v=STSv1; id={domain.id}`" in run.summary

    readme = (repo / "README.md").read_text()
    assert f"custom domain `mta-sts.{expected['typed']}`" in readme
    assert f"git push -u origin {expected['branch']}\n" in readme


def test_a_tag_ref_is_marked_and_a_commit_ref_is_not(tmp_path):
    """zizmor asks for commit pins; a tag is accepted only with a visible
    ignore comment next to the advice to pin."""
    tagged = render_template(tmp_path / "tag").joinpath(".github/workflows/mta-sts-pages.yml").read_text()
    pinned = render_template(tmp_path / "sha", *OVERRIDE).joinpath(".github/workflows/mta-sts-pages.yml").read_text()
    assert "uses: mta-sts-pages/mta-sts-pages@v1 # zizmor: ignore[unpinned-uses]" in tagged
    assert "pin a commit instead" in tagged
    assert "zizmor" not in pinned and "pin a commit" not in pinned
    assert f"uses: example-org/mta-sts-pages@{SHA} # v1.2.0\n" in pinned


@pytest.mark.parametrize("pinned", [True, False], ids=["commit", "tag"])
def test_pages_setup_pushes_the_template_workflow(tmp_path, monkeypatch, pinned):
    """Way 2's workflow has one text: the template's (which the README shows
    verbatim) is the one `pages setup` pushes, pinned to this release."""
    ref = action_ref() if pinned else action_ref()._replace(commit=None)
    monkeypatch.setattr("generator.site.action_ref", lambda: ref)
    uses = f"{ref.repository}@{ref.commit} # {ref.tag}" if pinned else f"{ref.repository}@{ref.tag}"
    repo = render_template(tmp_path / "out", "domain=a.example", "branch=trunk", f"action={uses}")
    [domain] = loads("domain: a.example\npolicy: {mode: testing, mx: [mx.a.example]}\npages: {branch: trunk}\n").domains
    pushed = config_files(domain, b"")
    assert pushed[WORKFLOW_PATH] == (repo / WORKFLOW_PATH).read_bytes()
    assert pushed[DEPENDABOT_PATH] == (repo / DEPENDABOT_PATH).read_bytes()
