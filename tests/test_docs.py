"""The README and docs/ against the code: the CLI and config references are
generated from the current code, every command and parameter has help, the
JSON keys documented are the ones the commands print, the editor and
pre-commit instructions match what the project ships, the reliability
page's test counts are what pytest collects, and every relative link
resolves."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest
import typer.core
import typer.main
import yaml

from generator.cli import app
from generator.reports.advice import ADVICE
from tests.support.check_run import HEALTHY, policy_bytes, run_check_json
from tests.support.cli import run_cli
from tests.support.dns_server import minimal_zone
from tests.support.tls_server import Route

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
TOOLS = README.partition("<!-- tools:start -->")[2].partition("<!-- tools:end -->")[0]
DOCS = ROOT / "docs"
MARKDOWN = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


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
@pytest.mark.parametrize("script", ["update-cli-reference", "update-config-reference"])
def test_generated_reference_is_current(script):
    run = subprocess.run([sys.executable, f"scripts/{script}", "--check"],
                         cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_generators_see_a_stale_file(tmp_path):
    """--check fails on a file that differs from what would be written (here
    a copy of the repository's scripts and docs with one line of docs/cli.md
    and docs/config.md changed), so the test above can fail."""
    for folder in ("scripts", "docs"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "generator").symlink_to(ROOT / "generator")
    for name, script in (("cli.md", "update-cli-reference"), ("config.md", "update-config-reference")):
        doc = tmp_path / "docs" / name
        doc.write_text(doc.read_text().replace("| `policy.mode` |", "| `policy.mood` |").replace("Usage: mta-sts-pages build", "Usage: mta-sts-pages biuld"))
        run = subprocess.run([sys.executable, f"scripts/{script}", "--check"], cwd=tmp_path, capture_output=True, text=True, timeout=110)
        assert run.returncode == 1 and f"docs/{name} is stale" in run.stderr, run.stdout + run.stderr


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


def test_docs_schema_line_is_the_one_init_writes(tmp_path):
    run_cli("init", "example.com", "--mx", "mx.example.com", "-o", tmp_path / "mta-sts.yml")
    first = (tmp_path / "mta-sts.yml").read_text().splitlines()[0]
    assert f"```yaml\n{first}\n```" in (DOCS / "config.md").read_text()


def test_readme_completion_options_exist():
    root_help = run_cli("--help").out
    for option in ("--install-completion", "--show-completion"):
        assert option in root_help and f"mta-sts-pages {option}" in TOOLS


# --- docs/json.md against the real output ---------------------------------------


def key_paths(value, prefix: str = "") -> set[str]:
    """Every key of a JSON value as docs/json.md writes it: `a.b` for key b of
    the object at a, `a[].b` for key b of each object in the array a."""
    if isinstance(value, dict):
        return {path for key, item in value.items() for path in {f"{prefix}.{key}".lstrip("."), *key_paths(item, f"{prefix}.{key}".lstrip("."))}}
    if isinstance(value, list):
        return {path for item in value for path in key_paths(item, f"{prefix}[]")}
    return set()


def documented_keys(heading: str) -> set[str]:
    text = (DOCS / "json.md").read_text()
    section = text.partition(f"\n## {heading}\n")[2].partition("\n## ")[0]
    assert section, f"docs/json.md has no section {heading}"
    return set(re.findall(r"^\| `([^`]+)` \|", section, re.M))


def test_key_paths_name_nested_keys():
    assert key_paths([{"a": 1, "b": [{"c": None}], "d": {"e": []}}]) == {"[].a", "[].b", "[].b[].c", "[].d", "[].d.e"}


def test_records_json_keys_are_the_documented_ones():
    result = run_cli("records", "-c", ROOT / "examples" / "google-workspace.yml", "--format", "json")
    assert result.code == 0, result.output
    # google-workspace.yml has TXT records and the CNAME, so `strings` shows too.
    assert key_paths(json.loads(result.out)) == documented_keys("`records --format json`")


def test_reports_json_keys_are_the_documented_ones(tmp_path):
    reports = tmp_path / "reports"
    shutil.copytree(ROOT / "tests" / "fixtures" / "tlsrpt", reports)
    (reports / "cut.json").write_text("{")  # gives an entry under errors
    config = tmp_path / "mta-sts.yml"
    config.write_text("domain: example.com\npolicy:\n  mode: testing\n  mx: [mx.example.com]\n")
    # The fixtures are years old: the window (the last 14 days) holds none of
    # them, so the verdict has a reason (no-reports).
    result = run_cli("reports", reports, "--json", "--ready", "-c", config)
    document = json.loads(result.out)
    assert document["errors"] and document["readiness"][0]["reasons"], document
    assert all(document["domains"][0][key] for key in ("days", "senders", "policy_types"))
    assert any(domain["failures"] for domain in document["domains"])
    assert key_paths(document) == documented_keys("`reports --json`")


@pytest.mark.timeout(60)
def test_check_json_keys_are_the_documented_ones(dns_server_factory, tls_server_factory):
    nsd = dns_server_factory({"example.com": minimal_zone("example.com", HEALTHY)})
    https = tls_server_factory()
    https.route("mta-sts.example.com", Route(body=policy_bytes("example.com")))
    run = run_check_json("example.com", "--nameserver", nsd.address, "--ca-file", str(https.ca_pem_path),
                         "--connect-to", f":443:127.0.0.1:{https.port}", "--timeout", "10")
    [report] = run.reports
    assert report["policy"] and report["findings"], report  # smtp-not-checked, at least
    assert key_paths(report) == documented_keys("`check --json`")


def test_reports_causes_table_lists_every_result_type_with_its_check_codes():
    text = (DOCS / "reports.md").read_text()
    table = text.partition("| `result-type` | likely cause | `check` codes |")[2].partition("\n\n")[0]
    documented = {}
    for row in table.splitlines()[2:]:
        types, _cause, codes = (cell.strip() for cell in row.strip("|").split("|"))
        for result_type in re.findall(r"`([^`]+)`", types):
            documented[result_type] = tuple(re.findall(r"`([^`]+)`", codes))
    assert documented == {result_type: advice.check_codes for result_type, advice in ADVICE.items()}


# --- links ------------------------------------------------------------------------


def _outside_code(text: str) -> str:
    """Markdown text without fenced blocks and code spans, where `#` lines
    and brackets are not headings or links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    found: set[str] = set()
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S)
    for heading in re.findall(r"^#{1,6} +(.+?) *$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def relative_links(path: Path) -> list[str]:
    targets = re.findall(r"\]\(([^)\s]+)\)", _outside_code(path.read_text()))
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_anchors_follow_github():
    assert {"configuration-mta-stsyml", "check---json", "after-build-publishing-step-by-step"} <= anchors(ROOT / "README.md") | anchors(DOCS / "json.md")


@pytest.mark.parametrize("path", MARKDOWN, ids=[str(p.relative_to(ROOT)) for p in MARKDOWN])
def test_relative_links_resolve(path):
    broken = []
    links = relative_links(path)
    for link in links:
        file, _, anchor = link.partition("#")
        target = (path.parent / unquote(file)).resolve() if file else path
        if not target.exists():
            broken.append(link)
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(link)
    assert links and not broken, f"{path.relative_to(ROOT)}: broken links {broken}"


def test_every_doc_is_linked_from_the_readme():
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in relative_links(ROOT / "README.md")}
    assert [p.name for p in DOCS.glob("*.md") if p.resolve() not in linked] == []


def _collected(*patterns: str) -> int:
    files = sorted({str(p.relative_to(ROOT)) for pattern in patterns for p in ROOT.glob(pattern)})
    assert files, patterns
    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    found = re.search(r"^(\d+) tests? collected", run.stdout, re.MULTILINE)
    assert run.returncode == 0 and found, run.stdout[-2000:] + run.stderr[-2000:]
    return int(found.group(1))


@pytest.mark.timeout(240)
def test_reliability_counts_are_what_pytest_collects():
    """docs/reliability.md names its test files and how many cases they hold."""
    block = (DOCS / "reliability.md").read_text().partition("<!-- reliability-files:start -->")[2].partition("<!-- reliability-files:end -->")[0]
    listed, _, rest = block.partition("`:")
    files = listed.strip().strip("`").split()
    main_count, reports_pattern, reports_count = re.search(r"\*\*(\d+)\*\* test cases; .*?`([^`]+)`: \*\*(\d+)\*\* more", rest, re.DOTALL).groups()
    assert all((ROOT / f).is_file() for f in files), files
    assert (_collected(*files), _collected(reports_pattern)) == (int(main_count), int(reports_count))
