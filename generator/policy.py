"""The MTA-STS policy file and `_mta-sts` TXT record (RFC 8461 §3.1-3.2).

The policy's bytes are decided here and nowhere else: :func:`render_policy`
writes them, :func:`policy_id` derives the automatic id from them, and
:func:`parse_policy` reads them back the way ``validate`` and ``check`` do.
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

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


# A NamedTuple, not a frozen dataclass: Python 3.11 compiles each of a
# dataclass's methods from source when the module is imported, and every
# command's start-up imports this one (README, Performance).
class Policy(NamedTuple):
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
    senders ignore them)."""
    return f"v=STSv1; id={sts_id}"


class ParsedPolicy(NamedTuple):
    policy: Policy
    notes: tuple[Finding, ...]


# How many lines that are not policy lines (not 'key: value', or an unknown
# key) are reported one by one before the file is called no policy at all.
MAX_LINE_PROBLEMS = 5
_POLICY_KEYS = ("version", "mode", "max_age", "mx")


def _front_matter(lines: list[str]) -> int:
    """How many lines of Jekyll front matter open the text, 0 when none:
    a first line '---', up to a line '---' or '...' (as Jekyll reads it)."""
    if not lines or lines[0].rstrip() != "---":
        return 0
    for index, line in enumerate(lines[1:], start=2):
        if line.rstrip() in ("---", "..."):
            return index
    return 0


def _front_matter_finding(lines: int, repository_file: bool) -> Finding:
    if repository_file:
        return warning("policy-front-matter",
                       f"lines 1-{lines} are Jekyll front matter: GitHub Pages removes them when Jekyll builds the site, "
                       f"so senders and `check` then get the policy from line {lines + 1} on (checked below); served without "
                       "Jekyll (a .nojekyll file, or a workflow that uploads the files as they are) they reach senders, "
                       "and they are not policy lines",
                       "keep the front matter only where Jekyll builds the site (mta-sts-pages build writes the policy without it)")
    return error("policy-front-matter",
                 f"lines 1-{lines} are Jekyll front matter, served as they are (Jekyll did not build the site): "
                 "they are not policy lines (RFC 8461 §3.2), so a sender that follows the grammar rejects the policy",
                 "remove the front matter from the policy file, or let Jekyll build the site")


def _not_a_policy(first: str, problems: int, lines: int, cut: bool) -> Finding:
    shape = " (it looks like HTML)" if first.lstrip().startswith("<") else ""
    rest = f"; only the first {MAX_LINE_PROBLEMS} problems are listed" if cut else ""
    return error("policy-not-a-policy-file",
                 f"{problems} of {lines} lines are not policy lines: this is not an MTA-STS policy file{shape}{rest}",
                 "serve the policy file built by mta-sts-pages (version, mode, mx and max_age lines only)")


