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
# The check's flag and domain-list parsing: pure, no network; other commands
# may load it (`reports --domain` reads its names the way `check` does).
PARSING = frozenset({"generator.check", "generator.check.options", "generator.check.targets"})


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


@pytest.mark.timeout(60)
def test_validate_txt_and_a_check_usage_error_load_no_yaml_or_network(tmp_path):
    """The cheapest answers stay cheap: a TXT lint needs no config parser, and
    `check` with nothing to check fails before the network stack loads."""
    for args in (("validate", "--txt", "v=STSv1; id=1"), ("check",)):
        result = subprocess.run([sys.executable, "-X", "importtime", "-m", "generator", *args], cwd=tmp_path,
                                capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        assert result.returncode == (0 if args[0] == "validate" else 2), result.stderr[-2000:]
        modules = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
        assert "typer" in modules, "the CLI really ran"
        # The check's flag and list parsing may load; nothing that talks to a network.
        assert "yaml" not in modules and not network_modules(modules) - PARSING - {"generator.check.command"}, args


@pytest.mark.timeout(60)
def test_building_only_the_invoked_command_keeps_completion_and_suggestions(tmp_path):
    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "generator", *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **env})

    completion = {"_MTA_STS_PAGES_COMPLETE": "complete_bash"}
    assert run(**completion, COMP_WORDS="mta-sts-pages re", COMP_CWORD="1").stdout.split() == ["records", "reports"]
    assert "--shard" in run(**completion, COMP_WORDS="mta-sts-pages check --sh", COMP_CWORD="2").stdout.split()
    misspelt = run("recrods")
    assert misspelt.returncode == 2 and "Did you mean 'records'?" in misspelt.stderr
    assert "Usage: mta-sts-pages records [OPTIONS]" in run("records", "--help", TYPER_USE_RICH="0").stdout


def test_start_up_collects_less_until_the_first_collection_then_as_usual():
    """The raised threshold lasts until the first collection only, so a long
    run keeps its memory in check; in a child, to leave this process's
    collector alone."""
    code = (
        "import gc\n"
        "from generator.entry import START_ALLOCATIONS, _fewer_collections_at_start\n"
        "default = gc.get_threshold()\n"
        "_fewer_collections_at_start()\n"
        "assert gc.get_threshold() == (START_ALLOCATIONS, *default[1:]), gc.get_threshold()\n"
        "gc.collect(0)\n"
        "assert gc.get_threshold() == default and gc.callbacks == [], (gc.get_threshold(), gc.callbacks)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr


def _run_entry(setup: str, *args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``generator.entry.console`` with ``args``, after ``setup`` ran in the
    same process (as the command itself, since it runs once the CLI is
    imported)."""
    code = (
        "import sys, generator.cli as cli\n"
        "from generator import entry\n"
        "command = cli.main\n"
        "def main():\n"
        + "".join(f"    {line}\n" for line in setup.splitlines())
        + "    command()\n"
        "cli.main = main\n"
        f"sys.argv = ['mta-sts-pages', *{list(args)!r}]\n"
        "entry.console()\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("args", "status"), [
    (("validate", "--txt", "v=STSv1; id=1"), 0),
    (("validate", "--txt", "v=STSv1; id="), 1),
    (("build", "-c", "missing.yml"), 2),
])
def test_the_end_skips_teardown_but_keeps_status_output_and_exit_handlers(tmp_path, args, status):
    """The process ends before module teardown (an object's __del__ never
    runs), after the command's own exit handlers ran, with its status and
    every byte it printed."""
    setup = (
        "import atexit\n"
        "atexit.register(print, 'handler ran', flush=True)\n"
        "class Noisy:\n"
        "    def __del__(self): print('torn down', flush=True)\n"
        "cli.noisy = Noisy()\n"
        "print('x' * 200_000)\n"  # more than any pipe buffer: must be flushed, not lost
    )
    result = _run_entry(setup, *args, tmp_path=tmp_path)
    assert result.returncode == status, result.stderr[-2000:]
    assert result.stdout.startswith("x" * 200_000 + "\n")
    assert result.stdout.rstrip().endswith("handler ran")
    assert "torn down" not in result.stdout


@pytest.mark.timeout(60)
def test_an_uncaught_exception_ends_as_usual(tmp_path):
    result = _run_entry("cli.noisy = type('Noisy', (), {'__del__': lambda self: print('torn down', flush=True)})()\n"
                        "raise RuntimeError('boom')", "validate", "--txt", "v=STSv1; id=1", tmp_path=tmp_path)
    assert result.returncode == 1
    assert "RuntimeError: boom" in result.stderr
    assert "torn down" in result.stdout, "the interpreter ended as usual"


@pytest.mark.timeout(60)
def test_a_closed_standard_output_ends_without_a_traceback(tmp_path):
    """Started with stdout closed (cron, daemons), Python has no sys.stdout."""
    closed = subprocess.run(["sh", "-c", f'exec "$0" -c "$1" >&-', sys.executable,
                             "import sys; sys.argv = ['mta-sts-pages', 'records', '-c', 'missing.yml']\n"
                             "from generator.entry import console\nconsole()"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert closed.returncode == 2
    assert "Traceback" not in closed.stderr and "config file not found" in closed.stderr, closed.stderr


@pytest.mark.timeout(60)
def test_main_leaves_the_embedding_program_its_exit_handlers_and_status(tmp_path):
    code = (
        "import atexit, sys\n"
        "atexit.register(print, 'host handler ran', flush=True)\n"
        "from generator.entry import main\n"
        "sys.argv = ['mta-sts-pages', 'validate', '--txt', 'v=STSv1; id=1']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    print('cli status', exc.code)\n"
        "sys.exit(3)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines()[-2:] == ["cli status 0", "host handler ran"]
