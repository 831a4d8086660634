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
_CONDITION = re.compile(r"(inputs\.[A-Za-z0-9_-]+) == '([^']*)'\Z")


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


def actionlint_findings(*files: Path) -> list[str]:
    """actionlint's findings for these workflows, with ShellCheck on their
    run: scripts (actionlint skips that part silently when it is missing)."""
    run = subprocess.run(
        [python_tool("actionlint"), "-no-color", "-shellcheck", require_tool("shellcheck"), *map(str, files)],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode in (0, 1), run.stdout + run.stderr  # 1: findings; above: it could not run
    return run.stdout.splitlines()


def resolve(text: str, context: dict[str, str]) -> str:
    """Substitute ``${{ name }}`` expressions; anything not in ``context``
    (a missing output, an operator) fails the test instead of becoming ''."""

    def value(match: re.Match) -> str:
        assert match.group(1) in context, f"cannot resolve {match.group(0)}; known: {sorted(context)}"
        return context[match.group(1)]

    return _EXPRESSION.sub(value, text)


def condition_holds(condition: str, context: dict[str, str]) -> bool:
    """An ``if:`` of the one form the project's action uses, ``inputs.name == 'value'``;
    anything else fails the test rather than being guessed at."""
    match = _CONDITION.match(condition.strip())
    assert match, f"cannot evaluate if: {condition}"
    return resolve(f"${{{{ {match.group(1)} }}}}", context) == match.group(2)


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


# The stand-in interpreter of fresh_python already has the dependencies and
# the build backend, so pip needs no index; "0" turns build isolation off (pip
# stores the value of a "no-" option as the option's own value).
OFFLINE_PIP = {"PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0"}


def workflow_commands(log: str) -> list[str]:
    """The lines of a log the runner would act on as workflow commands
    (``::name::...``), skipping those between ``::stop-commands::TOKEN`` and
    ``::TOKEN::`` as the runner does."""
    commands: list[str] = []
    resume = None
    for line in log.splitlines():
        if resume is not None:
            resume = None if line == f"::{resume}::" else resume
        elif line.startswith("::stop-commands::"):
            resume = line.removeprefix("::stop-commands::")
        elif line.startswith("::"):
            commands.append(line)
    return commands


def run_composite(action_dir: Path, inputs: dict[str, str], workspace: Path, python_bin: Path, temp: Path,
                  pip_env: dict[str, str] = OFFLINE_PIP, extra_env: dict[str, str] | None = None,
                  github: dict[str, str] | None = None, step_env: dict[str, str] | None = None) -> ActionRun:
    """Run ``action_dir/action.yml`` as the runner runs a composite action.

    Each ``run:`` step in order, under ``bash --noprofile --norc -eo pipefail``,
    with its ``env:`` resolved from the inputs and earlier steps' outputs,
    its own GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, and the working
    directory at the workspace; its stdout and stderr interleave in the log
    as on a runner. ``extra_env`` stands for the job's ``env:``. Steps whose
    ``if: inputs.x == 'v'`` does not hold are skipped. ``uses:`` steps may only
    set up Python (``python_bin`` takes its place). ``pip_env`` configures pip
    (offline by default). ``step_env``: the ``env:`` of the workflow step that
    uses the action (secrets reach an action that way), seen by every step.
    Stops at the first failing step.
    """
    action = yaml.safe_load((action_dir / "action.yml").read_text("utf-8"))
    assert action["runs"]["using"] == "composite"
    declared = action.get("inputs", {})
    assert set(inputs) <= set(declared), f"undeclared inputs: {set(inputs) - set(declared)}"
    # github.* values serve defaults such as ${{ github.token }} and env: lines;
    # a runner always has them, so stand-ins fill in what ``github`` lacks.
    context = {"github.token": "token-of-the-run", "github.repository": "example-org/mta-sts-example"} | (github or {})
    context |= {f"inputs.{name}": inputs.get(name, resolve(as_input(spec.get("default", "")), context)) for name, spec in declared.items()}
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
        **pip_env,
        **(step_env or {}),
    }
    summary, log = [], []
    ran: set[str] = set()
    returncode = 0
    for index, step in enumerate(action["runs"]["steps"]):
        if "uses" in step:
            assert step["uses"].startswith("actions/setup-python@"), f"cannot run {step['uses']} offline"
            continue
        assert step.get("shell") == "bash", f"step {index} needs shell: bash"
        if "if" in step and not condition_holds(step["if"], context):
            continue
        assert "${{" not in step["run"], "inputs reach run: only through env:"
        script = temp / f"step-{index}.sh"
        script.write_text(step["run"])
        files = {"GITHUB_OUTPUT": temp / f"output-{index}", "GITHUB_STEP_SUMMARY": temp / f"summary-{index}"}
        for path in files.values():
            path.write_text("")
        step_env = {name: resolve(as_input(value), context) for name, value in step.get("env", {}).items()}
        run = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace, env={**env, **(extra_env or {}), **{k: str(v) for k, v in files.items()}, **step_env},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
        )
        log.append(f"--- {step.get('name', index)} (exit {run.returncode})\n{run.stdout}")
        summary.append(files["GITHUB_STEP_SUMMARY"].read_text("utf-8"))
        # A failed step's outputs count too: the runner reads the file either way.
        if "id" in step:
            ran.add(step["id"])
            for name, value in _file_command(files["GITHUB_OUTPUT"]).items():
                context[f"steps.{step['id']}.outputs.{name}"] = value
        if run.returncode != 0:
            returncode = run.returncode
            break
    outputs = {name: _output(spec["value"], context, ran, strict=returncode == 0) for name, spec in action.get("outputs", {}).items()}
    return ActionRun(returncode, outputs, "".join(summary), "\n".join(log))


