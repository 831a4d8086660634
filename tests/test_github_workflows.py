"""Every workflow and action the project writes or ships passes GitHub's
schemas and zizmor with no finding, pins its actions, and deploys Pages
with the settings of GitHub's starter workflows (SPEC §5)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from generator.build import build, site_folder
from generator.config import load, loads
from generator import __version__
from generator.release import action_ref
from generator.site import DEPENDABOT_PATH, MONITOR_PATH, WORKFLOW_PATH, config_files
from tests.support.cli import run_cli
from tests.support.github import (
    ROOT,
    README_MONITOR_WORKFLOW,
    TEMPLATE,
    actionlint_findings,
    check_schema,
    is_full_sha,
    readme_workflow as readme_workflow_text,
    render_template,
    steps_using,
    uses_pins,
    zizmor_findings,
)

pytestmark = pytest.mark.timeout(60)

ACTION = ROOT / "action.yml"
OWN_WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
OWN_DEPENDABOT = ROOT / ".github" / "dependabot.yml"
EXAMPLE_WORKFLOWS = sorted((ROOT / "examples" / "workflows").glob("*.yml"))
TEMPLATE_WORKFLOW = TEMPLATE / "{{cookiecutter.repo_name}}" / ".github" / "workflows" / "mta-sts-pages.yml"
# The majors SPEC §5 names; a pin of another major is a mistake.
MAJORS = {
    "actions/checkout": "v7",
    "actions/setup-python": "v7",
    "actions/configure-pages": "v5",
    "actions/upload-pages-artifact": "v5",
    "actions/deploy-pages": "v5",
    # The release workflow's.
    "actions/upload-artifact": "v7",
    "actions/download-artifact": "v8",
    "pypa/gh-action-pypi-publish": "v1",
}


# A label and a schedule that need quoting, and the STARTTLS probe on.
MONITORED = """\
domain: example.org
policy: {mode: enforce, mx: [mx.example.org]}
monitor: {schedule: "*/30 1-5 * JAN-MAR MON,FRI", smtp: true, label: "mta-sts: 'health' $x"}
"""
# The autopilot: reports from a folder and a mailbox whose names need quoting, and promote on.
PROMOTING = """\
domain: example.net
policy: {mode: testing, mx: [mx.example.net]}
monitor: {promote: true, reports: {imap: "imaps://r%40example.net@imap.example.net/TLS $(x)", paths: ["reports/", "-a b; c"]}}
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> list[Path]:
    """The Pages workflow `build` writes, for every example domain that deploys with one."""
    out = tmp_path_factory.mktemp("generated")
    files = []
    for example in sorted((ROOT / "examples").glob("*.yml")):
        config = load(str(example))
        build(config, out / example.stem)
        files += [site_folder(config, out / example.stem, d.domain) / WORKFLOW_PATH for d in config.domains if d.deploy == "workflow"]
    assert files
    return files


