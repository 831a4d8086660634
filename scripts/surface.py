"""The public surface of mta-sts-pages (docs/compatibility.md), read from the
code, and the snapshot that holds it (tests/surface.json).

Each kind maps a key (what the changelog names: a command, an option, a config
key, a code...) to a description of what a user may rely on (its other names,
default, choices, type). scripts/update-surface rewrites the snapshot;
tests/test_surface.py fails while it differs from the code, and while a key
added, removed or changed since the last release is not named, in a code
span, in the changelog above that release's entry.
"""

from __future__ import annotations

import ast
import enum
import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tests" / "surface.json"
CHANGELOG = ROOT / "CHANGELOG.md"
REGENERATE = ".venv/bin/python scripts/update-surface"


def surface() -> dict[str, dict[str, str]]:
    return {
        "commands": _commands()[0],
        "options": _commands()[1],
        "environment": _commands()[2],
        "config keys": _config_keys(),
        "exit codes": _exit_codes(),
        "finding codes": _finding_codes(),
        "json fields": _json_fields(),
        "action inputs": _action("inputs"),
        "action outputs": _action("outputs"),
        "pre-commit hooks": _hooks(),
    }


def needle(kind: str, key: str) -> str:
    """What the changelog must name for a change of this key."""
    if kind == "options":
        return key.rsplit(" ", 1)[-1]  # "check --shard" -> --shard
    if kind == "json fields":
        return key.split(": ", 1)[1]  # "check --json: findings[].code" -> findings[].code
    if kind == "exit codes":
        return f"exit {key}"
    return key


def named_in(text: str, kind: str, key: str) -> bool:
    """Whether the changelog text names the key: in a code span (`...`), or
    for an exit code as `exit N` anywhere."""
    word = needle(kind, key)
    if kind == "exit codes":
        return re.search(rf"\b{re.escape(word)}\b", text) is not None
    bounded = rf"(?<![\w.-]){re.escape(word)}(?![\w-])"
    return any(re.search(bounded, span) for span in re.findall(r"`([^`\n]+)`", text))


def _value(value) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, Path):
        value = str(value)
    return json.dumps(value, default=str)


def _commands() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    import typer.main

    from generator.cli import app

    commands, options, environment = {}, {}, {}
    pending = [((), typer.main.get_command(app))]
    while pending:
        path, command = pending.pop()
        name = " ".join(path)
        arguments = []
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            choices = getattr(param.type, "choices", None)
            facts = []
            if choices:
                facts.append("choices " + "|".join(str(getattr(c, "value", c)) for c in choices))
            if param.multiple:
                facts.append("repeatable")
            if param.required:
                facts.append("required")
            if param.param_type_name == "argument":
                arguments.append(param.name.upper() + ("..." if param.nargs == -1 else "") + (f" ({', '.join(facts)})" if facts else ""))
                continue
            if getattr(param, "is_flag", False):
                facts.append("flag")
            elif param.default is not None:
                facts.append(f"default {_value(param.default)}")
            if param.envvar:
                facts.append(f"env {param.envvar}")
                users = {*environment.get(param.envvar, "").split(", "), f"{name} {param.opts[0]}".strip()} - {""}
                environment[param.envvar] = ", ".join(sorted(users))
            names = sorted([*param.opts, *param.secondary_opts], key=lambda o: (-len(o), o))
            options[f"{name} {names[0]}".strip()] = ", ".join([*names[1:], *facts])
        if path:
            commands[name] = " ".join(arguments)
        for sub, child in getattr(command, "commands", {}).items():
            pending.append(((*path, sub), child))
    return commands, options, environment


def _config_keys() -> dict[str, str]:
    from generator.config import json_schema

    keys: dict[str, str] = {}

    def walk(node: dict, path: str) -> None:
        for branch in ("then", "else"):
            if branch in node:
                walk(node[branch], path)
        for name, child in node.get("properties", {}).items():
            key = f"{path}.{name}" if path else name
            facts = []
            kinds = child.get("type") or [alt.get("type") for alt in child.get("oneOf", [])]
            facts.append("|".join(kinds) if isinstance(kinds, list) else kinds)
            if "enum" in child:
                facts.append("one of " + "|".join(map(str, child["enum"])))
            if "default" in child:
                facts.append(f"default {_value(child['default'])}")
            if name in node.get("required", []):
                facts.append("required")
            keys[key] = ", ".join(facts)
            walk(child, key)
            if "items" in child:
                walk(child["items"], key + "[]")

    walk(json_schema(), "")
    return keys


def _exit_codes() -> dict[str, str]:
    """Every exit status the code can give: the literals given to Exit(),
    sys.exit() and exit_code; 0 always."""
    codes = {0}
    for path in (ROOT / "generator").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            found = None
            if isinstance(node, ast.Call) and node.args and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("Exit", "exit"):
                found = node.args[0]
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", getattr(t, "attr", "")) == "exit_code" for t in node.targets):
                found = node.value
            if found is not None:
                codes |= {n.value for n in ast.walk(found) if isinstance(n, ast.Constant) and type(n.value) is int}
    meaning = {0: "fine", 1: "a checked policy, record or domain has errors", 2: "the config or the command line is wrong"}
    return {str(code): meaning.get(code, "") for code in sorted(codes)}


def _finding_codes() -> dict[str, str]:
    from generator.check.codes import CODES

    return {name: code.severity for name, code in CODES.items()}


def _json_fields() -> dict[str, str]:
    """The keys of docs/json.md's tables (tests/test_docs.py holds each table
    to the real output of its command)."""
    fields = {}
    heading = None
    for line in (ROOT / "docs" / "json.md").read_text("utf-8").splitlines():
        if line.startswith("## "):
            heading = line[3:].strip("` ")
        elif heading and (match := re.match(r"\| `([^`]+)` \| ([^|]+) \|", line)):
            fields[f"{heading}: {match.group(1)}"] = match.group(2).strip()
    return fields


def _action(kind: str) -> dict[str, str]:
    action = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
    return {name: f"default {_value(spec['default'])}" if "default" in spec else "" for name, spec in action[kind].items()}


def _hooks() -> dict[str, str]:
    return {hook["id"]: hook["entry"] for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text("utf-8"))}


def changes(old: dict[str, dict[str, str]], new: dict[str, dict[str, str]]) -> list[tuple[str, str, str]]:
    """(kind, key, 'added'|'removed'|'changed') between two surfaces."""
    found = []
    for kind in sorted(set(old) | set(new)):
        before, after = old.get(kind, {}), new.get(kind, {})
        for key in sorted(set(before) | set(after)):
            if key not in before:
                found.append((kind, key, "added"))
            elif key not in after:
                found.append((kind, key, "removed"))
            elif before[key] != after[key]:
                found.append((kind, key, "changed"))
    return found


def unreleased_text(release: str) -> str:
    """The changelog above the entry of `release`: the Unreleased section, and
    the entry of a version being prepared."""
    text = CHANGELOG.read_text("utf-8")
    start = text.find("## [Unreleased]")
    end = text.find(f"## [{release}]")
    return text[start:end] if 0 <= start < end else text[start:] if start >= 0 else ""
