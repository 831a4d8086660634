"""`reports` against what a hostile sender or an odd mailbox holds: every
input ends as a summary line or an `errors` entry, never a traceback, a hang
or text that acts on the terminal; the totals match an independent sum."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import mailbox
import os
import shutil
import tempfile
import threading
from collections import Counter, defaultdict
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.cli import run_cli
from tests.test_reports import EML_FILES, FIXTURES, reports_json

GOOGLE = json.loads((FIXTURES / "dmarc-report-viewer__google.json").read_text())


def _doc(**changes) -> dict:
    """The real Google report with top-level fields replaced."""
    doc = json.loads(json.dumps(GOOGLE))
    doc.update(changes)
    return doc


def test_a_report_from_year_1_is_shown_in_rfc_3339(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps(_doc(**{"date-range": {"start-datetime": "0001-01-01T00:00:00Z", "end-datetime": "0001-01-01T23:59:59Z"}})))
    code, document = reports_json(path)
    assert code == 0, document["errors"]
    assert document["domains"][0]["period"] == {"start": "0001-01-01T00:00:00Z", "end": "0001-01-01T23:59:59Z"}
    assert "foo-bar.io: 1 report, 0001-01-01T00:00:00Z to 0001-01-01T23:59:59Z" in run_cli("reports", path).out


@pytest.mark.timeout(30)
def test_a_pipe_in_a_folder_is_skipped_not_waited_on(tmp_path):
    """A FIFO inside a scanned folder would block the read for ever; one
    named on the command line (a shell's <(zcat ...)) is read."""
    folder = tmp_path / "Maildir"
    folder.mkdir()
    os.mkfifo(folder / "pipe.json")
    shutil.copy(FIXTURES / "parsedmarc__smtp_tls.json", folder)
    code, document = reports_json(folder)
    assert (code, document["reports"], document["skipped"], document["errors"]) == (0, 1, 1, [])
    named = tmp_path / "named.json"
    os.mkfifo(named)
    writer = threading.Thread(target=lambda: named.write_bytes((FIXTURES / "dmarc-report-viewer__google.json").read_bytes()))
    writer.start()
    code, document = reports_json(named)
    writer.join()
    assert (code, document["reports"]) == (0, 1), document["errors"]


def test_a_symlink_loop_is_named_with_the_reason(tmp_path):
    (tmp_path / "a.json").symlink_to(tmp_path / "b.json")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    code, document = reports_json(tmp_path / "a.json", tmp_path)
    assert code == 1
    assert document["errors"][0] == {"source": str(tmp_path / "a.json"), "message": "cannot read it: Too many levels of symbolic links"}
    assert len(document["errors"]) == 3 and "Traceback" not in run_cli("reports", tmp_path).output


def test_a_folder_that_cannot_be_listed_is_an_error_not_silence(tmp_path):
    """os.walk skips a folder it cannot list (no permission, a path over
    PATH_MAX) without a word; the reports in it must not vanish unsaid.
    Tests run as root, so the folder is made unlistable by its path's length."""
    shutil.copy(FIXTURES / "parsedmarc__smtp_tls.json", tmp_path)
    folder = os.open(tmp_path, os.O_RDONLY)
    for level in range(18):  # 18 names of 242 bytes: over Linux's 4,096-byte PATH_MAX
        name = f"{level:02d}" + "d" * 240
        os.mkdir(name, dir_fd=folder)
        inner = os.open(name, os.O_RDONLY, dir_fd=folder)
        os.close(folder)
        folder = inner
    os.close(folder)
    code, document = reports_json(tmp_path)
    assert (code, document["reports"]) == (1, 1)
    [error] = document["errors"]
    assert error["source"].startswith(str(tmp_path)) and error["message"] == "cannot read the folder: File name too long", error


# Anyone can mail a report to a rua address. What a terminal would act on:
# a carriage return that overwrites the line, C1 CSI (0x9b) that clears the
# screen, an OSC sequence that sets the window title, a bell.
LIE = "\r\x9b2Jexample.com: ready to enforce\x1b]0;pwned\x07"


def _all_printable(text: str) -> bool:
    return all(ch.isprintable() or ch == "\n" for ch in text)


def test_what_a_sender_wrote_reaches_the_terminal_escaped_and_json_unchanged(tmp_path):
    day = dt.date.today() - dt.timedelta(days=2)  # inside promote's window, which ends now
    doc = _doc(**{"organization-name": f"Evil{LIE}", "report-id": "evil-1",
                  "date-range": {"start-datetime": f"{day}T00:00:00Z", "end-datetime": f"{day}T23:59:59Z"}})
    policy = doc["policies"][0]
    policy["policy"]["policy-domain"] = "example.com"
    policy["summary"]["total-failure-session-count"] = 2
    policy["failure-details"] = [{"result-type": "certificate-expired", "receiving-mx-hostname": f"mx1.example.com{LIE}", "failed-session-count": 2,
                                  "sending-mta-ip": f"192.0.2.1{LIE}", "receiving-ip": f"::1{LIE}"},
                                 {"result-type": f"starttls-not-supported{LIE}", "failed-session-count": 1}]
    (tmp_path / "evil.json").write_text(json.dumps(doc))
    (tmp_path / f"bad{LIE}.json").write_text('{"report-id": "x"}')
    config = tmp_path / "mta-sts.yml"
    config.write_text("domain: example.com\npolicy:\n  mode: testing\n  mx: [mx1.example.com]\n")
    for args in ([], ["--ready", "-c", config], ["--format", "markdown"]):
        shown = run_cli("reports", tmp_path, *args)
        assert shown.code == 1 and "Evil" in shown.out
        # Markdown keeps the word joiners generator.markdown puts where GitHub would make a link.
        assert _all_printable(shown.output.replace("\u2060", "")), repr(shown.output)
        # Markdown shows the characters as \uXXXX (generator.markdown), the terminal as \xNN.
        escaped = "\\u009b2Jexample.com: ready to enforce" if "markdown" in args else "\\x9b2Jexample.com: ready to enforce\\x1b]0;pwned\\x07"
        assert escaped in shown.out, shown.out
    promoted = run_cli("promote", "-c", config, tmp_path)
    assert promoted.code == 1 and "failed with certificate-expired, and the policy does not list mx1.example.com\\x0d" in promoted.out
    assert _all_printable(promoted.output), repr(promoted.output)
    code, document = reports_json(tmp_path)
    assert document["domains"][0]["organisations"] == [f"Evil{LIE}"]
    assert document["domains"][0]["failures"][0]["receiving_mx_hostname"] == f"mx1.example.com{LIE}".lower()
    assert (document["domains"][0]["failures"][0]["sending_mta_ips"], document["domains"][0]["failures"][0]["receiving_ips"]) == (
        [f"192.0.2.1{LIE}"], [f"::1{LIE}"])
    assert document["errors"][0]["source"] == str(tmp_path / f"bad{LIE}.json")


def test_one_report_id_from_two_organisations_is_two_reports(tmp_path):
    """Google's ids are predictable ("<day>T00:00:00Z_<domain>"): another
    sender may use the same one, and must not make Google's report vanish."""
    (tmp_path / "google.json").write_text(json.dumps(_doc()))
    (tmp_path / "other.json").write_text(json.dumps(_doc(**{"organization-name": "Other Mail Ltd"})))
    code, document = reports_json(tmp_path)
    assert (code, document["reports"], document["duplicates"], document["errors"]) == (0, 2, 0, [])
    [entry] = document["domains"]
    assert (entry["reports"], entry["successful_sessions"], entry["organisations"]) == (2, 2, ["Google Inc.", "Other Mail Ltd"])


def test_one_report_id_with_other_contents_is_an_error_and_the_first_counts(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(_doc()))
    forged = _doc()
    forged["policies"][0]["summary"]["total-successful-session-count"] = 999
    (tmp_path / "b.json").write_text(json.dumps(forged))
    (tmp_path / "c.json").write_text(json.dumps(_doc()))
    code, document = reports_json(tmp_path)
    assert (code, document["reports"], document["duplicates"]) == (1, 1, 2)
    assert document["domains"][0]["successful_sessions"] == 1
    assert document["errors"] == [{"source": str(tmp_path / "b.json"), "message":
                                   f"report-id {GOOGLE['report-id']} of Google Inc. was read before from {tmp_path / 'a.json'} "
                                   "with other contents; only that one is counted"}]


# --- the totals against an independent sum of random reports -----------------

_TYPES = ["certificate-expired", "Validation-Failure", "sts-policy-fetch-error", "tlsa-invalid", "made-up-type"]
_count = st.integers(0, 10**6)
_detail = st.fixed_dictionaries(
    {"result-type": st.sampled_from(_TYPES), "failed-session-count": _count},
    optional={"receiving-mx-hostname": st.sampled_from(["mx1.example.com", "MX1.Example.COM.", "mx2.example.net"])},
)
_policy = st.fixed_dictionaries({
    "policy": st.fixed_dictionaries({"policy-type": st.sampled_from(["sts", "STS", "no-policy-found", "tlsa"]),
                                     "policy-domain": st.sampled_from(["example.com", "Example.COM.", "example.org", " example.net "])}),
    "summary": st.fixed_dictionaries({"total-successful-session-count": _count, "total-failure-session-count": _count}),
    "failure-details": st.lists(_detail, max_size=3),
})
_report = st.fixed_dictionaries({
    "organization-name": st.sampled_from(["Google Inc.", "Microsoft Corporation", "Mail.ru"]),
    "report-id": st.sampled_from(["r1", "r2", "r3", "2026-11-01T00:00:00Z_example.com"]),
    "date-range": st.sampled_from([{"start-datetime": f"2026-11-0{d}T00:00:00Z", "end-datetime": f"2026-11-0{d}T23:59:59Z"} for d in range(1, 4)]),
    "policies": st.lists(_policy, min_size=1, max_size=3),
})
# How a count is written: RFC 8460 says a number; some senders write a string.
_spelling = st.sampled_from([int, str, float])


def _respelled(doc: dict, spell) -> dict:
    doc = json.loads(json.dumps(doc))
    for policy in doc["policies"]:
        summary = policy["summary"]
        for key in summary:
            summary[key] = spell(summary[key])
        for detail in policy["failure-details"]:
            detail["failed-session-count"] = spell(detail["failed-session-count"])
    return doc


def _meaning(doc: dict) -> tuple:
    """What a report says, written without the code under test."""
    def host(detail):
        name = detail.get("receiving-mx-hostname")
        return name.strip().rstrip(".").lower() if name else None
    return tuple(
        (p["policy"]["policy-type"].lower(), p["policy"]["policy-domain"].strip().rstrip(".").lower(),
         int(p["summary"]["total-successful-session-count"]), int(p["summary"]["total-failure-session-count"]),
         tuple((d["result-type"].lower(), host(d), int(d["failed-session-count"])) for d in p["failure-details"]))
        for p in doc["policies"]
    ) + (doc["date-range"]["start-datetime"],)


def _oracle(docs: list[dict]) -> tuple[dict, int, int]:
    """Per domain: sessions, distinct (organisation, report-id), failures; and
    how many duplicates, and how many of them said something else."""
    first: dict[tuple, tuple] = {}
    duplicates = conflicts = 0
    sums: dict[str, dict] = defaultdict(lambda: {"ok": 0, "failed": 0, "keys": set(), "failures": Counter()})
    for doc in docs:
        key = (doc["organization-name"], doc["report-id"])
        if key in first:
            duplicates += 1
            conflicts += first[key] != _meaning(doc)
            continue
        first[key] = _meaning(doc)
        for policy_type, domain, ok, failed, details in _meaning(doc)[:-1]:
            sums[domain]["ok"] += ok
            sums[domain]["failed"] += failed
            sums[domain]["keys"].add(key)
            for result_type, host, sessions in details:
                sums[domain]["failures"][(result_type, host)] += sessions
    return sums, duplicates, conflicts


def _write(folder: Path, index: int, doc: dict, container: str) -> None:
    data = json.dumps(doc).encode()
    if container == "json":
        (folder / f"{index:03d}.json").write_bytes(data)
    elif container == "gzip":
        (folder / f"{index:03d}.json.gz").write_bytes(gzip.compress(data))
    else:
        message = EmailMessage()
        message["From"], message["Subject"] = "noreply-smtp-tls-reporting@google.com", "Report"
        message.set_content("This is an aggregate TLS report.")
        message.add_attachment(gzip.compress(data), maintype="application", subtype="tlsrpt+gzip", filename="report.json.gz")
        (folder / f"{index:03d}.eml").write_bytes(message.as_bytes())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_report, _spelling, st.sampled_from(["json", "gzip", "mail"])), min_size=1, max_size=8))
