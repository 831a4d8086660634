"""`build`: the site's files, determinism, Jekyll, and never losing a user's file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.cli import run_cli
from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOOGLE = EXAMPLES / "google-workspace.yml"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def build(config: Path, out: Path, *extra: str):
    result = run_cli("build", "-c", config, "-o", out, *extra)
    assert result.code == 0, result.output
    return result


def test_site_files(tmp_path):
    out = tmp_path / "site"
    result = build(GOOGLE, out)
    files = snapshot(out)
    assert set(files) == {
        ".well-known/mta-sts.txt", "_config.yml", ".nojekyll", "CNAME", "index.html", ".gitattributes",
        ".github/workflows/mta-sts-pages.yml", ".github/dependabot.yml", ".mta-sts-pages-manifest.json",
    }
    assert files[".well-known/mta-sts.txt"].startswith(b"version: STSv1\r\nmode: testing\r\n")
    assert files["CNAME"] == b"mta-sts.example.com\n"
    assert b".well-known" in files["_config.yml"]
    assert b"/.well-known/mta-sts.txt -text" in files[".gitattributes"]
    assert "_mta-sts.example.com.\t3600\tIN\tTXT\t\"v=STSv1; id=" in result.out


def test_workflow_runs_on_the_configured_branch(tmp_path):
    config = tmp_path / "mta-sts.yml"
    config.write_text(GOOGLE.read_text().replace("  deploy: workflow\n", "  deploy: workflow\n  branch: trunk\n"))
    out = tmp_path / "site"
    build(config, out)
    workflow = yaml.safe_load((out / ".github/workflows/mta-sts-pages.yml").read_text())
    assert workflow[True]["push"] == {"branches": ["trunk"]}  # YAML 1.1 reads a bare `on` as true


def test_branch_deploy_has_no_workflow(tmp_path):
    out = tmp_path / "site"
    build(EXAMPLES / "self-hosted.yml", out)
    assert not (out / ".github").exists()


def test_build_is_byte_for_byte_deterministic(tmp_path):
    build(GOOGLE, tmp_path / "a")
    build(GOOGLE, tmp_path / "b")
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")
    again = build(GOOGLE, tmp_path / "a")
    assert "0 written, 8 unchanged" in again.out


def test_a_rebuild_with_nothing_to_change_touches_nothing(tmp_path):
    """Not a file, not the folders: no staging folder is made and removed
    (which would change the output folder's modification time)."""
    out = tmp_path / "sites"
    build(EXAMPLES / "multi-domain.yml", out)

    def times() -> dict[str, int]:
        return {str(p): p.lstat().st_mtime_ns for p in [out, *out.rglob("*")]}

    before = times()
    again = build(EXAMPLES / "multi-domain.yml", out)
    assert "0 written" in again.out and " written" not in again.out.replace("0 written", "")
    assert times() == before


def test_multi_domain_builds_one_folder_per_domain(tmp_path):
    out = tmp_path / "sites"
    result = build(EXAMPLES / "multi-domain.yml", out)
    assert sorted(p.name for p in out.iterdir()) == ["example.info", "example.net", "xn--bcher-kva.example"]
    assert (out / "example.info/.well-known/mta-sts.txt").read_bytes().startswith(b"version: STSv1\r\nmode: enforce\r\n")
    assert (out / "xn--bcher-kva.example/CNAME").read_text() == "mta-sts.xn--bcher-kva.example\n"
    assert result.out.count("IN\tTXT\t\"v=STSv1; id=") == 3


def test_user_files_are_kept_byte_for_byte(tmp_path):
    out = tmp_path / "repo"
    out.mkdir()
    mine = {"README.md": b"# my policy repo\n", "LICENSE": b"MIT\r\n", "notes/stray.bin": bytes(range(256))}
    for name, data in mine.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    build(GOOGLE, out)
    build(GOOGLE, out)
    files = snapshot(out)
    for name, data in mine.items():
        assert files[name] == data


def test_refuses_to_overwrite_a_file_it_did_not_write(tmp_path):
    out = tmp_path / "repo"
    out.mkdir()
    (out / "index.html").write_text("<h1>my own page</h1>")
    before = snapshot(out)
    result = run_cli("build", "-c", GOOGLE, "-o", out)
    assert result.code == 2
    assert "index.html exists and was not written by mta-sts-pages" in result.err
    assert snapshot(out) == before, "a refused build must write nothing"


def test_refuses_to_overwrite_an_edited_generated_file(tmp_path):
    out = tmp_path / "repo"
    build(GOOGLE, out)
    (out / "CNAME").write_text("edited.example.com\n")
    before = snapshot(out)
    result = run_cli("build", "-c", GOOGLE, "-o", out)
    assert result.code == 2 and "CNAME exists and was not written" in result.err
    assert snapshot(out) == before


def test_adopt_takes_over_a_hand_written_policy_that_is_what_the_build_writes(tmp_path):
    """The usual migration: a repository that already serves its own
    .well-known/mta-sts.txt. Adopted, the file is the build's, so a later
    policy change rewrites it instead of refusing."""
    config = tmp_path / "mta-sts.yml"
    text = GOOGLE.read_text()
    config.write_text(text)
    out = tmp_path / "repo"
    build(config, out)
    built = (out / ".well-known/mta-sts.txt").read_bytes()
    hand_written = tmp_path / "hand"
    (hand_written / ".well-known").mkdir(parents=True)
    (hand_written / ".well-known/mta-sts.txt").write_bytes(built)
    result = build(config, hand_written, "--adopt")
    assert "1 adopted (.well-known/mta-sts.txt)" in result.out
    config.write_text(text.replace("mode: testing", "mode: enforce"))
    build(config, hand_written)
    assert b"mode: enforce\r\n" in (hand_written / ".well-known/mta-sts.txt").read_bytes()


def test_without_adopt_an_identical_file_stays_the_users(tmp_path):
    config = tmp_path / "mta-sts.yml"
    text = GOOGLE.read_text()
    config.write_text(text)
    built = run_cli("build", "-c", config, "-o", tmp_path / "built")
    assert built.code == 0
    out = tmp_path / "repo"
    (out / ".well-known").mkdir(parents=True)
    (out / ".well-known/mta-sts.txt").write_bytes((tmp_path / "built/.well-known/mta-sts.txt").read_bytes())
    build(config, out)
    config.write_text(text.replace("mode: testing", "mode: enforce"))
    result = run_cli("build", "-c", config, "-o", out)
    assert result.code == 2 and "(--adopt shows how it differs)" in result.err


def test_adopt_shows_how_a_different_file_differs_and_writes_nothing(tmp_path):
    out = tmp_path / "repo"
    (out / ".well-known").mkdir(parents=True)
    (out / ".well-known/mta-sts.txt").write_bytes(b"version: STSv1\nmode: testing\nmx: aspmx.l.google.com\nmax_age: 86400\n")
    before = snapshot(out)
    result = run_cli("build", "-c", GOOGLE, "-o", out, "--adopt")
    assert result.code == 2, result.output
    assert "mta-sts.txt differs from what the build writes, so --adopt leaves it" in result.err
    # LF against the build's CRLF shows, and so does the other max_age.
    assert "    -version: STSv1\n    -mode: testing\n" in result.err
    assert "    +version: STSv1\\x0d\n" in result.err
    assert "    -max_age: 86400\n" in result.err
    assert snapshot(out) == before


def test_pages_index_false_leaves_your_own_landing_page(tmp_path):
    config = tmp_path / "mta-sts.yml"
    text = GOOGLE.read_text()
    out = tmp_path / "repo"
    out.mkdir()
    (out / "index.html").write_text("<h1>my own page</h1>")
    config.write_text(text)
    result = run_cli("build", "-c", config, "-o", out)
    assert result.code == 2 and "to keep your own landing page, set pages.index: false" in result.err
    config.write_text(text.replace("pages:\n", "pages:\n  index: false\n"))
    build(config, out)
    assert (out / "index.html").read_text() == "<h1>my own page</h1>"
    assert "index.html" not in (out / ".mta-sts-pages-manifest.json").read_text()


def test_policy_change_rewrites_and_stale_files_go(tmp_path):
    config = tmp_path / "mta-sts.yml"
    text = GOOGLE.read_text()
    config.write_text(text)
    out = tmp_path / "repo"
    build(config, out)
    old_policy = (out / ".well-known/mta-sts.txt").read_bytes()
    config.write_text(text.replace("mode: testing", "mode: enforce").replace("deploy: workflow", "deploy: branch"))
    result = build(config, out)
    assert (out / ".well-known/mta-sts.txt").read_bytes() != old_policy
    assert not (out / ".github").exists(), "the workflow written before is removed when deploy changes"
    assert "removed" in result.out


def test_failed_validation_changes_nothing(tmp_path):
    out = tmp_path / "repo"
    build(GOOGLE, out)
    (out / "README.md").write_text("mine")
    before = snapshot(out)
    bad = tmp_path / "bad.yml"
    bad.write_text(GOOGLE.read_text().replace("mode: testing", "mode: maybe"))
    assert run_cli("build", "-c", bad, "-o", out).code == 2
    assert snapshot(out) == before


def test_output_that_is_a_file_is_refused(tmp_path):
    out = tmp_path / "site"
    out.write_text("not a folder")
    result = run_cli("build", "-c", GOOGLE, "-o", out)
    assert result.code == 2 and "is a file" in result.err
    assert out.read_text() == "not a folder"


def test_link_leading_outside_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "repo"
    out.mkdir()
    (out / ".well-known").symlink_to(outside)
    result = run_cli("build", "-c", GOOGLE, "-o", out)
    assert result.code == 2 and "leads outside" in result.err
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in out.iterdir()) == [".well-known"]


