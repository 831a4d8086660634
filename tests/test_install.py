"""What a user installs (SPEC §13): the sdist and wheel that the release
workflow builds, checked as it checks them, uploaded with twine to a real
package index on 127.0.0.1, then installed from there with pip, pipx and uv,
each into an environment of its own, and run.

Offline: the index holds the project's files and its dependencies' wheels,
repacked from this interpreter's installed copies, and every installer is
pointed at that index alone (no config file, no other index, no fallback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from generator import __version__
from generator.release import repository
from generator.site import WORKFLOW_PATH
from tests.support.github import python_tool
from tests.support.package_index import package_index
from tests.support.packaging import committed_copy, wheelhouse
from tests.support.tools import require_tool

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parent.parent
GOOGLE = ROOT / "examples" / "google-workspace.yml"
COMMIT = "0123456789abcdef0123456789abcdef01234567"  # stands in for the tagged commit


def run(*args, env: dict | None = None, cwd: Path | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, args))}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The sdist and wheel, built as the release workflow builds them: from
    the committed tree, stamped with the commit, the wheel from the sdist."""
    require_tool("git")
    work = tmp_path_factory.mktemp("release")
    tree = committed_copy(ROOT, work / "tree")
    run(sys.executable, tree / "scripts" / "release", "stamp", COMMIT)
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", work / "dist", tree, timeout=180)
    return work / "dist"


def test_the_distributions_pass_twine_and_check_wheel_contents(dist):
    files = sorted(p.name for p in dist.iterdir())
    assert files == [f"mta_sts_pages-{__version__}-py3-none-any.whl", f"mta_sts_pages-{__version__}.tar.gz"]
    run(python_tool("twine"), "check", "--strict", *dist.iterdir())
    run(python_tool("check-wheel-contents"), *dist.glob("*.whl"))


def _offline_env(home: Path) -> dict[str, str]:
    """The environment of each installer: no pip or uv config, no find-links,
    no other index, caches of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "PIPX_", "VIRTUAL_ENV"))}
    return {**env, "HOME": str(home), "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never", "UV_CACHE_DIR": str(home / "uv-cache"),
            "PIPX_HOME": str(home / "pipx"), "PIPX_BIN_DIR": str(home / "pipx-bin"), "PIPX_MAN_DIR": str(home / "pipx-man"),
            "UV_TOOL_DIR": str(home / "uv-tools"), "UV_TOOL_BIN_DIR": str(home / "uv-bin"), "XDG_CACHE_HOME": str(home / "cache")}


def test_pip_pipx_and_uv_install_it_from_an_index_and_it_runs(dist, tmp_path):
    packages = wheelhouse(tmp_path / "packages")  # the dependencies' wheels
    home = tmp_path / "home"
    home.mkdir()
    env = _offline_env(home)
    with package_index(packages) as index:
        run(python_tool("twine"), "upload", "--non-interactive", "--repository-url", index, "-u", "release", "-p", "unused",
            *dist.iterdir(), env=env)
        simple = index + "simple/"
        run(sys.executable, "-m", "venv", tmp_path / "pip-venv")
        run(tmp_path / "pip-venv" / "bin" / "python", "-m", "pip", "install", "--quiet", "--index-url", simple,
            "--only-binary", ":all:", "mta-sts-pages", env=env)
        run(python_tool("pipx"), "install", "--python", sys.executable, "--index-url", simple, "mta-sts-pages", env=env)
        run(python_tool("uv"), "tool", "install", "--python", sys.executable, "--default-index", simple, "--no-build",
            "mta-sts-pages", env=env)

    installed = {"pip": tmp_path / "pip-venv" / "bin", "pipx": home / "pipx-bin", "uv": home / "uv-bin"}
    for installer, bin_dir in installed.items():
        command = bin_dir / "mta-sts-pages"
        assert run(command, "--version", env=env).stdout == f"mta-sts-pages {__version__}\n", installer
        site = tmp_path / f"site-{installer}"
        run(command, "build", "-c", GOOGLE, "-o", site, env=env, cwd=tmp_path)
        assert (site / ".well-known" / "mta-sts.txt").read_bytes().startswith(b"version: STSv1\r\n"), installer
        # The installed release pins its own action to the commit it was built from.
        workflow = (site / WORKFLOW_PATH).read_text()
        assert f"uses: {repository()}@{COMMIT} # v{__version__}\n" in workflow, installer
    # From the wheel, not from this checkout: the package is in each environment's own site-packages.
    where = run(installed["pip"] / "python", "-c", "import generator, json; print(json.dumps(generator.__file__))", env=env, cwd=tmp_path)
    assert str(tmp_path / "pip-venv") in json.loads(where.stdout)