def test_totals_of_random_reports_in_any_container_are_their_plain_sums(drawn):
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for index, (doc, spell, container) in enumerate(drawn):
            _write(folder, index, _respelled(doc, spell), container)
        code, document = reports_json(folder)
    sums, duplicates, conflicts = _oracle([doc for doc, _, _ in drawn])
    assert (document["reports"], document["duplicates"], len(document["errors"])) == (len({k for s in sums.values() for k in s["keys"]}), duplicates, conflicts)
    assert code == (1 if conflicts else 0)
    assert {d["domain"] for d in document["domains"]} == set(sums)
    for entry in document["domains"]:
        expected = sums[entry["domain"]]
        assert (entry["successful_sessions"], entry["failed_sessions"], entry["reports"]) == (expected["ok"], expected["failed"], len(expected["keys"]))
        assert {(f["result_type"], f["receiving_mx_hostname"]): f["sessions"] for f in entry["failures"]} == {k: v for k, v in expected["failures"].items()}
        assert sum(day["successful_sessions"] for day in entry["days"]) == expected["ok"]
        assert sum(sender["failed_sessions"] for sender in entry["senders"]) == expected["failed"]
        assert sum(kind["successful_sessions"] for kind in entry["policy_types"]) == expected["ok"]


@pytest.mark.timeout(30)
def test_an_mbox_from_a_pipe_is_read(tmp_path):
    """`reports <(zcat archive.mbox.gz)`: the mbox comes through a pipe, which
    can be read once and not seeked."""
    box = mailbox.mbox(tmp_path / "archive.mbox")
    for path in EML_FILES[:3]:
        box.add(path.read_bytes())
    box.flush()
    box.close()
    expected = reports_json(tmp_path / "archive.mbox")
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    writer = threading.Thread(target=lambda: pipe.write_bytes((tmp_path / "archive.mbox").read_bytes()))
    writer.start()
    result = run_cli("reports", pipe, "--json")
    writer.join()
    assert result.code == 0 and "Traceback" not in result.output, result.output
    assert json.loads(result.out)["domains"] == expected[1]["domains"] and expected[1]["reports"] == 3


