"""GitHub's side, reproduced offline: workflow linters, a composite-action
runner, the Pages artifact's tar command, and the cookiecutter template."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import yaml

from .tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "examples" / "cookiecutter"
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_FULL_SHA = re.compile(r"[0-9a-f]{40}\Z")


def python_tool(name: str) -> str:
    """A tool from the test extras: it sits next to the interpreter running
    the tests (scripts/test does not put .venv/bin on PATH)."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else require_tool(name)


def check_schema(schema: str, *files: Path) -> None:
    """check-jsonschema with a builtin schema, e.g. vendor.github-workflows."""
    run = subprocess.run(
        [python_tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def zizmor_findings(*files: Path) -> list[dict]:
    """zizmor's findings for these files: offline, no config file that could
    relax a rule, and a file it cannot parse is an error, not a skip."""
    run = subprocess.run(
        [python_tool("zizmor"), "--offline", "--no-config", "--strict-collection", "--format=json", *map(str, files)],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode in (0, 11, 12, 13, 14), run.stderr  # 11-14: highest finding's severity
    return json.loads(run.stdout)


def resolve(text: str, context: dict[str, str]) -> str:
    """Substitute ``${{ name }}`` expressions; anything not in ``context``
    (a missing output, an operator) fails the test instead of becoming ''."""

    def value(match: re.Match) -> str:
        assert match.group(1) in context, f"cannot resolve {match.group(0)}; known: {sorted(context)}"
        return context[match.group(1)]

    return _EXPRESSION.sub(value, text)


def as_input(value) -> str:
    """A `with:` value as the runner passes it: YAML true becomes 'true'."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def steps_using(workflow: dict, action: str) -> list[dict]:
    """Every step of every job whose ``uses:`` names ``action`` (any ref)."""
    return [
        step
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if step.get("uses", "").split("@")[0] == action
    ]


def uses_pins(text: str) -> list[tuple[str, str, str]]:
    """(action, ref, comment) for every ``uses:`` line of a workflow or action."""
    return re.findall(r"^\s*(?:- )?uses:\s*([^@\s]+)@(\S+)[ \t]*(?:#\s*(.*))?$", text, re.MULTILINE)


def is_full_sha(ref: str) -> bool:
    return bool(_FULL_SHA.match(ref))


def fresh_python(venv: Path) -> Path:
    """A new virtual environment standing in for setup-python's interpreter;
    returns its bin folder.

    It sees the packages already installed for the tests (the project's
    dependencies and its build backend) through a .pth file, so installing
    the action needs no download; the project itself is not importable
    there until the action installs it.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    paths = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    site = Path(subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip())
    (site / "test-dependencies.pth").write_text("".join(f"{p}\n" for p in paths))
    return venv / "bin"


def action_checkout(destination: Path) -> Path:
    """This repository as a runner checks out an action (without local state)."""
    shutil.copytree(ROOT, destination, ignore=shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info", "site", "build", "dist",
    ))
    return destination


@dataclass
class ActionRun:
    returncode: int
    outputs: dict[str, str]
    summary: str
    log: str


def _file_command(path: Path) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT file: ``name=value`` lines and ``name<<EOF`` blocks."""
    values: dict[str, str] = {}
    lines = iter(path.read_text("utf-8").splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for item in lines:
                if item == delimiter:
                    break
                block.append(item)
            values[name] = "\n".join(block)
        elif line:
            name, _, value = line.partition("=")
            values[name] = value
    return values


def run_composite(action_dir: Path, inputs: dict[str, str], workspace: Path, python_bin: Path, temp: Path,
                  step_env: dict[str, str] | None = None) -> ActionRun:
    """Run ``action_dir/action.yml`` as the runner runs a composite action.

    Each ``run:`` step in order, under ``bash --noprofile --norc -eo pipefail``,
    with its ``env:`` resolved from the inputs and earlier steps' outputs,
    its own GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, and the working
    directory at the workspace. ``uses:`` steps may only set up Python
    (``python_bin`` takes its place). Stops at the first failing step.
    ``step_env``: the ``env:`` of the workflow step that uses the action
    (secrets reach an action that way), seen by every step.
    """
    action = yaml.safe_load((action_dir / "action.yml").read_text("utf-8"))
    assert action["runs"]["using"] == "composite"
    declared = action.get("inputs", {})
    assert set(inputs) <= set(declared), f"undeclared inputs: {set(inputs) - set(declared)}"
    context = {f"inputs.{name}": inputs.get(name, as_input(spec.get("default", ""))) for name, spec in declared.items()}
    temp.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": f"{python_bin}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        "HOME": str(temp),
        "LANG": "C.UTF-8",
        "CI": "true",
        "RUNNER_OS": "Linux",
        "RUNNER_TEMP": str(temp),
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTION_PATH": str(action_dir),
        "GITHUB_WORKSPACE": str(workspace),
        # The stand-in interpreter already has the dependencies and the build
        # backend, so pip needs no index; "0" turns build isolation off (pip
        # stores the value of a "no-" option as the option's own value).
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",
        **(step_env or {}),
    }
    summary, log = [], []
    for index, step in enumerate(action["runs"]["steps"]):
        if "uses" in step:
            assert step["uses"].startswith("actions/setup-python@"), f"cannot run {step['uses']} offline"
            continue
        assert step.get("shell") == "bash", f"step {index} needs shell: bash"
        assert "if" not in step, "conditions are not emulated"
        assert "${{" not in step["run"], "inputs reach run: only through env:"
        script = temp / f"step-{index}.sh"
        script.write_text(step["run"])
        files = {"GITHUB_OUTPUT": temp / f"output-{index}", "GITHUB_STEP_SUMMARY": temp / f"summary-{index}"}
        for path in files.values():
            path.write_text("")
        step_env = {name: resolve(as_input(value), context) for name, value in step.get("env", {}).items()}
        run = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace, env={**env, **{k: str(v) for k, v in files.items()}, **step_env},
            capture_output=True, text=True, timeout=60,
        )
        log.append(f"--- {step.get('name', index)} (exit {run.returncode})\n{run.stdout}{run.stderr}")
        summary.append(files["GITHUB_STEP_SUMMARY"].read_text("utf-8"))
        if run.returncode != 0:
            return ActionRun(run.returncode, {}, "".join(summary), "\n".join(log))
        if "id" in step:
            for name, value in _file_command(files["GITHUB_OUTPUT"]).items():
                context[f"steps.{step['id']}.outputs.{name}"] = value
    outputs = {name: resolve(spec["value"], context) for name, spec in action.get("outputs", {}).items()}
    return ActionRun(0, outputs, "".join(summary), "\n".join(log))


def pages_artifact(workspace: Path, inputs: dict[str, str], runner_temp: Path) -> Path:
    """Archive a site exactly as actions/upload-pages-artifact v5.0.0
    (fc324d3547104276b827a68afc52ff2a11cc49c9) does on Linux, given the
    step's ``with:`` values; returns the tar file deploy-pages would serve.

    Its "Archive artifact" step runs this tar command from the workspace;
    the hidden-file exclude is dropped only when include-hidden-files is
    exactly the string 'true'.
    """
    hidden = [] if inputs.get("include-hidden-files", "false") == "true" else ["--exclude=.[^/]*"]
    runner_temp.mkdir(parents=True, exist_ok=True)
    archive = runner_temp / "artifact.tar"
    subprocess.run(
        [
            "tar", "--dereference", "--hard-dereference",
            "--directory", inputs.get("path", "_site/"),
            "-cvf", str(archive),
            "--exclude=.git", "--exclude=.github", *hidden,
            ".",
        ],
        cwd=workspace, check=True, capture_output=True, timeout=60,
    )
    return archive


def render_template(output_dir: Path, *overrides: str) -> Path:
    """Render the cookiecutter template with the real cookiecutter CLI, no
    prompts, ignoring any user config; returns the new repository."""
    home = output_dir.with_name(output_dir.name + "-home")  # cookiecutter's replay files go here
    home.mkdir(parents=True, exist_ok=True)
    # Importing the template's local_extensions.py would otherwise leave a
    # __pycache__ folder in the source tree.
    env = {**os.environ, "HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(
        [python_tool("cookiecutter"), "--no-input", "--default-config", "--output-dir", str(output_dir), str(TEMPLATE), *overrides],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    [repo] = output_dir.iterdir()
    return repo
