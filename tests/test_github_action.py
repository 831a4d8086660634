"""The composite action (action.yml), run step by step as a runner runs it:
installed from GITHUB_ACTION_PATH into a fresh interpreter, then built."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker

from generator.config import load, loads
from generator.records import records_for, to_bind
from generator.site import POLICY_PATH
from tests.support.dns_server import minimal_zone
from tests.support.github import ROOT, action_checkout, fresh_python, run_composite, workflow_commands
from tests.support.tls_server import Route

pytestmark = pytest.mark.timeout(60)
EXAMPLES = ROOT / "examples"

NO_TLSRPT = """\
domain: example.org
policy:
  mode: enforce
  mx: [mx1.example.org, mx2.example.org]
  max_age: 4w
pages:
  owner: example-org
"""
WARNS = """\
domain: example.org
policy:
  mode: enforce
  mx: [mx.example.org]
  max_age: 1h
"""
INVALID = """\
domain: example.org
policy:
  mode: enforcing
  mx: [mx.example.org]
"""


@pytest.fixture(scope="module")
def action_dir(tmp_path_factory) -> Path:
    return action_checkout(tmp_path_factory.mktemp("action") / "mta-sts-pages")


@dataclass
class Runner:
    """Runs the action in a new workspace holding some files, with a fresh Python."""

    action_dir: Path
    workspace: Path
    python_bin: Path
    temp: Path

    def __call__(self, files: dict[str, str], inputs: dict[str, str], extra_env: dict[str, str] | None = None):
        for name, text in files.items():
            (self.workspace / name).parent.mkdir(parents=True, exist_ok=True)
            (self.workspace / name).write_text(text)
        self.workspace.mkdir(exist_ok=True)
        return run_composite(self.action_dir, inputs, self.workspace, self.python_bin, self.temp, extra_env=extra_env)


@pytest.fixture
def runner(tmp_path, action_dir) -> Runner:
    return Runner(action_dir, tmp_path / "workspace", fresh_python(tmp_path / "python"), tmp_path / "runner-temp")


def test_action_builds_the_site_and_reports_the_records(runner):
    config = (EXAMPLES / "google-workspace.yml").read_text()
    result = runner({"mta-sts.yml": config}, {})
    assert result.returncode == 0, result.log

    [domain] = load(str(runner.workspace / "mta-sts.yml")).domains
    records = records_for(domain)
    assert result.outputs == {
        "policy-id": domain.id,
        "mta-sts-record": f"v=STSv1; id={domain.id}",
        "tlsrpt-record": "v=TLSRPTv1; rua=mailto:tls-reports@example.com",
        "site-path": "_site",
        "result": "",
    }
    rows = [f"| `{record.name}.` | {record.type} | `{record.value}` |" for record in records]
    assert "\n".join(rows) in result.summary  # in the order to publish them, the _mta-sts record last
    assert rows[-1].startswith("| `_mta-sts.")
    assert "custom domain `mta-sts.example.com`" in result.summary
    site = runner.workspace / "_site"
    assert (site / POLICY_PATH).read_bytes() == domain.policy_bytes
    assert (site / "CNAME").read_text() == "mta-sts.example.com\n"

    # The build ran the copy installed from GITHUB_ACTION_PATH, nothing else.
    where = subprocess.run(
        [str(runner.python_bin / "python"), "-c", "import generator; print(generator.__file__)"],
        capture_output=True, text=True, check=True, cwd=runner.workspace,
    ).stdout
    assert where.startswith(str(runner.python_bin.parent)), where


def test_action_inputs_choose_config_output_and_strictness(runner):
    result = runner({"policy/example.org.yml": NO_TLSRPT}, {"config": "policy/example.org.yml", "output": "public", "strict": "true"})
    assert result.returncode == 0, result.log
    assert result.outputs["site-path"] == "public"
    assert result.outputs["tlsrpt-record"] == ""
    assert result.outputs["mta-sts-record"] == f"v=STSv1; id={result.outputs['policy-id']}"
    assert "_smtp._tls" not in result.summary
    assert (runner.workspace / "public" / POLICY_PATH).read_bytes().startswith(b"version: STSv1\r\nmode: enforce\r\n")
    assert not (runner.workspace / "_site").exists()


@pytest.mark.parametrize(
    ("files", "inputs", "message"),
    [
        pytest.param({"mta-sts.yml": WARNS}, {"strict": "true"}, "policy.max_age: enforce with max_age 3600s", id="strict-turns-warnings-into-errors"),
        pytest.param({"mta-sts.yml": INVALID}, {}, "policy.mode: 'enforcing' is not one of", id="invalid-config"),
        pytest.param({}, {}, "not found", id="missing-config"),
        pytest.param({"mta-sts.yml": NO_TLSRPT}, {"strict": "yes"}, "::error::strict is 'yes'; use 'true' or 'false'", id="strict-not-a-boolean"),
        pytest.param({"all.yml": (EXAMPLES / "multi-domain.yml").read_text()}, {"config": "all.yml"},
                     "::error::the config lists 3 domains", id="many-domains"),
    ],
)
def test_action_fails_the_step_and_builds_nothing(runner, files, inputs, message):
    result = runner(files, inputs)
    assert result.returncode != 0, result.log
    assert message in result.log
    assert not (runner.workspace / "_site").exists()
    assert result.summary == ""



def test_an_input_with_a_newline_cannot_forge_an_output(runner):
    result = runner({"mta-sts.yml": NO_TLSRPT}, {"output": "site\npolicy-id=forged"})
    assert result.returncode == 0, result.log
    assert result.outputs["site-path"] == "site\npolicy-id=forged"
    assert result.outputs["policy-id"] != "forged"
    assert result.outputs["mta-sts-record"] == f"v=STSv1; id={result.outputs['policy-id']}"


@pytest.mark.parametrize(("inputs", "commands"), [
    pytest.param({"output": "site\n::error::forged"}, ["::group::mta-sts-pages build", "::endgroup::"], id="output-printed-by-the-build"),
    pytest.param({"config": "missing.yml\n::error::forged"}, [], id="config-in-an-error-message"),
    pytest.param({"strict": "yes\n::warning::forged"}, ["::error::strict is 'yes%0A::warning::forged'; use 'true' or 'false'"], id="strict-echoed"),
    pytest.param({"strict": "100%"}, ["::error::strict is '100%25'; use 'true' or 'false'"], id="strict-percent"),
    pytest.param({"command": "check\n::warning::forged"}, ["::error::command is 'check%0A::warning::forged'; use build, check, verify, monitor or install"], id="command-echoed"),
    pytest.param({"smtp": "yes\r\n::warning::forged"}, ["::error::smtp is 'yes%0D%0A::warning::forged'; use 'true' or 'false'"], id="smtp-echoed"),
    pytest.param({"dns": "apply\n::warning::forged"}, ["::error::dns is 'apply%0A::warning::forged'; use 'apply', 'diff' or leave it empty"], id="dns-echoed"),
    pytest.param({"dns-packages": "octodns-cloudflare ./local\n::warning::forged"}, ["::error::dns-packages: './local' is not a package name"],
                 id="dns-packages-a-path"),
    pytest.param({"dns-packages": "--index-url=http://example.invalid/"}, ["::error::dns-packages: '--index-url=http://example.invalid/' is not a package name"],
                 id="dns-packages-an-option"),
    pytest.param({"dns-packages": "octodns-cloudflare\n::warning::forged"}, ["::error::dns-packages: '::warning::forged' is not a package name"],
                 id="dns-packages-second-line"),
    *(pytest.param({"command": command, "config": "missing.yml\n::error::forged"}, [], id=f"config-in-the-{command}-error")
      for command in ("check", "verify", "monitor")),
])
def test_inputs_never_become_workflow_commands(runner, inputs, commands):
    result = runner({"mta-sts.yml": NO_TLSRPT}, inputs)
    assert workflow_commands(result.log) == commands, result.log


LOCK_LINE = re.compile(r"^([A-Za-z0-9._-]+)==", re.MULTILINE)


def _tamper_hashes(lock: str, package: str) -> str:
    """The lock with every hash of ``package`` replaced by a wrong one."""
    forged = hashlib.sha256(b"not the real file").hexdigest()
    block = re.search(rf"^{package}==.*?(?=^\S|\Z)", lock, re.MULTILINE | re.DOTALL).group(0)
    return lock.replace(block, re.sub(r"sha256:[0-9a-f]{64}", f"sha256:{forged}", block))


def _drop(lock: str, package: str) -> str:
    """The lock without ``package``'s entry."""
    return re.sub(rf"^{package}==.*?(?=^\S|\Z)", "", lock, flags=re.MULTILINE | re.DOTALL)