def test_domain_accepts_the_name_as_people_write_it(tmp_path):
    """Reports and configs hold A-labels; --domain bücher.example is the same domain."""
    (tmp_path / "report.json").write_text(json.dumps(_doc()).replace('"foo-bar.io"', '"xn--bcher-kva.example"'))
    code, document = reports_json(tmp_path / "report.json", "--domain", "Bücher.Example.")
    assert (code, [d["domain"] for d in document["domains"]]) == (0, ["xn--bcher-kva.example"])
    config = tmp_path / "mta-sts.yml"
    config.write_text("domain: bücher.example\npolicy:\n  mode: testing\n  mx: [mx1.bücher.example]\n")
    ready = run_cli("reports", tmp_path / "report.json", "--ready", "-c", config, "--domain", "bücher.example")
    assert ready.code == 1 and "xn--bcher-kva.example: not ready to enforce" in ready.out, ready.output


def test_a_report_saved_with_a_byte_order_mark_is_read(tmp_path):
    """Windows tools save JSON with a UTF-8 BOM; in a folder it was skipped unsaid."""
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf\r\n" + (FIXTURES / "parsedmarc__smtp_tls.json").read_bytes())
    for source in (tmp_path / "bom.json", tmp_path):
        code, document = reports_json(source)
        assert (code, document["reports"], document["skipped"], document["errors"]) == (0, 1, 0, [])


