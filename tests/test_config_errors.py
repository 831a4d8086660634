"""Every rejection rule of SPEC §2, one row each, through the CLI.

Each row is a config (a base config with one change), the exact
``path: message (file:line)`` expected, and exit code 2 with nothing written.
"""

from __future__ import annotations

import pytest

from tests.support.cli import run_cli

BASE = """\
domain: example.com
policy:
  mode: testing
  mx:
    - mx1.example.com
  max_age: 1w
tlsrpt:
  rua:
    - mailto:tls@example.com
"""


def with_line(n: int, text: str) -> str:
    """BASE with line ``n`` (1-based) replaced by ``text``."""
    lines = BASE.splitlines()
    lines[n - 1] = text
    return "\n".join(lines) + "\n"


def domain(value: str) -> str:
    return with_line(1, f"domain: {value}")


def mx(value: str) -> str:
    return with_line(5, f"    - {value}")


def max_age(value: str) -> str:
    return with_line(6, f"  max_age: {value}")


def rua(value: str) -> str:
    return with_line(9, f"    - {value}")


DNS = """\
dns:
  provider:
    class: octodns_bind.Rfc2136Provider
    host: 192.0.2.53
{extra}"""

ROWS = [
    # (id, config text, expected path, expected message fragment, line)
    ("domain-label-64", domain("a" * 64 + ".com"), "domain", "is 64 characters long (at most 63)", 1),
    ("domain-name-254", domain(".".join(["a" * 63] * 4)), "domain", "characters long (at most 253)", 1),
    ("domain-too-long-for-records", domain(".".join(["a" * 60] * 4) + ".com"), "domain", "at most 242 leave room for _smtp._tls.", 1),
    ("domain-underscore", domain("ex_ample.com"), "domain", "contains an underscore", 1),
    ("domain-space", domain('"exa mple.com"'), "domain", "contains a space", 1),
    ("domain-newline", domain('"example.com\\nevil.com"'), "domain", "contains a newline", 1),
    ("domain-control", domain('"exam\\x01ple.com"'), "domain", "control character U+0001", 1),
    ("domain-ipv4", domain("192.0.2.1"), "domain", "is an IP address", 1),
    ("domain-ipv6", domain('"2001:db8::1"'), "domain", "is an IP address", 1),
    ("domain-trailing-junk", domain('"example.com/x"'), "domain", "contains '/'", 1),
    ("domain-trailing-dot", domain("example.com."), "domain", "ends with a dot", 1),
    ("domain-bare-tld", domain("com"), "domain", "bare top-level name", 1),
    ("domain-empty-label", domain("example..com"), "domain", "empty label", 1),
    ("domain-hyphen-end", domain("example-.com"), "domain", "starts or ends with a hyphen", 1),
    ("domain-bad-alabel", domain("xn--zz.com"), "domain", "not a valid IDNA A-label", 1),
    ("domain-numeric-tld", domain("example.123"), "domain", "all-numeric label", 1),
    ("domain-missing", BASE.replace("domain: example.com\n", ""), "", "missing required key 'domain'", 1),
    ("mx-wildcard-in-label", mx("mx*.example.com"), "policy.mx[0]", "'*' only as the whole leftmost label", 5),
    ("mx-double-wildcard", mx('"*.*.example.com"'), "policy.mx[0]", "'*' only as the whole leftmost label", 5),
    ("mx-inner-wildcard", mx("a.*.example.com"), "policy.mx[0]", "'*' only as the whole leftmost label", 5),
    ("mx-bare-tld", mx("com"), "policy.mx[0]", "bare top-level name", 5),
    ("mx-wildcard-tld", mx('"*.com"'), "policy.mx[0]", "bare top-level name", 5),
    ("mx-ip", mx("192.0.2.25"), "policy.mx[0]", "is an IP address", 5),
    ("mx-not-string", mx("42"), "policy.mx[0]", "expected a string, got a number", 5),
    ("mx-empty-list", with_line(5, "    []").replace("  mx:\n    []", "  mx: []"), "policy.mx", "mode testing needs at least one mx pattern", 4),
    ("mx-missing-enforce", with_line(3, "  mode: enforce").replace("  mx:\n    - mx1.example.com\n", ""), "policy.mx", "mode enforce needs at least one mx pattern", 2),
    ("mode-unknown", with_line(3, "  mode: enforcing"), "policy.mode", "'enforcing' is not one of enforce, testing, none", 3),
    ("mode-boolean", with_line(3, "  mode: no"), "policy.mode", "got a boolean ('no')", 3),
    ("max-age-over", max_age("31557601"), "policy.max_age", "outside 0..31557600", 6),
    ("max-age-unit-over", max_age("53w"), "policy.max_age", "outside 0..31557600", 6),
    ("max-age-negative", max_age("-1"), "policy.max_age", "is not seconds or a duration", 6),
    ("max-age-garbage", max_age("soon"), "policy.max_age", "is not seconds or a duration", 6),
    ("max-age-float", max_age("1.5"), "policy.max_age", "expected seconds or a duration", 6),
    ("max-age-octal", max_age("0o17"), "policy.max_age", "is not seconds or a duration", 6),
    ("id-too-long", BASE.replace("  max_age: 1w\n", "  max_age: 1w\n  id: " + "a" * 33 + "\n"), "policy.id", "1-32 letters and digits", 7),
    ("id-punctuation", BASE.replace("  max_age: 1w\n", "  max_age: 1w\n  id: 2026-11-28T10\n"), "policy.id", "1-32 letters and digits", 7),
    ("id-empty", BASE.replace("  max_age: 1w\n", '  max_age: 1w\n  id: ""\n'), "policy.id", "1-32 letters and digits", 7),
    ("rua-mailto-no-address", rua('"mailto:"'), "tlsrpt.rua[0]", "needs an address", 9),
    ("rua-unquoted-colon", rua("mailto:"), "tlsrpt.rua[0]", "got a mapping; a ':' at the end", 9),
    ("rua-mailto-bad-domain", rua("mailto:a@b_c.com"), "tlsrpt.rua[0]", "contains an underscore", 9),
    ("rua-https-no-host", rua("https:///report"), "tlsrpt.rua[0]", "needs a host", 9),
    ("rua-other-scheme", rua("http://example.com/r"), "tlsrpt.rua[0]", "must start with mailto: or https:", 9),
    ("rua-comma", rua("mailto:a,b@example.com"), "tlsrpt.rua[0]", "unencoded ','", 9),
    ("rua-bang", rua("mailto:tls@example.com!10m"), "tlsrpt.rua[0]", "unencoded '!'", 9),
    ("rua-semicolon", rua('"https://example.com/a;b"'), "tlsrpt.rua[0]", "unencoded ';'", 9),
    ("rua-space", rua('"mailto:a b@example.com"'), "tlsrpt.rua[0]", "contains a space", 9),
    ("rua-bad-escape", rua("mailto:a%zz@example.com"), "tlsrpt.rua[0]", "not followed by two hex digits", 9),
    ("rua-port-zero", rua("https://reports.example.com:0/r"), "tlsrpt.rua[0]", "has port 0", 9),
    ("rua-port-too-big", rua("https://reports.example.com:70000/r"), "tlsrpt.rua[0]", "out of range", 9),
    ("rua-empty-list", BASE.replace("  rua:\n    - mailto:tls@example.com\n", "  rua: []\n"), "tlsrpt.rua", "needs at least 1 item", 8),
    ("unknown-top-key", BASE + "colour: red\n", "colour", "unknown key", 10),
    ("unknown-policy-key", with_line(3, "  modus: testing"), "policy.modus", "unknown key", 3),
    ("policy-not-mapping", BASE.split("policy:")[0] + "policy: testing\n", "policy", "expected a mapping", 2),
    ("duplicate-key", BASE.replace("  max_age: 1w\n", "  max_age: 1w\n  max_age: 2w\n"), "policy.max_age", "duplicate key (first defined on line 6)", 7),
    ("duplicate-top-key", BASE + "domain: example.org\n", "domain", "duplicate key (first defined on line 1)", 10),
    ("yaml-syntax", BASE + "pages: [\n", "", "invalid YAML", 11),
    ("yaml-tab-indent", BASE.replace("  mode: testing", "\tmode: testing"), "", "invalid YAML", 3),
    ("yaml-alias", BASE + "pages: &p {deploy: branch}\nextra: *p\n", "", "aliases are not supported", 10),
    ("deploy-bool", BASE + "pages:\n  deploy: yes\n", "pages.deploy", "got a boolean ('yes')", 11),
    ("owner-invalid", BASE + "pages:\n  owner: -bad-\n", "pages.owner", "not a GitHub user or organization", 11),
    ("branch-invalid", BASE + "pages:\n  branch: feature..x\n", "pages.branch", "not a plain git branch name", 11),
    ("branch-glob", BASE + "pages:\n  branch: 'release/*'\n", "pages.branch", "not a plain git branch name", 11),
    ("branch-dot-component", BASE + "pages:\n  branch: release/.next\n", "pages.branch", "not a plain git branch name", 11),
    ("verification-without-owner", BASE + "pages:\n  verification: a8f3e1c07d9b4265e0b1c3d5f7a9e2\n", "pages.verification", "needs pages.owner", 11),
    ("repository-invalid", BASE + "pages:\n  repository: example-org\n", "pages.repository", "is not OWNER/NAME of a GitHub repository", 11),
    ("repository-dot-dot", BASE + "pages:\n  repository: example-org/..\n", "pages.repository", "is not OWNER/NAME of a GitHub repository", 11),
    ("repository-other-owner", BASE + "pages:\n  owner: example-org\n  repository: someone-else/mta-sts\n", "pages.repository", "is not under pages.owner example-org", 12),
    ("verification-invalid", BASE + "pages:\n  owner: example-org\n  verification: 'abc-123'\n", "pages.verification", "is not the code GitHub shows", 12),
    ("monitor-unknown-key", BASE + "monitor:\n  cron: '0 6 * * *'\n", "monitor.cron", "unknown key; expected one of: schedule, smtp, label", 11),
    ("monitor-schedule-fields", BASE + "monitor:\n  schedule: '0 6 * *'\n", "monitor.schedule", "has 4 fields; a cron schedule has 5", 11),
    ("monitor-schedule-range", BASE + "monitor:\n  schedule: '0 24 * * *'\n", "monitor.schedule", "has '24' as its hour", 11),
    ("monitor-schedule-step", BASE + "monitor:\n  schedule: '*/0 * * * *'\n", "monitor.schedule", "has '*/0' as its minute", 11),
    ("monitor-smtp-yes", BASE + "monitor:\n  smtp: yes\n", "monitor.smtp", "expected true or false, got a boolean ('yes')", 11),
    ("monitor-smtp-string", BASE + "monitor:\n  smtp: 'true'\n", "monitor.smtp", "expected true or false, got a string", 11),
    ("monitor-label-comma", BASE + "monitor:\n  label: 'mta-sts,dns'\n", "monitor.label", "is not a GitHub label name", 11),
    ("monitor-label-long", BASE + "monitor:\n  label: " + "x" * 51 + "\n", "monitor.label", "is not a GitHub label name", 11),
    ("monitor-label-option", BASE + "monitor:\n  label: '--repo=evil/x'\n", "monitor.label", "starts with '-', which gh would read as an option", 11),
    ("monitor-label-expression", BASE + "monitor:\n  label: 'x ${{ secrets.TOKEN }}'\n", "monitor.label", "GitHub Actions expression", 11),
    ("dns-literal-secret", BASE + DNS.format(extra="    key_secret: hunter2\n"), "dns.provider.key_secret", "looks like a secret, so it must be an environment reference", 14),
    ("dns-secret-with-default", BASE + DNS.format(extra="    api_token: env/TOKEN/hunter2\n"), "dns.provider.api_token", "looks like a secret", 14),
    ("dns-secret-not-text", BASE + DNS.format(extra="    password: 1234\n"), "dns.provider.password", "looks like a secret", 14),
    ("dns-bad-env-reference", BASE + DNS.format(extra="    port: env/1PORT\n"), "dns.provider.port", "not an octoDNS environment reference", 14),
    ("dns-missing-class", BASE + "dns:\n  provider:\n    host: 192.0.2.53\n", "dns.provider", "missing required key 'class'", 12),
    ("dns-bad-class", BASE + "dns:\n  provider:\n    class: Rfc2136Provider\n", "dns.provider.class", "is not a Python class path", 12),
    ("dns-no-provider", BASE + "dns:\n  zone: example.com\n", "dns", "no 'provider:' here or in defaults.dns", 10),
    ("dns-zone-not-parent", BASE + DNS.format(extra="  zone: example.org\n"), "dns.zone", "example.com is not in the zone example.org", 14),
    ("dns-zone-invalid", BASE + DNS.format(extra="  zone: ex_ample.com\n"), "dns.zone", "contains an underscore", 14),
    ("dns-unknown-key", BASE + DNS.format(extra="  provder: {}\n"), "dns.provder", "unknown key; expected one of: provider, zone", 14),
    ("empty-file", "", "", "the config is empty", None),
    ("not-a-mapping", "- a\n- b\n", "", "expected a mapping", 1),
    ("policy-too-large", BASE.replace("    - mx1.example.com\n", "".join(f"    - mx{i:05d}.{'a' * 50}.example.com\n" for i in range(1200))),
     "policy.mx", "senders read at most 65536", 4),
]