@pytest.fixture(scope="module")
def pip_cache(tmp_path_factory) -> Path:
    """One download cache for the module's real installs (pip still checks every hash)."""
    return tmp_path_factory.mktemp("pip-cache")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("edit", [
    pytest.param(None, id="as-shipped"),
    pytest.param(lambda lock: _tamper_hashes(lock, "jinja2"), id="a-hash-that-does-not-match"),
    pytest.param(lambda lock: _drop(lock, "mdurl"), id="a-dependency-missing-from-the-lock"),
])
def test_action_installs_exactly_the_locked_files_from_pypi(tmp_path, pip_cache, edit):
    """A real install from PyPI into a new interpreter with pip, as on a runner:
    the locks are enough, and a wrong hash or an unlisted package stops the step."""
    action = action_checkout(tmp_path / "action")
    lock = action / "requirements" / "action.lock"
    if edit is not None:
        lock.write_text(edit(lock.read_text()))
    python_bin, result = _run_from_pypi(tmp_path, action, {}, pip_cache)
    if edit is not None:
        assert result.returncode != 0, result.log
        assert "--- Install mta-sts-pages (exit" in result.log and "--- Build the site" not in result.log
        assert "hash" in result.log.lower(), result.log
        return
    assert result.returncode == 0, result.log
    assert (tmp_path / "workspace" / "_site" / POLICY_PATH).is_file()
    assert _installed(python_bin) == locked_names(action, "action.lock", "action-build.lock") | {"mta-sts-pages"}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("tamper", [False, True], ids=["as-shipped", "a-hash-that-does-not-match"])