def test_markdown_for_a_job_summary_shows_what_a_sender_wrote_as_text(tmp_path):
    """In a rendered job summary "<!--" from one sender would hide every row
    after it (other senders' failures included), "<img>" would load an image."""
    doc = _doc(**{"organization-name": "<!-- hide the rest", "report-id": "html-1"})
    policy = doc["policies"][0]
    policy["policy"]["policy-domain"] = "<b>example.com</b>"
    policy["summary"]["total-failure-session-count"] = 1
    policy["failure-details"] = [{"result-type": "certificate-expired", "receiving-mx-hostname": "<img src=https://evil.example/x>",
                                  "failed-session-count": 1}]
    (tmp_path / "html.json").write_text(json.dumps(doc))
    shown = run_cli("reports", tmp_path, "--format", "markdown")
    # Inside a code span (the advice's command) GitHub shows HTML as text.
    outside_code = shown.out.replace("`mta-sts-pages check <b>example.com</b> --smtp`", "")
    assert "<" not in outside_code and ">" not in outside_code, shown.out
    assert "`mta-sts-pages check <b>example.com</b> --smtp`" in shown.out
    assert "&lt;!-- hide the rest" in shown.out and "### &lt;b&gt;example.com&lt;/b&gt;" in shown.out


def test_markdown_for_a_job_summary_makes_no_link_of_what_a_sender_wrote(tmp_path):
    """A sender's name (or a host name it reports) written as a Markdown link
    or code span stays plain text in a job summary."""
    doc = _doc(**{"organization-name": "[click me](https://evil.example/x)", "report-id": "link-1"})
    policy = doc["policies"][0]
    policy["summary"]["total-failure-session-count"] = 1
    policy["failure-details"] = [{"result-type": "certificate-`expired", "receiving-mx-hostname": "*mx1*.example.com",
                                  "failed-session-count": 1}]
    (tmp_path / "link.json").write_text(json.dumps(doc))
    shown = run_cli("reports", tmp_path, "--format", "markdown")
    assert "[click me](" not in shown.out and "\\[click me\\](https:\u2060//evil.example/x)" in shown.out, shown.out
    assert "\\*mx1\\*.example.com" in shown.out and "`` certificate-`expired ``" in shown.out, shown.out