def parse_policy(data: bytes | str, *, repository_file: bool = False) -> ParsedPolicy:
    """Parse a policy file strictly (RFC 8461 §3.2), collecting every problem.

    Accepts LF as well as CRLF (the ABNF allows both; LF is noted as info).
    Unknown keys are ignored as the RFC requires, with a warning (they have
    no effect; often a typo). Jekyll front matter is one finding: a warning
    for a ``repository_file`` (Pages may strip it), an error in a served
    policy. Text that is mostly not policy lines ends the parse early with
    one ``policy-not-a-policy-file`` error. Raises :class:`ParseError`
    listing all findings when any is an error.
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
    skip = _front_matter(raw_lines)
    if skip:
        findings.append(_front_matter_finding(skip, repository_file))

    seen: dict[str, int] = {}
    values: dict[str, str] = {}
    mx: list[str] = []
    mx_lines = 0
    problems = 0  # lines that are not policy lines
    per_line: list[Finding] = []
    for number, line in enumerate(raw_lines[skip:], start=skip + 1):
        line = line[:-1] if line.endswith("\r") else line
        if "\r" in line:
            per_line.append(error("policy-syntax", f"line {number}: stray carriage return", "use CRLF or LF line ends only"))
            continue
        if not line.strip():
            per_line.append(warning("policy-blank-line", f"line {number}: blank line (the RFC grammar has none; some senders stop there)",
                                    "remove blank lines"))
            continue
        match = _KEY_LINE.match(line)
        if not match:
            problems += 1
            per_line.append(error("policy-syntax", f"line {number}: not a 'key: value' line: {line[:60]!r}",
                                  "each line must be 'key: value' starting at the first column"))
            continue
        key, value = match.groups()
        if key == "mx":
            mx_lines += 1
            if not value.isascii():
                # RFC 8461 §3.2: A-labels only; mox, for one, rejects U-labels.
                per_line.append(error("policy-mx-invalid", f"line {number}: mx {value!r} is not ASCII; senders need the A-label (xn--...)",
                                      "write internationalized names as A-labels, as mta-sts-pages build does"))
                continue
            try:
                mx.append(normalize_mx_pattern(value))
                if value != value.lower():
                    per_line.append(info("policy-mx-case", f"line {number}: mx {value!r} has capitals; senders compare names case-insensitively"))
            except InvalidName as exc:
                per_line.append(error("policy-mx-invalid", f"line {number}: mx {value!r} {exc}",
                                      "write each mx as a host name or '*.' and a parent domain"))
            continue
        if key not in _POLICY_KEYS:
            problems += 1
            per_line.append(warning("policy-unknown-key", f"line {number}: unknown key {key!r}; senders ignore it (RFC 8461 §3.2), so it has no effect",
                                    f"remove the {key!r} line, or correct the key if it is misspelt"))
            continue
        if key in seen:
            per_line.append(error(f"policy-{key.replace('_', '-')}-duplicate", f"line {number}: {key!r} appears again (first on line {seen[key]}); senders disagree on which one wins",
                                  f"keep one {key!r} line"))
            continue
        seen[key] = number
        values[key] = value

    policy_lines = mx_lines + len(seen)
    if (problems > MAX_LINE_PROBLEMS and problems > policy_lines) or (problems and not policy_lines):
        cut = len(per_line) > MAX_LINE_PROBLEMS
        raise ParseError(findings + per_line[:MAX_LINE_PROBLEMS] + [_not_a_policy(raw_lines[skip], problems, len(raw_lines) - skip, cut)])
    findings += per_line

    first = skip + 1
    if "version" not in values:
        findings.append(error("policy-version-missing", "no 'version: STSv1' line", "put 'version: STSv1' on the first line"))
    elif values["version"] != "STSv1":
        findings.append(error("policy-version-invalid", f"line {seen['version']}: version is {values['version']!r}, not 'STSv1'",
                              "write 'version: STSv1'"))
    elif seen["version"] != first:
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

    # An mx line that is there but invalid already has its own error.
    if not mx_lines and mode in ("enforce", "testing"):
        findings.append(error("policy-mx-missing", f"mode {mode} needs at least one 'mx' line", "add one 'mx:' line per MX host"))
    elif not mx_lines and mode == "none":
        findings.append(warning("policy-mx-missing", "mode none without 'mx' lines; Stalwart rejects such a policy",
                                "keep the mx lines when switching to mode none"))

    raise_if_errors(findings)
    return ParsedPolicy(Policy(mode=mode, mx=tuple(mx), max_age=age), tuple(findings))


class StsRecord(NamedTuple):
    id: str
    extensions: tuple[tuple[str, str], ...] = ()


def record_fields(text: str, version: str, prefix: str, fix: str) -> tuple[list[str], list[Finding]]:
    """The fields after the version tag of a `_mta-sts` or `_smtp._tls` TXT
    value (RFC 8461 §3.1 and RFC 8460 §3 share the shape: ``v=...`` first,
    fields split by ``;``, one trailing ``;`` allowed).

    A missing ``;`` after the tag (``v=STSv1 id=1``) is one error and the
    rest is still read; a record that does not begin with the tag raises
    :class:`ParseError` (``<prefix>-record-version``).
    """
    fields = [f.strip(" \t") for f in text.split(";")]
    if len(fields) > 1 and fields[-1] == "":
        fields.pop()  # one trailing delimiter is allowed
    head = fields[0]
    if head == version:
        return fields[1:], []
    glued = re.match(rf"{re.escape(version)}[ \t]+(\S.*)\Z", head)
    if glued:
        rest = glued.group(1)
        return [rest, *fields[1:]], [error(f"{prefix}-record-syntax",
                                           f"'{version}' and {rest[:40]!r} need a ';' between them; without it the version field "
                                           f"is {head[:60]!r}, which RFC 8461 §3.1 and RFC 8460 §3 do not allow, so a sender that follows them ignores the record",
                                           fix)]
    if head.lower() == version.lower():
        message = f"the record begins with {head[:20]!r}; the version is case-sensitive: '{version}'"
    else:
        message = f"the record does not begin with '{version}': {text[:60]!r}"
    raise ParseError([error(f"{prefix}-record-version", message, fix)])


def _placeholder(value: str) -> str:
    return " (it looks like a placeholder left from an example)" if re.search(r"[\s{}<>\[\]]", value) else ""


def parse_sts_record(text: str) -> tuple[StsRecord, tuple[Finding, ...]]:
    """Parse one `_mta-sts` TXT value (its strings already joined).

    Follows the ABNF of RFC 8461 §3.1: ``v=STSv1`` first and case-sensitive,
    ``id`` of 1-32 letters and digits, extensions ``name=value``. Raises
    :class:`ParseError` with every problem.
    """
    fields, findings = record_fields(text, "v=STSv1", "sts", "publish exactly 'v=STSv1; id=<id>'")
    ids: list[str] = []
    extensions: list[tuple[str, str]] = []
    for field in fields:
        name, sep, value = field.partition("=")
        if name == "id" and sep:
            if not ID_RE.match(value):
                detail = f"id {value!r} is not 1-32 letters and digits{_placeholder(value)}" if value else "the id is empty; it must be 1-32 letters and digits"
                findings.append(error("sts-id-invalid", detail,
                                      "use an id of letters and digits only, e.g. the one `mta-sts-pages records` prints"))
            ids.append(value)
        elif not sep or not EXT_NAME.match(name) or not EXT_VALUE.match(value):
            findings.append(error("sts-record-syntax", f"field {field[:40]!r} is not 'name=value'", "publish exactly 'v=STSv1; id=<id>'"))
        elif name == "v":
            findings.append(error("sts-record-syntax", "'v=' appears twice", "publish exactly 'v=STSv1; id=<id>'"))
        else:
            extensions.append((name, value))
            findings.append(warning("sts-record-extension", f"extension field {name!r}: senders ignore fields they do not know (RFC 8461 §3.1)",
                                    "publish exactly 'v=STSv1; id=<id>'"))
    if not ids:
        findings.append(error("sts-id-missing", "the record has no 'id=' field", "publish 'v=STSv1; id=<id>'"))
    elif len(ids) > 1:
        findings.append(error("sts-record-syntax", "'id=' appears more than once", "keep one id field"))
    raise_if_errors(findings)
    return StsRecord(ids[0], tuple(extensions)), tuple(findings)