def test_dns_input_installs_exactly_the_dns_lock_from_pypi(tmp_path, pip_cache, tamper):
    """dns runs in the job holding the provider's secrets: octoDNS comes from
    requirements/action-dns.lock, each file checked, as on a runner."""
    action = action_checkout(tmp_path / "action")
    lock = action / "requirements" / "action-dns.lock"
    if tamper:
        lock.write_text(_tamper_hashes(lock.read_text(), "octodns"))
    python_bin, result = _run_from_pypi(tmp_path, action, {"dns": "diff"}, pip_cache)
    imported = subprocess.run([str(python_bin / "python"), "-c", "import octodns_bind"], capture_output=True, text=True, timeout=60)
    if tamper:
        assert result.returncode != 0 and "--- Publish the DNS records (exit" in result.log, result.log
        assert "hash" in result.log.lower() and "### DNS records" not in result.summary, result.log
        assert imported.returncode != 0
        return
    # Installed, then dns ran: this config has no dns: section to publish.
    assert "mta-sts-pages dns diff, exit 2" in result.summary, result.log
    assert imported.returncode == 0, imported.stderr
    assert _installed(python_bin) == locked_names(action, "action.lock", "action-build.lock", "action-dns.lock") | {"mta-sts-pages"}


def _run_from_pypi(tmp_path: Path, action: Path, inputs: dict[str, str], pip_cache: Path):
    """The action with these inputs in a new interpreter that has pip and
    PyPI, on the google-workspace example; returns its bin folder and the run."""
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "python")], check=True, timeout=120)
    python_bin = tmp_path / "python" / "bin"
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    shutil.copy(EXAMPLES / "google-workspace.yml", workspace / "mta-sts.yml")
    return python_bin, run_composite(action, inputs, workspace, python_bin, tmp_path / "runner-temp", pip_env={"PIP_CACHE_DIR": str(pip_cache)})