def test_file_link_is_not_written_through(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    out = tmp_path / "repo"
    out.mkdir()
    (out / "CNAME").symlink_to(target)
    result = run_cli("build", "-c", GOOGLE, "-o", out)
    assert result.code == 2 and "is a link" in result.err
    assert target.read_text() == "keep me"


@pytest.mark.timeout(60)
def test_jekyll_keeps_the_policy_byte_for_byte(tmp_path):
    jekyll = require_tool("jekyll")
    site = tmp_path / "site"
    build(GOOGLE, site)
    dest = tmp_path / "_site"
    subprocess.run([jekyll, "build", "-s", site, "-d", dest, "--disable-disk-cache"], check=True, capture_output=True, timeout=60)
    assert (dest / ".well-known/mta-sts.txt").read_bytes() == (site / ".well-known/mta-sts.txt").read_bytes()
    assert (dest / "CNAME").read_bytes() == b"mta-sts.example.com\n"
    assert b"MTA-STS for example.com" in (dest / "index.html").read_bytes()


@pytest.mark.timeout(60)
def test_without_the_jekyll_config_the_policy_is_dropped(tmp_path):
    """Shows why `_config.yml` is generated: Jekyll skips dot-folders otherwise."""
    jekyll = require_tool("jekyll")
    site = tmp_path / "site"
    build(GOOGLE, site)
    (site / "_config.yml").unlink()
    dest = tmp_path / "_site"
    subprocess.run([jekyll, "build", "-s", site, "-d", dest, "--disable-disk-cache"], check=True, capture_output=True, timeout=60)
    assert not (dest / ".well-known/mta-sts.txt").exists()


@pytest.mark.parametrize("links, named", [
    pytest.param({".well-known": ".well-known"}, ".well-known", id="site-folder-links-to-itself"),
    pytest.param({".github/workflows": "loop-b", "loop-b": ".github/workflows"}, "workflows", id="two-links-in-a-circle"),
    pytest.param({"CNAME": "CNAME"}, "CNAME", id="file-links-to-itself"),
])
def test_symlink_loop_is_a_conflict(tmp_path, links, named):
    out = tmp_path / "repo"
    out.mkdir()
    for link, target in links.items():
        (out / link).parent.mkdir(parents=True, exist_ok=True)
        (out / link).symlink_to(out / target)
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    result = run_cli("build", "-c", GOOGLE, "-o", out)
    assert result.code == 2, result.output
    assert "Traceback" not in result.err
    assert f"{named} is a symbolic link loop" in result.err, result.err
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before, "a refused build must write nothing"


def test_output_folder_that_is_a_symlink_loop(tmp_path):
    out = tmp_path / "site"
    out.symlink_to(out)
    result = run_cli("build", "-c", GOOGLE, "-o", out)
    assert result.code == 2 and f"{out} is a symbolic link loop" in result.err, result.output


def test_site_folder_of_a_multi_domain_build_that_is_a_symlink_loop(tmp_path):
    out = tmp_path / "sites"
    out.mkdir()
    (out / "example.net").symlink_to(out / "example.net")
    result = run_cli("build", "-c", EXAMPLES / "multi-domain.yml", "-o", out)
    assert result.code == 2 and "example.net is a symbolic link loop" in result.err, result.output
    assert [p.name for p in out.iterdir()] == ["example.net"]
def test_monitor_section_adds_the_monitor_workflow_and_dropping_it_removes_it(tmp_path):
    config = tmp_path / "mta-sts.yml"
    base = (EXAMPLES / "self-hosted.yml").read_text()
    config.write_text(base + "monitor:\n  schedule: '0 7 * * 1'\n")
    out = tmp_path / "site"
    build(config, out)
    # Branch publishing has no deploy workflow; the monitor runs all the same.
    assert sorted(p.name for p in (out / ".github/workflows").iterdir()) == ["mta-sts-monitor.yml"]
    workflow = yaml.safe_load((out / ".github/workflows/mta-sts-monitor.yml").read_text())
    assert workflow[True]["schedule"] == [{"cron": "0 7 * * 1"}]
    assert (out / ".github/dependabot.yml").is_file()  # it keeps the monitor's pins current
    config.write_text(base)
    assert "2 removed" in build(config, out).out
    assert not (out / ".github/workflows/mta-sts-monitor.yml").exists()
    assert not (out / ".github/dependabot.yml").exists()  # no workflow left to keep current


def _cached_environment(templates: Path, cache: Path, **settings):
    import jinja2

    from generator.render import CompiledTemplates

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates), keep_trailing_newline=True, **settings)
    env.bytecode_cache = CompiledTemplates(env, cache)
    return env