DMARC_XML = b'<?xml version="1.0" encoding="UTF-8" ?>\n<feedback><report_metadata><org_name>google.com</org_name></report_metadata></feedback>\n'


def test_dmarc_reports_saved_beside_tls_reports_are_skipped(tmp_path):
    """DMARC and TLS-RPT often share a mailbox, and saved attachments a folder:
    a gzipped DMARC report there is not a TLS report gone wrong."""
    dmarc = tmp_path / "google.com!example.com!1704758400!1704844799.xml.gz"
    dmarc.write_bytes(gzip.compress(DMARC_XML))
    shutil.copy(FIXTURES / "parsedmarc__smtp_tls.json", tmp_path)
    code, document = reports_json(tmp_path)
    assert (code, document["reports"], document["skipped"], document["errors"]) == (0, 1, 1, [])
    code, document = reports_json(dmarc)
    assert code == 1 and document["errors"] == [{"source": str(dmarc), "message": "not a TLS report: gzipped XML (a DMARC aggregate report?)"}]


def test_a_broken_dmarc_report_is_skipped_and_a_broken_tls_report_is_an_error(tmp_path):
    """gzip broken past its first bytes: XML there is still DMARC's, while
    JSON there is a TLS report that cannot be read."""
    def broken(text: bytes) -> bytes:
        data = bytearray(gzip.compress(text, mtime=0))
        data[-8] ^= 1  # the CRC-32 at the end: zlib fails once all is inflated
        return bytes(data)

    (tmp_path / "a.xml.gz").write_bytes(broken(DMARC_XML))
    (tmp_path / "b.json.gz").write_bytes(broken(b'{"report-id": "x", "policies": []}'))
    code, document = reports_json(tmp_path)
    assert (code, document["skipped"]) == (1, 1)
    assert [e["source"] for e in document["errors"]] == [str(tmp_path / "b.json.gz")]
    assert document["errors"][0]["message"].startswith("broken gzip data")