@pytest.mark.parametrize("text, path, message, line", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_rejected_with_path_and_line(tmp_path, text, path, message, line):
    config = tmp_path / "mta-sts.yml"
    config.write_text(text, encoding="utf-8")
    out = tmp_path / "site"

    result = run_cli("build", "-c", config, "-o", out)

    assert result.code == 2, result.output
    where = f"{config}:{line}" if line else f"{config}"
    prefix = f"error: {path}: " if path else "error: "
    matching = [l for l in result.err.splitlines() if l.startswith(prefix) and message in l and l.endswith(f"({where})")]
    assert matching, f"no line {prefix}...{message}...({where}) in:\n{result.err}"
    assert "Traceback" not in result.output
    assert not out.exists(), "a rejected config must write nothing"


def test_all_errors_reported_at_once(tmp_path):
    config = tmp_path / "mta-sts.yml"
    config.write_text(
        "domain: ex_ample.com\npolicy:\n  mode: strict\n  mx: [mx*.a.com]\n  max_age: 2y\ntlsrpt:\n  rua: [ftp://x.com]\nextra: 1\n",
        encoding="utf-8",
    )
    result = run_cli("validate", "-c", config)
    assert result.code == 2
    paths = [line.split(":")[1].strip() for line in result.err.splitlines()]
    assert paths == ["domain", "policy.mode", "policy.mx[0]", "policy.max_age", "tlsrpt.rua[0]", "extra"]


def test_missing_config_file(tmp_path):
    result = run_cli("build", "-c", tmp_path / "nope.yml", "-o", tmp_path / "site")
    assert result.code == 2
    assert "config file not found" in result.err and "nope.yml" in result.err


def test_binary_config_names_line(tmp_path):
    config = tmp_path / "mta-sts.yml"
    config.write_bytes(BASE.encode() + b"pages:\n  owner: \xff\n")
    result = run_cli("validate", "-c", config)
    assert result.code == 2
    assert f"not UTF-8 text ({config}:11)" in result.err


def test_two_domains_cannot_share_a_repository(tmp_path):
    """A Pages site serves one custom domain: defaults.pages.repository would put every domain in one."""
    config = tmp_path / "mta-sts.yml"
    config.write_text("defaults:\n  policy: {mx: [mx.a.test]}\n  pages: {repository: example-org/mta-sts}\n"
                      "domains:\n  - domain: a.test\n  - domain: b.test\n", encoding="utf-8")
    result = run_cli("validate", "-c", config)
    assert result.code == 2
    assert (f"error: domains[1].pages.repository: example-org/mta-sts is already a.test's: a repository's Pages site serves "
            f"one custom domain, so each domain needs its own repository ({config}:3)") in result.err


def test_the_repository_defaults_to_one_per_domain_under_the_owner(tmp_path):
    from generator.config import loads

    config = loads("defaults:\n  policy: {mx: [mx.a.test]}\n  pages: {owner: Example-Org}\n"
                   "domains:\n  - domain: a.test\n  - domain: b.test\n    pages: {repository: example-org/b-policy}\n")
    assert [d.repository for d in config.domains] == ["example-org/mta-sts.a.test", "example-org/b-policy"]
    inferred = loads("domain: c.test\npolicy: {mx: [mx.c.test]}\npages: {repository: Other/site}\n").domains[0]
    assert (inferred.owner, inferred.repository) == ("other", "other/site")