def _installed(python_bin: Path) -> set[str]:
    """What pip installed in that interpreter, consistent (pip check), beside
    pip and setuptools, which come with a new interpreter, not from the action."""
    check = subprocess.run([str(python_bin / "python"), "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    listed = subprocess.run([str(python_bin / "python"), "-m", "pip", "list", "--format=freeze"],
                            capture_output=True, text=True, check=True, timeout=120).stdout
    return {line.split("==")[0].lower().replace("_", "-") for line in listed.splitlines()} - {"pip", "setuptools"}


def locked_names(action: Path, *locks: str) -> set[str]:
    """The packages these locks install on this interpreter."""
    return {
        name.lower()
        for path in (action / "requirements" / lock for lock in locks)
        for name, marker in re.findall(r"^([A-Za-z0-9._-]+)==[^ ;\\]*(?: ; (.*?))? \\$", path.read_text(), re.MULTILINE)
        if not marker or Marker(marker).evaluate()  # the new interpreter is this one's
    }


CHECKED = """\
domain: checked.test
policy:
  mode: enforce
  mx: [mx1.checked.test]
tlsrpt:
  rua: ["mailto:tls@example.net"]
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("served", "code", "result", "says"),
    [
        pytest.param("built", 0, "ok", ":white_check_mark: checked.test: passed", id="healthy"),
        pytest.param("missing", 1, "errors", "`policy-not-found`", id="broken"),
    ],
)
def test_check_command_writes_the_markdown_report_and_the_result(runner, dns_server_factory, tls_server_factory, served, code, result, says):
    [domain] = loads(CHECKED).domains
    nsd = dns_server_factory({"checked.test": minimal_zone("checked.test", to_bind([domain]) + "@ MX 10 mx1\nmx1 A 127.0.0.1\nmta-sts A 127.0.0.1\n")})
    https = tls_server_factory()
    https.route("mta-sts.checked.test", Route(body=domain.policy_bytes) if served == "built" else Route(status=404, body=b"gone"))
    hooks = {"MTA_STS_PAGES_NAMESERVER": nsd.address, "MTA_STS_PAGES_CA_FILE": str(https.ca_pem_path),
             "MTA_STS_PAGES_CONNECT_TO": f":443:127.0.0.1:{https.port}"}

    run = runner({"mta-sts.yml": CHECKED}, {"command": "check"}, extra_env=hooks)

    assert run.returncode == code, run.log
    assert run.outputs["result"] == result
    assert run.summary.startswith("## MTA-STS check\n")
    assert says in run.summary
    assert not (runner.workspace / "_site").exists()  # check builds nothing


def test_unknown_command_fails_before_anything_runs(runner):
    run = runner({"mta-sts.yml": NO_TLSRPT}, {"command": "deploy"})
    assert run.returncode == 2
    assert "::error::command is 'deploy'; use build, check, verify, monitor or install" in run.log


def test_install_command_only_installs(runner):
    """The workflows `build` writes use `command: install`, then run the CLI
    themselves: the step installs it and touches nothing else."""
    run = runner({}, {"command": "install"})
    assert run.returncode == 0, run.log
    assert not (runner.workspace / "_site").exists() and run.summary == ""
    version = subprocess.run([str(runner.python_bin / "mta-sts-pages"), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("mta-sts-pages "), version.stderr
