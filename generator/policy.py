"""The MTA-STS policy file and `_mta-sts` TXT record (RFC 8461 §3.1-3.2).

The policy's bytes are decided here and nowhere else: :func:`render_policy`
writes them, :func:`policy_id` derives the automatic id from them, and
:func:`parse_policy` reads them back the way ``validate`` and ``check`` do.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from generator.errors import ParseError
from generator.findings import Finding, error, info, raise_if_errors, warning
from generator.names import InvalidName, normalize_mx_pattern

MODES = ("enforce", "testing", "none")
MAX_AGE_LIMIT = 31557600  # RFC 8461 §3.2: at most one year
MAX_POLICY_BYTES = 64 * 1024  # RFC 8461 §3.3 suggested maximum; senders stop reading there
ID_RE = re.compile(r"[A-Za-z0-9]{1,32}\Z")

# The extension field grammar that RFC 8461 §3.1 and RFC 8460 §3 share:
# name (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / "."), value any VCHAR
# but "=" and ";".
EXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}\Z")
EXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+\Z")
_KEY_LINE = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]{0,31}):[ \t]*(.*?)[ \t]*\Z")


@dataclass(frozen=True)
class Policy:
    """A policy as senders see it. ``mx`` keeps the order the user gave."""

    mode: str
    mx: tuple[str, ...]
    max_age: int


def render_policy(policy: Policy) -> bytes:
    """The policy file: CRLF line ends, keys in RFC order, version first."""
    lines = ["version: STSv1", f"mode: {policy.mode}"]
    lines += [f"mx: {pattern}" for pattern in policy.mx]
    lines.append(f"max_age: {policy.max_age}")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def policy_id(policy_bytes: bytes) -> str:
    """The automatic id: the same bytes give the same id, any change a new one.

    20 hex digits of SHA-256 fit the id grammar (1-32 ALPHA/DIGIT) with room
    to spare and make an accidental repeat practically impossible.
    """
    return hashlib.sha256(policy_bytes).hexdigest()[:20]


def render_sts_record(sts_id: str) -> str:
    """The `_mta-sts` TXT value, exactly ``v=STSv1; id=<id>`` (no extensions:
    checkdmarc rejects them)."""
    return f"v=STSv1; id={sts_id}"


@dataclass(frozen=True)
class ParsedPolicy:
    policy: Policy
    notes: tuple[Finding, ...]


def parse_policy(data: bytes | str) -> ParsedPolicy:
    """Parse a policy file strictly (RFC 8461 §3.2), collecting every problem.

    Accepts LF as well as CRLF (the ABNF allows both; LF is noted as info).
    Unknown keys are ignored as the RFC requires, with a warning because
    checkdmarc treats them as errors. Raises :class:`ParseError` listing all
    findings when any is an error.
    """
    findings: list[Finding] = []
    if isinstance(data, bytes):
        if len(data) > MAX_POLICY_BYTES:
            findings.append(error("policy-too-large", f"the policy is {len(data)} bytes; senders read at most {MAX_POLICY_BYTES}",
                                  "shorten the mx list, for example with a wildcard pattern"))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError([error("policy-encoding", f"the policy is not UTF-8 text (byte {exc.start})",
                                    "save the policy as plain ASCII text")]) from None
    else:
        text = data
    if not text.strip():
        raise ParseError([error("policy-empty", "the policy is empty", "serve the policy file built by mta-sts-pages")])

    if text.count("\n") > text.count("\r\n"):
        findings.append(info("policy-lf-line-endings", "the policy uses LF line ends; RFC 8461 writes CRLF (every known sender accepts both)",
                             "rebuild with mta-sts-pages, which writes CRLF"))
    # The final line terminator is optional (RFC 8461 erratum 6253).
    raw_lines = (text[:-1] if text.endswith("\n") else text).split("\n")

    seen: dict[str, int] = {}
    values: dict[str, str] = {}
    mx: list[str] = []
    for number, line in enumerate(raw_lines, start=1):
        line = line[:-1] if line.endswith("\r") else line
        if "\r" in line:
            findings.append(error("policy-syntax", f"line {number}: stray carriage return", "use CRLF or LF line ends only"))
            continue
        if not line.strip():
            findings.append(warning("policy-blank-line", f"line {number}: blank line (the RFC grammar has none; some senders stop there)",
                                    "remove blank lines"))
            continue
        match = _KEY_LINE.match(line)
        if not match:
            findings.append(error("policy-syntax", f"line {number}: not a 'key: value' line: {line[:60]!r}",
                                  "each line must be 'key: value' starting at the first column"))
            continue
        key, value = match.groups()
        if key == "mx":
            if not value.isascii():
                # RFC 8461 §3.2: A-labels only; mox, for one, rejects U-labels.
                findings.append(error("policy-mx-invalid", f"line {number}: mx {value!r} is not ASCII; senders need the A-label (xn--...)",
                                      "write internationalized names as A-labels, as mta-sts-pages build does"))
                continue
            try:
                mx.append(normalize_mx_pattern(value))
                if value != value.lower():
                    findings.append(info("policy-mx-case", f"line {number}: mx {value!r} has capitals; senders compare names case-insensitively"))
            except InvalidName as exc:
                findings.append(error("policy-mx-invalid", f"line {number}: mx {value!r} {exc}",
                                      "write each mx as a host name or '*.' and a parent domain"))
            continue
        if key not in ("version", "mode", "max_age"):
            findings.append(warning("policy-unknown-key", f"line {number}: unknown key {key!r} is ignored by senders (checkdmarc rejects it)",
                                    f"remove the {key!r} line"))
            continue
        if key in seen:
            findings.append(error(f"policy-{key.replace('_', '-')}-duplicate", f"line {number}: {key!r} appears again (first on line {seen[key]}); senders disagree on which one wins",
                                  f"keep one {key!r} line"))
            continue
        seen[key] = number
        values[key] = value

    if "version" not in values:
        findings.append(error("policy-version-missing", "no 'version: STSv1' line", "put 'version: STSv1' on the first line"))
    elif values["version"] != "STSv1":
        findings.append(error("policy-version-invalid", f"line {seen['version']}: version is {values['version']!r}, not 'STSv1'",
                              "write 'version: STSv1'"))
    elif seen["version"] != 1:
        findings.append(warning("policy-version-not-first", f"'version' is on line {seen['version']}, not the first line",
                                "move 'version: STSv1' to the first line (Google and others expect it there)"))

    mode = values.get("mode")
    if mode is None:
        findings.append(error("policy-mode-missing", "no 'mode' line", "add 'mode: testing' (or enforce / none)"))
    elif mode not in MODES:
        findings.append(error("policy-mode-invalid", f"line {seen['mode']}: mode {mode!r} is not enforce, testing or none",
                              "write 'mode: testing', 'mode: enforce' or 'mode: none'"))

    max_age = values.get("max_age")
    age = None
    if max_age is None:
        findings.append(error("policy-max-age-missing", "no 'max_age' line", "add 'max_age: 604800' (one week)"))
    elif not re.fullmatch(r"[0-9]{1,10}", max_age) or int(max_age) > MAX_AGE_LIMIT:
        findings.append(error("policy-max-age-invalid", f"line {seen['max_age']}: max_age {max_age!r} is not a whole number of seconds from 0 to {MAX_AGE_LIMIT}",
                              "write max_age in seconds, e.g. 604800 for a week"))
    else:
        age = int(max_age)

    if not mx and mode in ("enforce", "testing"):
        findings.append(error("policy-mx-missing", f"mode {mode} needs at least one 'mx' line", "add one 'mx:' line per MX host"))
    elif not mx and mode == "none":
        findings.append(warning("policy-mx-missing", "mode none without 'mx' lines; Stalwart rejects such a policy",
                                "keep the mx lines when switching to mode none"))

    raise_if_errors(findings)
    return ParsedPolicy(Policy(mode=mode, mx=tuple(mx), max_age=age), tuple(findings))


@dataclass(frozen=True)
class StsRecord:
    id: str
    extensions: tuple[tuple[str, str], ...] = ()


def parse_sts_record(text: str) -> tuple[StsRecord, tuple[Finding, ...]]:
    """Parse one `_mta-sts` TXT value (its strings already joined).

    Follows the ABNF of RFC 8461 §3.1: ``v=STSv1`` first and case-sensitive,
    ``id`` of 1-32 letters and digits, extensions ``name=value``. Raises
    :class:`ParseError` with every problem.
    """
    findings: list[Finding] = []
    fields = [f.strip(" \t") for f in text.split(";")]
    if fields and fields[-1] == "" and len(fields) > 1:
        fields.pop()  # one trailing delimiter is allowed
    if not fields or fields[0] != "v=STSv1":
        raise ParseError([error("sts-record-version", f"the record does not begin with 'v=STSv1': {text[:60]!r}",
                                "publish exactly 'v=STSv1; id=<id>'")])
    ids: list[str] = []
    extensions: list[tuple[str, str]] = []
    for field in fields[1:]:
        name, sep, value = field.partition("=")
        if not sep or not EXT_NAME.match(name) or not EXT_VALUE.match(value):
            findings.append(error("sts-record-syntax", f"field {field[:40]!r} is not 'name=value'", "publish exactly 'v=STSv1; id=<id>'"))
        elif name == "id":
            if not ID_RE.match(value):
                findings.append(error("sts-id-invalid", f"id {value!r} is not 1-32 letters and digits",
                                      "use an id of letters and digits only, e.g. the one `mta-sts-pages records` prints"))
            ids.append(value)
        elif name == "v":
            findings.append(error("sts-record-syntax", "'v=' appears twice", "publish exactly 'v=STSv1; id=<id>'"))
        else:
            extensions.append((name, value))
            findings.append(warning("sts-record-extension", f"extension field {name!r}: senders ignore it but checkdmarc rejects the record",
                                    "publish exactly 'v=STSv1; id=<id>'"))
    if not ids:
        findings.append(error("sts-id-missing", "the record has no 'id=' field", "publish 'v=STSv1; id=<id>'"))
    elif len(ids) > 1:
        findings.append(error("sts-record-syntax", "'id=' appears more than once", "keep one id field"))
    raise_if_errors(findings)
    return StsRecord(ids[0], tuple(extensions)), tuple(findings)