@pytest.fixture(scope="module")
def readme_workflow(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("readme") / "mta-sts-pages.yml"
    path.write_text(readme_workflow_text())
    return path


@pytest.fixture(scope="module")
def monitors(tmp_path_factory) -> list[Path]:
    """The monitor workflow `build` writes for a monitor: section, and the README's for way 2."""
    out = tmp_path_factory.mktemp("monitored")
    (out / "mta-sts.yml").write_text(MONITORED)
    build(load(str(out / "mta-sts.yml")), out / "site")
    (out / "readme-monitor.yml").write_text(readme_workflow_text(README_MONITOR_WORKFLOW))
    (out / "promoting.yml").write_text(PROMOTING)
    build(load(str(out / "promoting.yml")), out / "promoting")
    # Way 2: the monitor workflow pages setup pushes beside mta-sts.yml.
    way_2 = MONITORED.replace("monitor:", "pages: {content: config}\nmonitor:")
    (out / "way-2-monitor.yml").write_bytes(config_files(loads(way_2).domains[0], way_2.encode())[MONITOR_PATH])
    return [out / "site" / MONITOR_PATH, out / "readme-monitor.yml", out / "promoting" / MONITOR_PATH, out / "way-2-monitor.yml"]


@pytest.fixture(scope="module")
def templated(tmp_path_factory) -> Path:
    """The workflow of a repository rendered from the cookiecutter template's defaults."""
    return render_template(tmp_path_factory.mktemp("cookiecutter")) / ".github" / "workflows" / "mta-sts-pages.yml"


def test_files_match_the_github_schemas(generated, monitors, templated, readme_workflow):
    check_schema("vendor.github-actions", ACTION)
    check_schema("vendor.github-workflows", *OWN_WORKFLOWS, *EXAMPLE_WORKFLOWS, *generated, *monitors, templated, readme_workflow)


def test_zizmor_finds_nothing(generated, monitors, templated, readme_workflow):
    assert {"test.yml", "release.yml"} <= {path.name for path in OWN_WORKFLOWS} and EXAMPLE_WORKFLOWS
    assert zizmor_findings(ACTION, *OWN_WORKFLOWS, *EXAMPLE_WORKFLOWS, *generated, *monitors, templated, readme_workflow) == []


def test_actionlint_finds_nothing(generated, monitors, templated, readme_workflow):
    assert actionlint_findings(*OWN_WORKFLOWS, *EXAMPLE_WORKFLOWS, *generated, *monitors, templated, readme_workflow) == []


def test_dependabot_files_match_the_schema(generated, monitors):
    written = [path.parents[2] / DEPENDABOT_PATH for path in [*generated, monitors[0]]]
    check_schema("vendor.dependabot", OWN_DEPENDABOT, *written)


def test_sites_with_a_workflow_get_dependabot_for_their_actions(generated, monitors):
    for path in [*generated, monitors[0]]:
        [update] = yaml.safe_load((path.parents[2] / DEPENDABOT_PATH).read_text())["updates"]
        assert update["package-ecosystem"] == "github-actions" and update["directory"] == "/"
        assert update["cooldown"]["default-days"] >= 3
        assert update["groups"] == {"github-actions": {"patterns": ["*"]}}
    own = {u["package-ecosystem"] for u in yaml.safe_load(OWN_DEPENDABOT.read_text())["updates"]}
    assert own == {"github-actions", "pip"}


def test_generated_jobs_install_only_through_the_pinned_action(generated, monitors):
    """No job `build` writes runs pip: mta-sts-pages comes from the project's
    action at this copy's commit, which installs only hash-pinned files."""
    ref = action_ref()
    assert is_full_sha(ref.commit or "")  # a git checkout knows its commit
    for path in [*generated, monitors[0]]:
        workflow = yaml.safe_load(path.read_text())
        runs = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
        assert not any("pip" in run for run in runs), path
        installs = steps_using(workflow, ref.repository)
        assert [step["with"] for step in installs] == [{"command": "install"}]
        assert f"uses: {ref.repository}@{ref.commit} # v{__version__}\n" in path.read_text()


def test_a_copy_without_a_commit_names_its_tag_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr("generator.site.action_ref", lambda: action_ref()._replace(commit=None))
    build(load(str(ROOT / "examples" / "google-workspace.yml")), tmp_path)
    text = (tmp_path / WORKFLOW_PATH).read_text()
    assert f"uses: {action_ref().repository}@v{__version__} # zizmor: ignore[unpinned-uses]\n" in text
    assert "knows no release commit: pin one here" in text


def test_actionlint_really_checks(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }} $UNQUOTED_VAR\n")
    findings = "\n".join(actionlint_findings(broken))
    assert 'property "nope" is not defined' in findings, findings
    assert "SC2086" in findings, findings  # ShellCheck ran on the script


def test_guard_and_monitor_hold_only_the_permissions_they_need(generated, monitors, templated):
    for path in [*generated, templated]:
        workflow = yaml.safe_load(path.read_text())
        verify = workflow["jobs"]["verify"]
        assert verify["needs"] == "deploy"
        assert verify["permissions"] == {"contents": "read"}
        assert list(workflow["jobs"])[-1] == "verify"
    for path in monitors:
        workflow = yaml.safe_load(path.read_text())
        assert workflow["permissions"] == {}
        # pages: read lets it add GitHub's view of the site (certificate, custom domain, HTTPS).
        wanted = {"contents": "read", "issues": "write", "pages": "read"}
        if "--promote" in workflow["jobs"]["monitor"]["steps"][-1].get("run", ""):  # only then may it write a branch and a pull request
            wanted = {"contents": "write", "issues": "write", "pages": "read", "pull-requests": "write"}
        assert {name: job["permissions"] for name, job in workflow["jobs"].items()} == {"monitor": wanted}
        assert workflow[True]["schedule"] in ([{"cron": "*/30 1-5 * JAN-MAR MON,FRI"}], [{"cron": "23 6 * * *"}])