def test_compiled_templates_serve_only_the_same_source_and_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as for an installed package
    templates, cache = tmp_path / "templates", tmp_path / "cache"
    templates.mkdir()
    (templates / "a.j2").write_text("{% if x %}\n  yes\n{% endif %}\n")
    assert _cached_environment(templates, cache, trim_blocks=True).get_template("a.j2").render(x=1) == "  yes\n"
    assert len(list(cache.iterdir())) == 1
    # Other settings compile to other code: not the cached one.
    assert _cached_environment(templates, cache).get_template("a.j2").render(x=1) == "\n  yes\n\n"
    assert len(list(cache.iterdir())) == 2
    (templates / "a.j2").write_text("{% if x %}\n  no\n{% endif %}\n")
    assert _cached_environment(templates, cache, trim_blocks=True).get_template("a.j2").render(x=1) == "  no\n"


def test_an_unwritable_template_cache_only_costs_a_compile(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "a.j2").write_text("{{ x }}\n")
    (tmp_path / "taken").write_text("a file where the cache folder would go\n")
    assert _cached_environment(templates, tmp_path / "taken").get_template("a.j2").render(x=1) == "1\n"


def test_build_writes_the_same_site_from_compiled_templates(tmp_path):
    """The second build reads the templates' compiled code that the first
    wrote (under PYTHONPYCACHEPREFIX, as Python's own byte-code), and writes
    the same bytes."""
    root = Path(__file__).resolve().parent.parent
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "PYTHONPYCACHEPREFIX": str(tmp_path / "pycache")}

    def build(out: Path) -> dict[str, bytes]:
        subprocess.run([sys.executable, "-m", "generator", "build", "-c", str(root / "examples" / "google-workspace.yml"), "-o", str(out)],
                       env=env, check=True, capture_output=True, timeout=60)
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    first = build(tmp_path / "one")
    assert list((tmp_path / "pycache").rglob("template-*.jinja2")), "the first build kept the compiled templates"
    assert build(tmp_path / "two") == first