def test_a_linked_folder_inside_a_folder_is_read_once_and_a_loop_ends(tmp_path):
    """Archives are often folders of links to where mail is kept; a link back
    up the tree must not make the walk endless, nor count a report twice."""
    kept = tmp_path / "kept"
    kept.mkdir()
    shutil.copy(FIXTURES / "parsedmarc__smtp_tls.json", kept)
    scanned = tmp_path / "scanned"
    scanned.mkdir()
    (scanned / "2024").symlink_to(kept)
    (scanned / "loop").symlink_to(scanned)
    (kept / "up").symlink_to(tmp_path)
    code, document = reports_json(scanned)
    assert (code, document["reports"], document["duplicates"], document["errors"]) == (0, 1, 0, [])


def _report_mail(attachment: bytes, content_type: str = "application/tlsrpt+gzip", headers: str = "") -> bytes:
    message = EmailMessage()
    message["From"], message["Subject"] = "noreply-smtp-tls-reporting@google.com", "Report Domain: example.com"
    message.set_content("This is an aggregate TLS report.")
    maintype, subtype = content_type.split("/")
    message.add_attachment(attachment, maintype=maintype, subtype=subtype)
    return message.as_bytes()


@pytest.mark.timeout(30)
def test_a_gzip_bomb_of_tiny_json_containers_is_stopped_while_inflating(tmp_path):
    # 32 KB of gzip, 32 MiB of [[],[],...]: 900 MB once parsed, were it parsed.
    bomb = gzip.compress(b"[" + b"[]," * (11 * 1024 * 1024) + b"[]]", 9)
    assert len(bomb) < 64 * 1024
    (tmp_path / "bomb.json.gz").write_bytes(bomb)
    (tmp_path / "bomb.eml").write_bytes(_report_mail(bomb))
    (tmp_path / "plain.json").write_bytes(b"[" + b"[]," * (2 * 1024 * 1024) + b"[]]")
    (tmp_path / "good.json").write_text(json.dumps(GOOGLE))
    code, document = reports_json(tmp_path)
    assert code == 1 and document["reports"] == 1
    messages = {Path(e["source"].split(" ")[0]).name: e["message"] for e in document["errors"]}
    assert messages == {"bomb.json.gz": "the report unpacks to more than 4 MiB, more than any real report",
                        "bomb.eml": "the report unpacks to more than 4 MiB, more than any real report",
                        "plain.json": "larger than 4 MiB, more than any real report"}, messages


def test_the_largest_report_a_busy_domain_sends_is_read(tmp_path):
    # A thousand failure details (one per sending address) is some 300 KiB.
    doc = _doc()
    policy = doc["policies"][0]
    policy["failure-details"] = [{"result-type": "certificate-expired", "sending-mta-ip": f"2001:db8::{n:x}",
                                  "receiving-mx-hostname": "mx.foo-bar.io", "receiving-ip": "192.0.2.25",
                                  "failed-session-count": 1, "failure-reason-code": "X509_V_ERR_CERT_HAS_EXPIRED " * 4}
                                 for n in range(3000)]
    policy["summary"]["total-failure-session-count"] = 3000
    data = json.dumps(doc, indent=2).encode()
    assert 1024 * 1024 < len(data) < 4 * 1024 * 1024
    (tmp_path / "big.json.gz").write_bytes(gzip.compress(data))
    code, document = reports_json(tmp_path / "big.json.gz")
    assert document["errors"] == [] and document["domains"][0]["failed_sessions"] == 3000


