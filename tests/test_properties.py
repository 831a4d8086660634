"""Property-based tests: arbitrary input never escapes as anything but the
project's own errors, and every valid artefact round-trips byte-identically."""

from __future__ import annotations

import string

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.config import loads
from generator.errors import ConfigError, ParseError
from generator.policy import MODES, Policy, parse_policy, parse_sts_record, render_policy, render_sts_record
from generator.tlsrpt import parse_tlsrpt_record, render_tlsrpt_record

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True).filter(lambda s: s[2:4] != "--")
tld = st.from_regex(r"[a-z]{2,10}", fullmatch=True)
domain = st.builds(lambda labels, top: ".".join([*labels, top]), st.lists(label, min_size=1, max_size=3), tld)
mx_pattern = st.one_of(domain, domain.map(lambda d: "*." + d))
policy = st.builds(
    Policy,
    mode=st.sampled_from(MODES),
    mx=st.lists(mx_pattern, min_size=1, max_size=8).map(tuple),
    max_age=st.integers(0, 31557600),
)
sts_id = st.from_regex(r"[A-Za-z0-9]{1,32}", fullmatch=True)
rua = st.one_of(
    st.builds(lambda local, d: f"mailto:{local}@{d}", st.from_regex(r"[a-z0-9_+-]{1,10}(\.[a-z0-9_+-]{1,10}){0,2}", fullmatch=True), domain),
    st.builds(lambda d, path: f"https://{d}/{path}", domain, st.from_regex(r"[a-z0-9/_-]{0,20}", fullmatch=True)),
)
# Text biased towards the characters that matter to these grammars.
grammar_text = st.text(alphabet=st.sampled_from(list(string.printable) + ["\x00", "\x85", "é", "\u2028", ";", "=", ":", "*"]), max_size=300)


@SETTINGS
@given(policy)
def test_policy_round_trips(p):
    body = render_policy(p)
    parsed = parse_policy(body)
    assert parsed.policy == p
    assert render_policy(parsed.policy) == body
    assert parsed.notes == ()


@SETTINGS
@given(sts_id)
def test_sts_record_round_trips(value):
    record = render_sts_record(value)
    parsed, notes = parse_sts_record(record)
    assert parsed.id == value and notes == ()
    assert render_sts_record(parsed.id) == record


@SETTINGS
@given(st.lists(rua, min_size=1, max_size=4))
def test_tlsrpt_record_round_trips(uris):
    record = render_tlsrpt_record(uris)
    parsed, notes = parse_tlsrpt_record(record)
    assert parsed.rua == tuple(uris) and notes == ()
    assert render_tlsrpt_record(parsed.rua) == record


@pytest.mark.parametrize("parse", [parse_policy, parse_sts_record, parse_tlsrpt_record], ids=["policy", "sts-record", "tlsrpt-record"])
@SETTINGS
@given(data=st.one_of(grammar_text, st.binary(max_size=300)))
def test_parsers_raise_only_their_own_error(parse, data):
    if isinstance(data, bytes) and parse is not parse_policy:
        data = data.decode("latin-1")  # the TXT parsers take joined text; the policy parser takes the served bytes too
    try:
        parse(data)
    except ParseError as exc:
        assert exc.findings


@SETTINGS
@given(grammar_text)
def test_config_loader_raises_only_config_error_on_text(text):
    try:
        loads(text)
    except ConfigError as exc:
        assert exc.issues and all(str(issue) for issue in exc.issues)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), grammar_text, domain, rua)
trees = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.one_of(grammar_text, st.sampled_from(["domain", "policy", "mx", "mode", "max_age", "id", "tlsrpt", "rua", "pages", "deploy", "owner", "domains", "defaults"])), inner, max_size=5)), max_leaves=20)
valid_config = st.fixed_dictionaries(
    {
        "domain": domain,
        "policy": st.fixed_dictionaries(
            {"mode": st.sampled_from(["enforce", "testing"]), "mx": st.lists(mx_pattern, min_size=1, max_size=3)},
            optional={"max_age": st.one_of(st.integers(0, 31557600), st.sampled_from(["1h", "1d", "1w", "52w"])), "id": st.one_of(st.just("auto"), sts_id)},
        ),
    },
    optional={"tlsrpt": st.fixed_dictionaries({"rua": st.lists(rua, min_size=1, max_size=2)}), "pages": st.fixed_dictionaries({}, optional={"deploy": st.sampled_from(["workflow", "branch"])})},
)


@SETTINGS
@given(trees)
def test_config_loader_raises_only_config_error_on_structures(tree):
    try:
        loads(yaml.safe_dump(tree, allow_unicode=True))
    except ConfigError as exc:
        assert exc.issues


@SETTINGS
@given(valid_config, st.data())
def test_valid_configs_load_and_any_one_change_stays_controlled(config, data):
    text = yaml.safe_dump(config, allow_unicode=True)
    loaded = loads(text)
    for d in loaded.domains:
        assert parse_policy(d.policy_bytes).policy == d.policy
    # Replace one leaf with arbitrary junk: still only our error, or a valid config.
    section = data.draw(st.sampled_from(sorted(k for k in config if isinstance(config[k], dict)) or ["domain"]))
    mutated = dict(config)
    if isinstance(config.get(section), dict) and config[section]:
        key = data.draw(st.sampled_from(sorted(config[section])))
        mutated[section] = {**config[section], key: data.draw(scalars)}
    else:
        mutated[section] = data.draw(scalars)
    try:
        loads(yaml.safe_dump(mutated, allow_unicode=True))
    except ConfigError as exc:
        assert exc.issues
