"""The README against the code: the CLI reference is the current --help of
every command, every command and parameter has help, and the editor and
pre-commit instructions match what the project ships."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.core
import typer.main
import yaml

from generator.cli import app
from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
TOOLS = README.partition("<!-- tools:start -->")[2].partition("<!-- tools:end -->")[0]


def all_commands() -> list[tuple[str, typer.core.TyperCommand | typer.core.TyperGroup]]:
    found = []
    pending = [("mta-sts-pages", typer.main.get_command(app))]
    while pending:
        name, command = pending.pop(0)
        found.append((name, command))
        if isinstance(command, typer.core.TyperGroup):
            pending += [(f"{name} {sub}", child) for sub, child in command.commands.items()]
    return found


@pytest.mark.timeout(120)
def test_cli_reference_in_readme_is_current():
    run = subprocess.run([sys.executable, "scripts/update-cli-reference", "--check"],
                         cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize(("name", "command"), all_commands(), ids=[name for name, _ in all_commands()])
def test_every_command_and_parameter_has_help(name, command):
    assert (command.help or "").strip(), f"{name} has no help text"
    silent = [param.name for param in command.params if not (getattr(param, "help", None) or "").strip()]
    assert not silent, f"{name}: no help for {silent}"


def test_readme_pre_commit_snippet_uses_the_shipped_hook():
    snippet = re.search(r"```yaml\n(repos:\n.*?)```", TOOLS, re.S).group(1)
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    used = [hook["id"] for repo in yaml.safe_load(snippet)["repos"] for hook in repo["hooks"]]
    assert used and set(used) <= {hook["id"] for hook in hooks}


def test_readme_schema_line_is_the_one_init_writes(tmp_path):
    run_cli("init", "example.com", "--mx", "mx.example.com", "-o", tmp_path / "mta-sts.yml")
    first = (tmp_path / "mta-sts.yml").read_text().splitlines()[0]
    assert f"```yaml\n{first}\n```" in TOOLS


def test_readme_completion_options_exist():
    root_help = run_cli("--help").out
    for option in ("--install-completion", "--show-completion"):
        assert option in root_help and f"mta-sts-pages {option}" in TOOLS