def _output(expression: str, context: dict[str, str], ran: set[str], *, strict: bool) -> str:
    """An output's value: ``steps.x.outputs.y``, or several joined by ``||``
    (the first one set). A step that did not run sets nothing; one that ran
    and succeeded must have set what the output names (a typo fails)."""
    inner = expression.strip().removeprefix("${{").removesuffix("}}")
    for name in (part.strip() for part in inner.split("||")):
        step = name.split(".")[1]
        if strict and step in ran and "||" not in inner:
            assert name in context, f"step {step} did not set {name}"
        if context.get(name):
            return context[name]
    return ""


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


README_PAGES_WORKFLOW = "# Builds the MTA-STS site"
README_MONITOR_WORKFLOW = "# Checks the MTA-STS deployment every day"


def readme_workflow(first_line: str = README_PAGES_WORKFLOW) -> str:
    """A workflow the README's GitHub section or docs/github.md shows, by its first line."""
    text = (ROOT / "README.md").read_text("utf-8")
    section = text[text.index("<!-- github:start -->"):text.index("<!-- github:end -->")]
    section += (ROOT / "docs" / "github.md").read_text("utf-8")
    return re.search(rf"```yaml\n({re.escape(first_line)}.*?)```\n", section, re.DOTALL).group(1)


@dataclass
class JobRunner:
    """What a job's steps run against: a fresh interpreter for setup-python,
    this repository as the checked-out action, and the environment a step sees (``env``: e.g. the test servers' flags as
    MTA_STS_PAGES_* variables) and ``path``, folders put first on PATH
    (such as one holding a stand-in gh)."""

    python_bin: Path
    action_dir: Path
    env: dict[str, str]
    context: dict[str, str]  # github.* values for ${{ }} in env: and with:
    path: list[Path]


def run_job(workflow: Path, job: str, repository: Path, runner: JobRunner, temp: Path) -> ActionRun:
    """Run one job of ``workflow`` as a runner does, step by step.

    ``actions/checkout`` copies ``repository`` into a new workspace;
    ``actions/setup-python`` puts ``runner.python_bin`` first on PATH; a
    ``uses:`` of any other owner is this project's action, run with
    :func:`run_composite`, and its setup-python puts ``runner.python_bin``
    first on PATH for the job's later steps too; ``run:`` steps run under
    bash with their ``env:`` resolved, with no package index at all.
    """
    spec = yaml.safe_load(workflow.read_text("utf-8"))["jobs"][job]
    workspace = temp / "workspace"
    temp.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.pathsep.join([*map(str, runner.path), os.environ.get("PATH", os.defpath)]),
        "HOME": str(temp),
        "LANG": "C.UTF-8",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "RUNNER_TEMP": str(temp),
        "GITHUB_WORKSPACE": str(workspace),
        # A job that ran pip would fail here: what it installs comes from the action.
        "PIP_NO_INDEX": "1",
        **runner.env,
    }
    summary, log = [], []
    for index, step in enumerate(spec["steps"]):
        assert "if" not in step, "conditions in workflows are not emulated"
        uses = step.get("uses", "")
        name = step.get("name", index)
        if uses.startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False
            shutil.copytree(repository, workspace, ignore=shutil.ignore_patterns(".git"))
            continue
        if uses.startswith("actions/setup-python@"):
            env["PATH"] = f"{runner.python_bin}{os.pathsep}{env['PATH']}"
            continue
        if uses:
            assert not uses.startswith("actions/"), f"cannot run {uses} offline"
            inputs = {key: resolve(as_input(value), runner.context) for key, value in step.get("with", {}).items()}
            # The action installs from its locks into the stand-in interpreter,
            # which already has them (the job's pip settings are not the action's).
            step_env = {k: v for k, v in env.items() if not k.startswith("PIP_")}
            result = run_composite(runner.action_dir, inputs, workspace, runner.python_bin, temp / f"action-{index}",
                                   extra_env=step_env | {"PATH": f"{runner.python_bin}{os.pathsep}{env['PATH']}"}, github=runner.context)
            # Its setup-python step adds the interpreter to the job's PATH.
            env["PATH"] = f"{runner.python_bin}{os.pathsep}{env['PATH']}"
            log.append(f"=== {name} (exit {result.returncode})\n{result.log}")
            summary.append(result.summary)
            if result.returncode != 0:
                return ActionRun(result.returncode, {}, "".join(summary), "\n".join(log))
            continue
        assert "${{" not in step["run"], "expressions reach run: only through env:"
        files = {"GITHUB_OUTPUT": temp / f"output-{index}", "GITHUB_STEP_SUMMARY": temp / f"summary-{index}"}
        for path in files.values():
            path.write_text("")
        step_env = {key: resolve(as_input(value), runner.context) for key, value in step.get("env", {}).items()}
        run = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=workspace, env={**env, **{k: str(v) for k, v in files.items()}, **step_env},
            capture_output=True, text=True, timeout=180,
        )
        log.append(f"=== {name} (exit {run.returncode})\n{run.stdout}{run.stderr}")
        summary.append(files["GITHUB_STEP_SUMMARY"].read_text("utf-8"))
        if run.returncode != 0:
            return ActionRun(run.returncode, {}, "".join(summary), "\n".join(log))
    return ActionRun(0, {}, "".join(summary), "\n".join(log))
