"""The JSON Schema of `mta-sts.yml`: valid draft 2020-12, committed and
current, printed by `schema`, accepted by every config the project ships,
and in agreement with the Python validator it is generated from."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import regress
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from generator.config import SCHEMA_FILE, _owner, json_schema, json_schema_text, loads
from generator.errors import ConfigError
from generator.names import InvalidName, normalize_domain, normalize_mx_pattern
from generator.tlsrpt import InvalidRua, check_rua
from tests.support.cli import run_cli
from tests.support.github import python_tool, render_template
from tests.test_config_errors import ROWS

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json_schema()
SINGLE = SCHEMA["else"]["properties"]

# Keywords draft 7 already has: yaml-language-server (VS Code, Neovim,
# Helix...) implements draft 7, so the schema keeps to them.
DRAFT7_KEYWORDS = {
    "$schema", "title", "description", "default", "type", "enum", "pattern", "minimum", "maximum",
    "items", "minItems", "maxItems", "properties", "patternProperties", "additionalProperties", "required", "oneOf", "anyOf",
    "if", "then", "else",
}


def keywords(schema: dict):
    for key, value in schema.items():
        yield key
        if key in ("properties", "patternProperties"):
            for child in value.values():
                yield from keywords(child)
        elif isinstance(value, dict):
            yield from keywords(value)
        elif key in ("oneOf", "anyOf"):
            for child in value:
                yield from keywords(child)


def test_schema_is_draft_2020_12_within_draft_7_keywords():
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(keywords(SCHEMA)) <= DRAFT7_KEYWORDS


def test_committed_schema_is_current():
    committed = (ROOT / SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == json_schema_text(), f"{SCHEMA_FILE} is stale; run: mta-sts-pages schema > {SCHEMA_FILE}"


def test_schema_command_prints_it():
    result = run_cli("schema")
    assert result.code == 0, result.output
    assert result.out == json_schema_text()


def test_init_config_names_the_schema_it_writes_beside_it(tmp_path):
    result = run_cli("init", "example.com", "--mx", "mx.example.com", "-o", tmp_path / "mta-sts.yml")
    assert result.code == 0, result.output
    first = (tmp_path / "mta-sts.yml").read_text().splitlines()[0]
    assert first == f"# yaml-language-server: $schema=./{SCHEMA_FILE}"
    assert (tmp_path / SCHEMA_FILE).read_text() == json_schema_text()
    assert SCHEMA_FILE in result.out


def test_init_keeps_an_existing_schema_file(tmp_path):
    (tmp_path / SCHEMA_FILE).write_text("mine")
    result = run_cli("init", "example.com", "--mx", "mx.example.com", "-o", tmp_path / "mta-sts.yml")
    assert result.code == 0, result.output
    assert (tmp_path / SCHEMA_FILE).read_text() == "mine"
    assert (tmp_path / "mta-sts.yml").exists()


def check_jsonschema(workdir: Path, *files: Path) -> dict[str, list[str]]:
    """check-jsonschema's verdict on each file, read as an editor's YAML 1.2
    parser reads it: file name -> its errors (none when valid)."""
    schema = workdir / SCHEMA_FILE
    schema.write_text(json_schema_text())
    run = subprocess.run(
        [python_tool("check-jsonschema"), "--schemafile", str(schema), "--output-format", "json", *map(str, files)],
        capture_output=True, text=True, timeout=60,
    )
    report = json.loads(run.stdout)
    verdicts: dict[str, list[str]] = {str(f): [] for f in files}
    for error in report["errors"]:
        verdicts[error["filename"]].append(f"{error['path']}: {error['message']}")
    for error in report.get("parse_errors", []):
        verdicts[error["filename"]].append(f"parse error: {error['message']}")
    assert run.returncode == (1 if any(verdicts.values()) else 0), run.stdout + run.stderr
    return verdicts


@pytest.mark.timeout(120)
def test_shipped_configs_validate_with_check_jsonschema(tmp_path):
    """The examples, the starter from `init`, and the cookiecutter
    template's config (defaults, and an IDN) all pass the schema."""
    configs = sorted((ROOT / "examples").glob("*.yml"))
    assert configs
    run_cli("init", "example.com", "--mx", "*.mail.protection.outlook.com", "--rua", "mailto:tls@example.com",
            "--owner", "example-org", "-o", tmp_path / "mta-sts.yml")
    configs.append(tmp_path / "mta-sts.yml")
    for name, overrides in (("defaults", ()), ("idn", ("domain=bücher.example", "mx=mx.bücher.example", "mode=enforce"))):
        rendered = list(render_template(tmp_path / name, *overrides).rglob("mta-sts.yml"))
        assert rendered, "the cookiecutter template renders no mta-sts.yml"
        configs += rendered
    failing = {name: errors for name, errors in check_jsonschema(tmp_path, *configs).items() if errors}
    assert not failing