@pytest.mark.timeout(30)
def test_an_e_mail_of_parts_with_thousands_of_header_parameters_is_refused_at_once(tmp_path):
    """1.6 MB of MIME parts whose Content-Type carries 9,000 parameters each
    took the email package 40 s; a header longer than any sender writes now
    makes the e-mail unreadable before it is split."""
    params = "".join(f'; p{i}="v"' for i in range(9000))
    parts = "".join(f"--b\r\nContent-Type: application/json{params}\r\n\r\n{{}}\r\n" for _ in range(18))
    hostile = ("From: a@example.org\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" + parts + "--b--\r\n").encode()
    assert len(hostile) > 1_600_000
    (tmp_path / "hostile.eml").write_bytes(hostile)
    many = "".join(f"; p{i}=v" for i in range(150))
    (tmp_path / "many.eml").write_bytes(_report_mail(gzip.compress(json.dumps(GOOGLE).encode())).replace(
        b"Content-Type: application/tlsrpt+gzip", b"Content-Type: application/tlsrpt+gzip" + many.encode()))
    (tmp_path / "good.eml").write_bytes(_report_mail(gzip.compress(json.dumps(GOOGLE).encode())))
    code, document = reports_json(tmp_path)
    assert code == 1 and document["reports"] == 1, document["errors"]
    messages = {Path(e["source"].split(" ")[0]).name: e["message"] for e in document["errors"]}
    assert messages == {
        "hostile.eml": "cannot read the e-mail's headers: its Content-Type header is 97,906 characters long, "
                       "more than any sender writes (at most 4,000)",
        "many.eml": "cannot read the e-mail's headers: its Content-Type header has 150 parameters, "
                    "more than any sender writes (at most 100)"}, messages


def test_a_policy_domain_written_in_unicode_is_the_same_domain_in_a_labels(tmp_path):
    """A sender that writes the policy domain as U-labels (or in capitals,
    or with an ideographic full stop) reports on the same domain as one
    writing its A-labels; --ready then weighs its failures too."""
    ascii_doc = _doc(**{"report-id": "ascii"})
    ascii_doc["policies"][0]["policy"]["policy-domain"] = "xn--bcher-kva.example"
    unicode_doc = _doc(**{"report-id": "unicode", "organization-name": "Other Org"})
    unicode_doc["policies"][0]["policy"]["policy-domain"] = "BÜCHER\u3002example."
    unicode_doc["policies"][0]["policy"]["mx-host"] = ["mx.bücher.example"]
    unicode_doc["policies"][0]["summary"]["total-failure-session-count"] = 5
    unicode_doc["policies"][0]["failure-details"] = [{"result-type": "certificate-expired", "failed-session-count": 5,
                                                      "receiving-mx-hostname": "MX.Bücher.example."}]
    (tmp_path / "a.json").write_text(json.dumps(ascii_doc))
    (tmp_path / "u.json").write_text(json.dumps(unicode_doc))
    code, document = reports_json(tmp_path)
    assert [d["domain"] for d in document["domains"]] == ["xn--bcher-kva.example"], document["domains"]
    [domain] = document["domains"]
    assert (domain["reports"], domain["failed_sessions"]) == (2, 5)
    assert [f["receiving_mx_hostname"] for f in domain["failures"]] == ["mx.xn--bcher-kva.example"], domain["failures"]
    config = tmp_path / "mta-sts.yml"
    config.write_text("domain: bücher.example\npolicy:\n  mode: testing\n  mx: [mx.bücher.example]\n")
    ready = run_cli("reports", tmp_path / "a.json", tmp_path / "u.json", "-c", config, "--ready", "--until", "2025-05-30")
    assert ready.code == 1 and "certificate-expired" in ready.out, ready.output


def test_an_e_mail_bigger_than_any_report_e_mail_is_named_not_parsed(tmp_path):
    """The limit IMAP applies before fetching holds for files and mbox messages too."""
    report = gzip.compress(json.dumps(GOOGLE).encode())
    big = _report_mail(report).replace(b"\n\n", b"\nX-Padding: " + b"x" * 9 * 1024 * 1024 + b"\n\n", 1)
    (tmp_path / "big.eml").write_bytes(big)
    (tmp_path / "mail.mbox").write_bytes(b"From a@b Sat Dec  5 00:00:00 2026\n" + big + b"\n")
    (tmp_path / "good.eml").write_bytes(_report_mail(report))
    code, document = reports_json(tmp_path)
    assert code == 1 and document["reports"] == 1
    message = f"{len(big):,} bytes, more than a report e-mail needs (at most 8 MiB): not read"
    assert sorted((Path(e["source"]).name, e["message"]) for e in document["errors"]) == [
        ("big.eml", message), ("mail.mbox message 1", message)], document["errors"]
