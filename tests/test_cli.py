"""The command line as a user meets it: version, help, init, validate, strict."""

from __future__ import annotations

import re

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from generator import __version__
from generator.cli import app
from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parent.parent
GOOGLE = ROOT / "examples" / "google-workspace.yml"


def test_version():
    result = run_cli("--version")
    assert result.code == 0 and result.out == f"mta-sts-pages {__version__}\n"


def test_python_dash_m():
    result = subprocess.run([sys.executable, "-m", "generator", "--version"], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 0 and __version__ in result.stdout


@pytest.mark.timeout(60)
@pytest.mark.parametrize("args", [["records", "-c", str(GOOGLE)], ["records", "-c", str(ROOT / "examples" / "multi-domain.yml"), "-f", "json"],
                                  ["build", "-c", str(GOOGLE), "-o", "site"]])
def test_output_that_cannot_be_written_is_an_error_not_a_traceback(tmp_path, args):
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "generator", *args], stdout=full, stderr=subprocess.PIPE, text=True,
                                cwd=tmp_path, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert result.stderr == "error: cannot write the output: No space left on device\n"


def commands() -> list[tuple[list[str], object]]:
    """Every command as (its words, its Click command), groups' subcommands included."""
    import click
    import typer.main

    def walk(group, words):
        for name, command in sorted(group.commands.items()):
            yield [*words, name], command
            if isinstance(command, click.Group):
                yield from walk(command, [*words, name])

    return list(walk(typer.main.get_command(app), []))


def test_every_command_has_help():
    for words, command in commands():
        result = run_cli(*words, "--help")
        assert result.code == 0, result.output
        assert command.help and command.help.strip(), f"{' '.join(words)} has no help text"


def test_help_at_80_columns_cuts_nothing_and_names_arguments_as_usual(monkeypatch):
    """Rich cuts a word wider than its column with '…' (an IMAP URL format, a
    variable's name); a required argument is NAME, optional ones [NAME]..."""
    monkeypatch.setenv("COLUMNS", "80")
    for words, _ in commands():
        result = run_cli(*words, "--help")
        assert "…" not in result.out, f"{' '.join(words)} --help cuts a word:\n{result.out}"
        usage = next(line for line in result.out.splitlines() if "Usage:" in line)
        assert "{" not in usage, usage
    reference = (ROOT / "docs" / "cli.md").read_text()
    for usage in ("init [OPTIONS] DOMAIN\n", "reports [OPTIONS] [SOURCE]...\n", "promote [OPTIONS] [SOURCE]...\n",
                  "records [OPTIONS] [DOMAIN]...\n", "check [OPTIONS] [DOMAIN]...\n", "verify [OPTIONS] [DOMAIN]\n"):
        assert f"Usage: mta-sts-pages {usage}" in reference, usage


def test_usage_error_exit_code_2():
    result = run_cli("build", "--no-such-flag")
    assert result.code == 2 and "No such option" in result.err


def test_init_writes_a_valid_commented_config(tmp_path):
    out = tmp_path / "mta-sts.yml"
    result = run_cli("init", "Bücher.example", "--mx", "mx1.xn--bcher-kva.example", "--mx", "*.mail.protection.outlook.com",
                     "--rua", "mailto:tls@xn--bcher-kva.example", "--owner", "Example-Org", "-o", out)
    assert result.code == 0, result.output
    text = out.read_text()
    assert text.splitlines()[1].startswith("# mta-sts-pages configuration for xn--bcher-kva.example")
    assert '- "*.mail.protection.outlook.com"' in text
    validated = run_cli("validate", "-c", out)
    assert validated.code == 0 and "valid (1 domain, 0 warnings)" in validated.out


def test_init_mode_and_the_commented_settings_validate_once_uncommented(tmp_path):
    """--mode goes into the config; the commented verification, index and
    monitor settings it offers are valid as written, once uncommented."""
    out = tmp_path / "mta-sts.yml"
    result = run_cli("init", "example.com", "--mx", "mx.example.com", "--mode", "enforce", "--owner", "example-org", "-o", out)
    assert result.code == 0, result.output
    text = out.read_text()
    assert re.search(r"^  mode: enforce$", text, re.MULTILINE), text
    offered = [line for line in text.splitlines() if re.match(r"#? ?(  )?#? ?(verification|index|monitor|schedule|smtp|label):", line.strip())]
    assert len(offered) == 6, offered
    uncommented = re.sub(r"^( *)# (verification: |index: |monitor:|  schedule: |  smtp: |  label: )", r"\1\2", text, flags=re.MULTILINE)
    assert re.search(r"^monitor:\n  schedule: ", uncommented, re.MULTILINE), uncommented
    out.write_text(uncommented)
    validated = run_cli("validate", "-c", out)
    assert validated.code == 0 and "valid (1 domain, 0 warnings)" in validated.out, validated.output + uncommented
    records = run_cli("records", "-c", out)
    assert "_github-pages-challenge-example-org.example.com." in records.out, records.output


def test_init_names_the_bad_flag_and_writes_nothing(tmp_path):
    out = tmp_path / "mta-sts.yml"
    result = run_cli("init", "example.com", "--mx", "mx*.example.com", "--rua", "ftp://x.example", "-o", out)
    assert result.code == 2
    assert "--mx 'mx*.example.com' may hold '*' only" in result.err
    assert "--rua 'ftp://x.example' must start with mailto: or https:" in result.err
    assert not out.exists()