# Editors match patterns with ECMA-262 regular expressions, with or without
# the unicode flag; the jsonschema library uses Python's.
ENGINES = {
    "python": lambda pattern: re.compile(pattern).search,
    "ecma-unicode": lambda pattern: regress.Regex(pattern, flags="u").find,
    "ecma": lambda pattern: regress.Regex(pattern).find,
}
# A small alphabet, so that hypothesis meets valid names often: host name
# characters, the usual slips, and what UTS 46 maps ('。' to '.', '１' to
# '1', '⒈' to '1.') or drops (the soft hyphen).
NAME_CHARS = "abzAZ09-._ *:/@\u3002\uff0e\u00fc\u00ad\uff11\u2488"
LABELS = st.from_regex(r"[a-zA-Z0-9](?:[a-z0-9-]{0,4}[a-z0-9])?", fullmatch=True) | st.text(NAME_CHARS, min_size=1, max_size=4)
NAMES = st.lists(st.tuples(LABELS, st.sampled_from(".\u3002.")), min_size=1, max_size=4).map(
    lambda parts: "".join(label + dot for label, dot in parts)[:-1]
)


def accepts(check, value: str) -> bool:
    try:
        check(value)
    except (InvalidName, InvalidRua, ValueError):
        return False
    return True


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=300)
@given(name=NAMES, wildcard=st.booleans())
def test_name_patterns_never_reject_what_python_accepts(engine, name, wildcard):
    domain = ENGINES[engine](SINGLE["domain"]["pattern"])
    mx = ENGINES[engine](SINGLE["policy"]["properties"]["mx"]["items"]["pattern"])
    if accepts(normalize_domain, name):
        assert domain(name), name
    pattern = "*." + name if wildcard else name
    if accepts(normalize_mx_pattern, pattern):
        assert mx(pattern), pattern


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=300)
@given(scheme=st.sampled_from(["mailto:", "MailTo:", "https://", "HTTPS://", "https:", "http://", ""]),
       user=st.sampled_from(["tls", "t.l+s", "%74ls"]) | st.text("az09%.+ ,!;\u00fc", max_size=4),
       at=st.sampled_from(["@", "%40", ""]),
       host=st.sampled_from(["example.com", "Example.COM", "xn--bcher-kva.example", "b\u00fccher.example"]) | NAMES,
       path=st.sampled_from(["", "/v1/report", ":8443/r?x=1#f"]) | st.text("az09/?#=%:-_ ,!;", max_size=6))
def test_rua_pattern_never_rejects_what_python_accepts(engine, scheme, user, at, host, path):
    rest = user + at + host + path
    rua = ENGINES[engine](SINGLE["tlsrpt"]["properties"]["rua"]["items"]["pattern"])
    if accepts(check_rua, scheme + rest):
        assert rua(scheme + rest)


@pytest.mark.parametrize("engine", ENGINES)
@given(owner=st.text("aZ09-_.", max_size=42))
def test_owner_pattern_is_the_python_rule(engine, owner):
    matches = ENGINES[engine](SINGLE["pages"]["properties"]["owner"]["pattern"])
    assert bool(matches(owner)) == accepts(_owner, owner)


MULTI_BASE = "defaults:\n  policy:\n    mx: [mx.example.net]\ndomains:\n  - domain: example.net\n"

# Configs the Python validator accepts: the schema must accept them too.
GOOD = {
    "single-minimal": "domain: example.com\npolicy:\n  mx: [mx.example.com]\n",
    "single-everything": "domain: Example.COM\npolicy:\n  mode: enforce\n  mx: [mx1.example.com, '*.mx.example.com']\n"
                         "  max_age: 86400\n  id: 20261128\ntlsrpt:\n  rua: ['MAILTO:tls@example.com', 'https://r.example.com/v1']\n"
                         "pages:\n  deploy: branch\n  owner: Example-Org\n",
    "single-mode-none": "domain: example.com\npolicy:\n  mode: none\n",
    "single-max-age-text": "domain: example.com\npolicy:\n  mx: [mx.example.com]\n  max_age: '3600'\n",
    "idn-u-labels": "domain: bücher.example\npolicy:\n  mx: ['*.bücher.example', 'mx.bücher。example']\n",
    "idn-a-labels": "domain: xn--bcher-kva.example\npolicy:\n  mx: [mx.xn--bcher-kva.example]\n",
    "rua-percent-encoded": "domain: example.com\npolicy:\n  mx: [mx.example.com]\ntlsrpt:\n  rua: ['mailto:tls+reports@example.com', 'https://r.example.com/a%2Cb%3Bc%21']\n",
    "single-monitor": "domain: example.com\npolicy:\n  mx: [mx.example.com]\npages:\n  owner: example-org\n  verification: a8f3e1c07d9b4265e0b1c3d5f7a9e2\n"
                      "monitor:\n  schedule: '*/30 1-5 * JAN-MAR mon,FRI'\n  smtp: true\n  label: 'MTA-STS health'\n",
    "multi-minimal": "domains:\n  - domain: example.net\n    policy: {mx: [mx.example.net]}\n",
    "single-dns": "domain: mail.example.com\npolicy:\n  mx: [mx.example.com]\ndns:\n  zone: example.com\n  provider:\n"
                  "    class: octodns_bind.Rfc2136Provider\n    host: 192.0.2.53\n    port: 5353\n    key_name: env/TSIG_KEY_NAME\n"
                  "    key_secret: env/TSIG_KEY_SECRET\n    key_algorithm: hmac-sha256\n",
    "multi-dns-defaults": MULTI_BASE.replace("defaults:\n", "defaults:\n  dns:\n    provider: {class: octodns_cloudflare.CloudflareProvider, token: env/CF_TOKEN}\n")
                          + "  - domain: mail.example.org\n    dns: {zone: example.org}\n",
    "multi-defaults": MULTI_BASE + "  - domain: example.org\n    policy: {mode: enforce}\n    tlsrpt: {rua: ['mailto:tls@example.org']}\n",
}

