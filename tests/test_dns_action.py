"""The composite action's `dns` input: `dns apply` after the build, against a
real BIND 9 taking TSIG-signed updates, the key given through the step's env."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

from generator.config import loads
from tests.support.dns_server import minimal_zone
from tests.support.github import (
    OFFLINE_PIP, ROOT, action_checkout, check_schema, fresh_python, render_template, run_composite, workflow_commands, zizmor_findings,
)
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
    # After the deploy guard: the id moves once the new policy is served.
    assert jobs["dns"]["needs"] == "verify" and jobs["verify"]["needs"] == "deploy"
    [step] = [s for s in jobs["dns"]["steps"] if s.get("with", {}).get("dns") == "apply"]
    assert all(value.startswith("${{ secrets.") for value in step["env"].values())


def _provider_wheel(directory: Path) -> Path:
    """A wheel standing in for an octoDNS provider package on PyPI; its
    provider is octoDNS's YAML provider under another name."""
    source = directory / "source"
    (source / "octodns_standin").mkdir(parents=True)
    (source / "octodns_standin" / "__init__.py").write_text(
        "from octodns.provider.yaml import YamlProvider\n\n\nclass StandinProvider(YamlProvider):\n    pass\n"
    )
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        '[project]\nname = "octodns-standin"\nversion = "1.0"\ndependencies = ["octodns>=1.22"]\n'
    )
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", str(directory), str(source)],
                   check=True, capture_output=True, timeout=120)
    [wheel] = directory.glob("*.whl")
    return wheel


def _lock_entry(package: str) -> str:
    """``package``'s entry in the action's dns lock, hashes and all."""
    lock = (ROOT / "requirements" / "action-dns.lock").read_text()
    return re.search(rf"^{package}==.*?(?=^\S|\Z)", lock, re.MULTILINE | re.DOTALL).group(0)


@pytest.mark.parametrize(("line", "installed"), [
    pytest.param("octodns-standin==1.0 --hash=sha256:{sha}", True, id="pinned-with-its-hash"),
    pytest.param("octodns-standin==1.0 --hash=sha256:{sha}\n{octodns}", True, id="repeating-the-lock-pin"),
    pytest.param("octodns-standin==1.0 --hash=sha256:" + hashlib.sha256(b"another file").hexdigest(), False, id="a-hash-that-does-not-match"),
    pytest.param("octodns-standin==1.0", False, id="no-hash"),
    pytest.param("octodns-standin --hash=sha256:{sha}", False, id="no-version"),
])
def test_dns_requirements_install_only_files_with_their_hash(tmp_path, action_dir, line, installed):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    sha = hashlib.sha256(_provider_wheel(wheels).read_bytes()).hexdigest()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "mta-sts.yml").write_text((ROOT / "examples" / "google-workspace.yml").read_text())
    (workspace / "dns-requirements.txt").write_text(line.format(sha=sha, octodns=_lock_entry("octodns")) + "\n")
    python = fresh_python(tmp_path / "python")

    run = run_composite(action_dir, {"dns": "diff", "dns-requirements": "dns-requirements.txt"}, workspace, python, tmp_path / "runner-temp",
                        pip_env=OFFLINE_PIP | {"PIP_FIND_LINKS": str(wheels)})

    imported = subprocess.run([str(python / "python"), "-c", "import octodns_standin"], capture_output=True, timeout=60)
    assert (imported.returncode == 0) is installed, run.log
    if installed:
        # Installed, then dns ran: this config has no dns: section to publish.
        assert "mta-sts-pages dns diff, exit 2" in run.summary, run.log
    else:
        assert run.returncode != 0 and "### DNS records" not in run.summary, run.log
        assert "hash" in run.log.lower(), run.log


def test_dns_packages_installs_the_provider_by_name_and_dns_uses_it(tmp_path, action_dir):
    """The unpinned path, offline: pip finds the package by name where a
    runner's pip.conf could point (PIP_FIND_LINKS here), and `dns` then
    reads the zone through the provider class it ships."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _provider_wheel(wheels)
    zones = tmp_path / "zones"
    zones.mkdir()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    config = (f"domain: example.com\npolicy:\n  mx: [mx1.example.com]\ntlsrpt:\n  rua: ['mailto:tls@example.com']\n"
              f"dns:\n  provider:\n    class: octodns_standin.StandinProvider\n    directory: {zones}\n    escaped_semicolons: true\n")
    (workspace / "mta-sts.yml").write_text(config)
    # The id is already live, so diff fetches no policy.
    (zones / "example.com.yaml").write_text(f"_mta-sts:\n  type: TXT\n  value: v=STSv1\\; id={loads(config).domains[0].id}\n")
    python = fresh_python(tmp_path / "python")

    run = run_composite(action_dir, {"dns": "diff", "dns-packages": "octodns-standin"}, workspace, python, tmp_path / "runner-temp",
                        pip_env=OFFLINE_PIP | {"PIP_FIND_LINKS": str(wheels)})

    assert run.returncode == 0, run.log
    assert [c for c in workflow_commands(run.log) if c.startswith("::warning::")] == [
        "::warning::dns-packages are installed unpinned, at whatever version PyPI serves today; pin them with hashes in a dns-requirements file instead"]
    assert "mta-sts-pages dns diff, exit 1" in run.summary, run.log
    assert "example.com: 1 change pending (zone example.com, octodns_standin.StandinProvider)" in run.summary
    assert '+ _smtp._tls.example.com. 3600 TXT "v=TLSRPTv1; rua=mailto:tls@example.com"' in run.summary


def test_dns_report_cannot_forge_commands_or_close_its_block(tmp_path, action_dir):
    """The report names the config file, whose name here holds a workflow
    command and a Markdown fence: neither may act."""
    config = "mta-sts\n::error::forged\n````\n# forged heading\n.yml"
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / config).write_text(CONFIG.format(port=53))
    python = fresh_python(tmp_path / "python")

    # No secrets in env: dns names the file in its error.
    run = run_composite(action_dir, {"config": config, "dns": "diff"}, workspace, python, tmp_path / "runner-temp")

    assert run.returncode == 2, run.log
    # Escaped by the tool itself (generator.terminal), inside the action's stop-commands block too.
    assert "\\x3a:error::forged" in run.log
    assert workflow_commands(run.log) == ["::group::mta-sts-pages build", "::endgroup::"], run.log
    tokens = MarkdownIt("commonmark").parse(run.summary[run.summary.index("### DNS records"):])
    assert [t.type for t in tokens if t.nesting >= 0 and t.level == 0] == ["heading_open", "fence"], tokens
    [fence] = [t for t in tokens if t.type == "fence"]
    assert "the environment variable TSIG_KEY_NAME is not set (mta-sts\n\\x3a:error::forged\n````\n# forged heading\n.yml:" in fence.content