def test_a_workflow_dependabot_moved_is_still_ours_and_any_other_edit_is_not(tmp_path):
    """Dependabot rewrites the refs of `uses:` lines (commit and version
    comment): the next build takes the file back; an edit anywhere else is
    the user's, and the build refuses to overwrite it."""
    config = tmp_path / "mta-sts.yml"
    config.write_text(GOOGLE.read_text() + "monitor:\n  schedule: '0 7 * * 1'\n")
    out = tmp_path / "site"
    build(config, out)
    workflow, monitor = out / ".github/workflows/mta-sts-pages.yml", out / ".github/workflows/mta-sts-monitor.yml"
    written = workflow.read_text()
    bumped = re.sub(r"(uses: actions/checkout@)\S+ # v\S+", r"\g<1>" + "f" * 40 + " # v7.9.9", written)
    assert bumped != written
    workflow.write_text(bumped)
    assert "1 written" in build(config, out).out
    assert workflow.read_text() == written  # the pins of the release that builds
    # Dropping the monitor removes its workflow, Dependabot's edit and all.
    monitor.write_text(re.sub(r"(uses: actions/checkout@)\S+ # v\S+", r"\g<1>" + "e" * 40 + " # v7.9.8", monitor.read_text()))
    config.write_text(GOOGLE.read_text())
    assert "1 removed" in build(config, out).out and not monitor.exists()

    workflow.write_text(bumped.replace("cancel-in-progress: false", "cancel-in-progress: true"))
    result = run_cli("build", "-c", config, "-o", out)
    assert result.code == 2 and "mta-sts-pages.yml exists and was not written by mta-sts-pages (or was edited since)" in result.err


@pytest.mark.parametrize("entries", [
    {},
    {"index.html": "ab" * 32},
    {".github/workflows/pages.yml": ["uses-refs-blanked:" + "c" * 64, "d" * 64], ".well-known/mta-sts.txt": "e" * 64},
    {"b\u00fc\"\\\n\x01/\u2028.txt": ["x"], "a": []},
])
def test_the_manifest_is_the_json_modules_indented_sorted_document(entries):
    """writer._manifest writes the JSON by hand (the json module indents in
    Python): byte for byte what json.dumps(indent=2, sort_keys=True) gives,
    so a manifest an older build wrote is not rewritten for its layout."""
    from generator.writer import _manifest

    assert _manifest(entries) == (json.dumps({"generator": "mta-sts-pages", "files": entries}, indent=2, sort_keys=True) + "\n").encode()