# Bad multi-domain configs, beside the single-domain table of test_config_errors.
BAD_MULTI = {
    "multi-unknown-entry-key": MULTI_BASE + "    polcy: {mode: enforce}\n",
    "multi-entry-missing-domain": MULTI_BASE + "  - policy: {mode: enforce}\n",
    "multi-domains-not-list": "domains: example.net\n",
    "multi-domains-empty": "domains: []\n",
    "multi-missing-domains": "defaults:\n  policy: {mode: testing}\n",
    "multi-domain-in-defaults": MULTI_BASE.replace("defaults:\n", "defaults:\n  domain: example.com\n"),
    "multi-mixed-with-single": "domain: example.com\n" + MULTI_BASE,
    "multi-entry-bad-domain": MULTI_BASE.replace("example.net\n", "example_net.com\n"),
    "multi-defaults-unknown-key": MULTI_BASE.replace("  policy:\n", "  polcy:\n"),
}

# Rejected by the Python validator for reasons the schema leaves to it:
# rules across keys, numeric ranges of durations, the fine print of domain
# names and URIs, and YAML 1.1 readings an editor's YAML 1.2 parser differs on.
SCHEMA_ALLOWS = {
    "domain-bad-alabel": "the IDNA validity of an xn-- label",
    "mx-empty-list": "mx may be empty in mode none: a rule across keys",
    "mx-missing-enforce": "mx may be absent in mode none: a rule across keys",
    "max-age-unit-over": "the range of a duration with a unit",
    "max-age-octal": "YAML 1.2 reads 0o17 as the number 15",
    "rua-mailto-bad-domain": "the domain inside a mailto: address",
    "rua-bad-escape": "percent escapes inside a URI",
    "rua-port-zero": "the port range of an https: URI",
    "rua-port-too-big": "the port range of an https: URI",
    "policy-too-large": "the size of the rendered policy",
    "verification-without-owner": "verification needs owner: a rule across keys",
    "repository-other-owner": "the repository must be under pages.owner: a rule across keys",
    "monitor-schedule-range": "the range of each cron field",
    "monitor-schedule-step": "the range of each cron field",
    "dns-bad-env-reference": "the form of env/ references in options whose names the schema cannot know",
    "dns-no-provider": "the provider may come from defaults.dns: a rule across keys",
    "dns-zone-not-parent": "the zone must hold the domain: a rule across keys",
    "dns-zone-invalid": "the fine print of the zone name",
}


def test_schema_agrees_with_the_python_validator(tmp_path):
    """Every config Python accepts passes the schema; every config it
    rejects fails the schema too, except the listed semantic rules."""
    bad = {row[0]: row[1] for row in ROWS} | BAD_MULTI
    files = {}
    for name, text in {**GOOD, **bad}.items():
        files[name] = tmp_path / f"{name}.yml"
        files[name].write_text(text, encoding="utf-8")
    for name in GOOD:
        loads(GOOD[name], file=name)
    for name in BAD_MULTI:
        with pytest.raises(ConfigError):
            loads(BAD_MULTI[name], file=name)
    verdicts = {name: errors for name, errors in zip(files, check_jsonschema(tmp_path, *files.values()).values())}

    assert {name: verdicts[name] for name in GOOD if verdicts[name]} == {}
    passing_bad = {name for name in bad if not verdicts[name]}
    assert passing_bad == set(SCHEMA_ALLOWS), "tighten the schema, or list the rule in SCHEMA_ALLOWS with its reason"
