"""Hostile input through the CLI: rejected with a clear message or rendered
safely; never a traceback, never a corrupted or partial site."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parent.parent

GOOD = {
    "domain": "example.com",
    "policy": {"mode": "testing", "mx": ["mx1.example.com"], "max_age": "1w", "id": "auto"},
    "tlsrpt": {"rua": ["mailto:tls@example.com"]},
    "pages": {"deploy": "workflow", "owner": "example-org"},
}
# (path for the error message, setter)
FIELDS = {
    "domain": lambda c, v: c.__setitem__("domain", v),
    "policy.mode": lambda c, v: c["policy"].__setitem__("mode", v),
    "policy.mx[0]": lambda c, v: c["policy"].__setitem__("mx", [v]),
    "policy.max_age": lambda c, v: c["policy"].__setitem__("max_age", v),
    "policy.id": lambda c, v: c["policy"].__setitem__("id", v),
    "tlsrpt.rua[0]": lambda c, v: c["tlsrpt"].__setitem__("rua", [v]),
    "pages.deploy": lambda c, v: c["pages"].__setitem__("deploy", v),
    "pages.owner": lambda c, v: c["pages"].__setitem__("owner", v),
}
PAYLOADS = {
    "newline": "example.com\nmx: evil.example",
    "cr": "example.com\rx",
    "nul": "example\x00.com",
    "escape": "example\x1b[31m.com",
    "del": "example\x7f.com",
    "jinja-expr": "{{ 7*7 }}.example.com",
    "jinja-stmt": "{% raw %}x.example.com",
    "html": "<script>alert(1)</script>",
    "double-quote": 'a".example.com',
    "single-quote": "a'.example.com",
    "backslash": "a\\.example.com",
    "long-label": "a" * 64 + ".example.com",
    "long-name": ".".join(["a" * 60] * 5),
    "unicode-line-sep": "a\u2028b.example.com",
    "yaml-injection": "x\n  - injected: true",
}


def deep_copy(config):
    return json.loads(json.dumps(config))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()} if folder.exists() else {}


@pytest.mark.parametrize("payload", list(PAYLOADS.values()), ids=list(PAYLOADS))
@pytest.mark.parametrize("field", list(FIELDS))
def test_hostile_field(tmp_path, field, payload):
    config = deep_copy(GOOD)
    FIELDS[field](config, payload)
    path = tmp_path / "mta-sts.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "site"
    result = run_cli("build", "-c", path, "-o", out)
    assert "Traceback" not in result.output
    if result.code == 2:
        assert any(line.startswith(f"error: {field}: ") and str(path) in line for line in result.err.splitlines()), result.err
        assert not out.exists()
        return
    # Accepted: then the payload must not reach any file raw.
    assert result.code == 0, result.output
    for name, data in snapshot(out).items():
        assert payload.encode() not in data, f"{payload!r} reached {name} unescaped"


def test_html_in_an_idn_is_impossible_and_landing_page_escapes(tmp_path):
    path = tmp_path / "mta-sts.yml"
    path.write_text('domain: "bücher.example"\npolicy:\n  mx: ["mx.xn--bcher-kva.example"]\n', encoding="utf-8")
    out = tmp_path / "site"
    assert run_cli("build", "-c", path, "-o", out).code == 0
    page = (out / "index.html").read_text("utf-8")
    assert "bücher.example (xn--bcher-kva.example)" in page


def test_ten_thousand_mx_entries(tmp_path):
    config = deep_copy(GOOD)
    config["policy"]["mx"] = [f"mx{i}.example.com" for i in range(10_000)]
    path = tmp_path / "mta-sts.yml"
    path.write_text(yaml.safe_dump(config))
    result = run_cli("build", "-c", path, "-o", tmp_path / "site")
    assert result.code == 2 and "policy.mx: the policy would be" in result.err and "senders read at most 65536" in result.err


@pytest.mark.parametrize(
    "text, message",
    [
        ("domain: " + "[" * 100_000 + "]" * 100_000 + "\n", "invalid YAML"),
        ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)), "aliases are not supported"),
        ("policy:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 2000)), "invalid YAML"),
        ("domain: example.com\n" * 3, "duplicate key"),
        ("\ufeffdomain: example.com\npolicy: {mx: [mx.example.com]}\n", None),
    ],
    ids=["deep-flow", "billion-laughs", "deep-block", "repeated-keys", "bom"],
)
def test_hostile_yaml(tmp_path, text, message):
    path = tmp_path / "mta-sts.yml"
    path.write_text(text, encoding="utf-8")
    result = run_cli("validate", "-c", path)
    assert "Traceback" not in result.output
    if message is None:
        assert result.code == 0, result.output
    else:
        assert result.code == 2 and message in result.err, result.err


def test_oversized_file(tmp_path):
    path = tmp_path / "mta-sts.yml"
    with open(path, "wb") as handle:
        handle.write(b"domain: example.com\n# " + b"x" * (33 * 1024 * 1024) + b"\n")
    result = run_cli("validate", "-c", path)
    assert result.code == 2 and "larger than 32 MiB" in result.err


def test_concurrent_builds_leave_one_consistent_site(tmp_path):
    """Two builds of different configs racing into one folder: the result is
    entirely one of them, and its manifest matches every file."""
    configs = []
    for mode in ("testing", "enforce"):
        config = deep_copy(GOOD)
        config["policy"]["mode"] = mode
        path = tmp_path / f"{mode}.yml"
        path.write_text(yaml.safe_dump(config))
        configs.append(path)
    out = tmp_path / "site"
    code = "from generator.cli import main; main()"
    for _ in range(6):
        procs = [subprocess.Popen([sys.executable, "-c", code, "build", "-c", c, "-o", out], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in configs]
        results = [p.communicate(timeout=60) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], results
        files = snapshot(out)
        manifest = json.loads(files.pop(".mta-sts-pages-manifest.json"))["files"]
        # A workflow's entry also holds its hash with the uses: refs blanked out.
        plain = {name: [h for h in ([v] if isinstance(v, str) else v) if not h.startswith("uses-refs-blanked:")] for name, v in manifest.items()}
        assert plain == {name: [hashlib.sha256(data).hexdigest()] for name, data in files.items()}
        mode = b"enforce" if b"mode: enforce" in files[".well-known/mta-sts.txt"] else b"testing"
        assert b"Mode <strong>" + mode + b"</strong>" in files["index.html"]
        assert not [p for p in out.iterdir() if p.name.startswith(".mta-sts-pages-tmp-")]


def test_landing_page_escapes_what_it_shows(tmp_path):
    """`&` and `'` are legal in report URIs; the page must show them escaped."""
    config = deep_copy(GOOD)
    config["tlsrpt"]["rua"] = ["https://reports.example.com/r?a=1&b='2'"]
    path = tmp_path / "mta-sts.yml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "site"
    assert run_cli("build", "-c", path, "-o", out).code == 0
    page = (out / "index.html").read_text()
    assert "a=1&amp;b=&#39;2&#39;" in page and "a=1&b=" not in page
