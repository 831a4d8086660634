"""Start-up stays light: `--version` and `build` never import the network stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Modules only a network check needs. (`socket` itself is not listed: the
# standard library's email utilities, which importlib.metadata uses, load it.)
NETWORK = ("dns", "ssl", "asyncio", "http", "urllib.request", "generator.check")


def imported(*args: str, cwd: Path) -> set[str]:
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "generator", *args], cwd=cwd,
                            capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


def network_modules(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in NETWORK or m.startswith(NETWORK)}


def test_version_imports_neither_typer_nor_network(tmp_path):
    modules = imported("--version", cwd=tmp_path)
    assert "typer" not in modules
    assert not network_modules(modules)


@pytest.mark.timeout(60)
def test_build_imports_no_network_module(tmp_path):
    modules = imported("build", "-c", str(ROOT / "examples" / "google-workspace.yml"), "-o", str(tmp_path / "site"), cwd=tmp_path)
    assert "generator.writer" in modules, "the build really ran"
    assert not network_modules(modules)