def test_every_action_is_pinned_to_one_commit_everywhere():
    sources = [ACTION, *OWN_WORKFLOWS, *(ROOT / "templates").glob("*.yml.j2"), TEMPLATE_WORKFLOW]
    pins: dict[str, set[tuple[str, str]]] = {}
    for source in sources:
        for action, ref, comment in uses_pins(source.read_text()):
            assert is_full_sha(ref), f"{source.name}: {action}@{ref} is not a full commit SHA"
            assert re.fullmatch(r"v\d+\.\d+\.\d+", comment), f"{source.name}: {action} needs its version in a comment"
            assert comment.split(".")[0] == MAJORS[action], f"{source.name}: {action} {comment} is not {MAJORS[action]}"
            pins.setdefault(action, set()).add((ref, comment))
    assert set(pins) == set(MAJORS)
    assert {action: len(refs) for action, refs in pins.items()} == dict.fromkeys(MAJORS, 1), pins


def _pages_settings(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    assert workflow["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    # The starter's workflow-wide permissions, split per job so the job that
    # runs the build never holds the deployment token.
    assert workflow["permissions"] == {}
    # configure-pages in the build job reads the Pages settings (a private
    # repository refuses it without pages: read); only deploy may write.
    assert workflow["jobs"]["build"]["permissions"] == {"contents": "read", "pages": "read"}
    assert workflow["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    deploy = workflow["jobs"]["deploy"]
    assert deploy["environment"] == {"name": "github-pages", "url": "${{ steps.deployment.outputs.page_url }}"}
    assert [step["id"] for step in steps_using(workflow, "actions/deploy-pages")] == ["deployment"]
    assert len(steps_using(workflow, "actions/configure-pages")) == 1
    [upload] = steps_using(workflow, "actions/upload-pages-artifact")
    assert upload["with"]["include-hidden-files"] is True


def test_generated_workflow_uses_the_pages_starter_settings(generated):
    for path in generated:
        _pages_settings(path)


def test_template_workflow_uses_the_pages_starter_settings_and_the_action(templated):
    _pages_settings(templated)
    workflow = yaml.safe_load(templated.read_text())
    [build_step] = [step for step in workflow["jobs"]["build"]["steps"] if step.get("id") == "site"]
    assert build_step["uses"] == "mta-sts-pages/mta-sts-pages@v1"
    [upload] = steps_using(workflow, "actions/upload-pages-artifact")
    assert upload["with"]["path"] == "${{ steps.site.outputs.site-path }}"


def _readme_github_section() -> str:
    text = (ROOT / "README.md").read_text()
    return text[text.index("<!-- github:start -->"):text.index("<!-- github:end -->")]


def test_readme_shows_the_template_workflow_verbatim(templated):
    assert f"```yaml\n{templated.read_text()}```" in _readme_github_section()


def test_readme_documents_every_input_and_output_of_the_action():
    action = yaml.safe_load(ACTION.read_text())
    section = _readme_github_section()
    for kind in ("inputs", "outputs"):
        for name in action[kind]:
            assert re.search(rf"^\| `{re.escape(name)}` \|", section, re.MULTILINE), f"README lacks action {kind[:-1]} {name}"


# Every config value a generated workflow holds, each with a value that would
# inject into it: a GitHub Actions expression, YAML, a shell word or an option.
HOSTILE_WORKFLOW_VALUES = {
    "domain": ("domain", "${{ secrets.X }}.example.org"),
    "id": ("id", "${{github.token}}"),
    "branch": ("pages.branch", "${{ secrets.X }}"),
    "branch-option": ("pages.branch", "-x"),
    "branch-yaml": ("pages.branch", "main]\n    paths: [x"),
    "schedule": ("monitor.schedule", "${{ secrets.X }}"),
    "schedule-yaml": ("monitor.schedule", "0 6 * * *\n  - cron: 1 1 * * *"),
    "label-expression": ("monitor.label", "x ${{ secrets.X }}"),
    "label-option": ("monitor.label", "--repo=evil/x"),
    "label-shell": ("monitor.label", "$(touch /tmp/x)\n"),
}


@pytest.mark.parametrize(("key", "value"), HOSTILE_WORKFLOW_VALUES.values(), ids=HOSTILE_WORKFLOW_VALUES.keys())
def test_a_hostile_value_for_a_workflow_is_refused_at_validation(tmp_path, key, value):
    document = yaml.safe_load(MONITORED)
    document["pages"] = {"branch": "main"}
    *parents, last = key.split(".")
    place = document
    for name in parents:
        place = place.setdefault(name, {})
    place[last] = value
    (tmp_path / "mta-sts.yml").write_text(yaml.safe_dump(document))
    result = run_cli("build", "-c", tmp_path / "mta-sts.yml", "-o", tmp_path / "site")
    assert result.code == 2, result.output
    assert f"{key}: " in result.err and "mta-sts.yml:" in result.err, result.err
    assert not (tmp_path / "site").exists()