def test_init_nameserver_needs_a_lookup(tmp_path):
    result = run_cli("init", "example.com", "--mx", "mx.example.com", "--nameserver", "bogus", "-o", tmp_path / "c.yml")
    assert result.code == 2 and "--nameserver is for looking up the MX hosts" in result.err


def test_init_never_overwrites(tmp_path):
    out = tmp_path / "mta-sts.yml"
    out.write_text("mine")
    result = run_cli("init", "example.com", "--mx", "mx.example.com", "-o", out)
    assert result.code == 2 and "already exists" in result.err
    assert out.read_text() == "mine"


def test_validate_policy_file(tmp_path):
    good = tmp_path / "good.txt"
    good.write_bytes(b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 604800\n")
    result = run_cli("validate", "--policy", good)
    assert result.code == 0, result.output
    assert "info: [policy-lf-line-endings]" in result.out
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"version: STSv1\r\nmode: enforce\r\nmax_age: 604800\r\n")
    result = run_cli("validate", "--policy", bad)
    assert result.code == 1 and "error: [policy-mx-missing]" in result.out and "fix:" in result.out


def test_validate_records():
    assert run_cli("validate", "--txt", "v=STSv1; id=20261128").code == 0
    result = run_cli("validate", "--txt", "v=STSv1; id=2026-11-28")
    assert result.code == 1 and "[sts-id-invalid]" in result.out
    assert run_cli("validate", "--tlsrpt", "v=TLSRPTv1; rua=mailto:tls@example.com").code == 0
    result = run_cli("validate", "--tlsrpt", "v=TLSRPTv1; rua=mailto:a@example.com!10m")
    assert result.code == 1 and "[tlsrpt-rua-invalid]" in result.out


def test_warnings_print_and_strict_fails(tmp_path):
    config = tmp_path / "mta-sts.yml"
    config.write_text("domain: example.com\npolicy:\n  mode: enforce\n  mx: [mx.example.com]\n  max_age: 1h\n")
    result = run_cli("validate", "-c", config)
    assert result.code == 0
    assert "warning: policy.max_age: enforce with max_age 3600s" in result.err and f"({config}:5)" in result.err
    strict = run_cli("build", "-c", config, "-o", tmp_path / "site", "--strict")
    assert strict.code == 2 and not (tmp_path / "site").exists()


@pytest.mark.parametrize(
    "mx, hint",
    [
        ("aspmx.l.gogle.com", "looks like a typo of google.com"),
        ("mail.protection.outlook.com", "use '*.mail.protection.outlook.com'"),
        ("*.google.com", "does not match aspmx.l.google.com"),
    ],
)
def test_mx_typo_warnings(tmp_path, mx, hint):
    config = tmp_path / "mta-sts.yml"
    config.write_text(f'domain: example.com\npolicy:\n  mx:\n    - "{mx}"\n')
    result = run_cli("validate", "-c", config)
    assert result.code == 0 and hint in result.err and f"({config}:4)" in result.err


@pytest.mark.timeout(180)
def test_wheel_ships_templates_and_runs_from_anywhere(tmp_path):
    """`pip install .` works: the wheel carries the templates, the command runs outside the checkout."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, ROOT],
                   check=True, timeout=120, capture_output=True)
    wheel = next(wheels.glob("mta_sts_pages-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "generator/templates/index.html.j2" in names and "generator/cli.py" in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)
    # Offline: let the new venv see the dependencies already installed here.
    purelib = Path(sysconfig.get_paths()["purelib"])
    new_site = next((venv / "lib").glob("python3*/site-packages"))
    (new_site / "test-deps.pth").write_text(f"{purelib}\n")
    subprocess.run([venv / "bin/python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], check=True, timeout=120)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([venv / "bin/mta-sts-pages", "build", "-c", GOOGLE, "-o", "site"], cwd=elsewhere,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (elsewhere / "site/.well-known/mta-sts.txt").read_bytes().startswith(b"version: STSv1\r\n")


@pytest.mark.timeout(60)
def test_init_takes_the_mx_hosts_from_live_dns(tmp_path, dns_server_factory):
    from tests.support.dns_server import minimal_zone

    server = dns_server_factory({"example.test": minimal_zone("example.test", "@ MX 20 mx2\n@ MX 10 mx1\n@ MX 30 mx1\nmx1 A 127.0.0.1\nmx2 A 127.0.0.1")})
    out = tmp_path / "mta-sts.yml"
    result = run_cli("init", "example.test", "--nameserver", server.address, "-o", out)
    assert result.code == 0, result.output
    text = out.read_text()
    assert text.index('- "mx1.example.test"') < text.index('- "mx2.example.test"')
    assert text.count('- "mx1.example.test"') == 1


@pytest.mark.timeout(60)
def test_init_without_mx_records_asks_for_mx(tmp_path, dns_server_factory):
    from tests.support.dns_server import minimal_zone

    server = dns_server_factory({"example.test": minimal_zone("example.test", "www A 127.0.0.1")})
    out = tmp_path / "mta-sts.yml"
    result = run_cli("init", "example.test", "--nameserver", server.address, "-o", out)
    assert result.code == 2 and "example.test has no MX host; give the MX patterns with --mx" in result.err
    assert not out.exists()
