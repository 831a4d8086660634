"""`reports --imap` against a real Dovecot over TLS: every report e-mail is
read, nothing in the mailbox changes (no flag set, none cleared), and a
refused login, an untrusted certificate or a missing folder are clear errors."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from tests.support.imap_server import DovecotServer
from tests.support.tools import require_tool
from tests.test_reports import EML_FILES, assert_matches_oracle, oracle_documents, oracle_sums
from tests.support.cli import run_cli

PASSWORD = "correct horse battery staple"
UTF8_PASSWORD = "cheval correct, très bien"  # not ASCII: sent with SASL PLAIN, not LOGIN
_FLAGS = re.compile(rb"UID (\d+) FLAGS \(([^)]*)\)")
UNRELATED = b"From: a@example.org\r\nSubject: lunch\r\nContent-Type: text/plain\r\n\r\nnoon?\r\n"
EMPTY_REPORT = (b"From: noreply@example.net\r\nSubject: Report\r\nMessage-ID: <empty@example.net>\r\n"
                b'Content-Type: multipart/report; report-type=tlsrpt; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n')


@pytest.fixture
def dovecot(request, tmp_path, test_ca, monkeypatch):
    require_tool("dovecot")
    password = getattr(request, "param", PASSWORD)
    server = DovecotServer(tmp_path / "dovecot", "reports@example.com", password, test_ca)
    # Some mail read and flagged already, some not: none of it may change.
    for index, path in enumerate(EML_FILES):
        server.add(path.read_bytes(), flags=["", "S", "F", "SF"][index % 4])
    server.add(UNRELATED)
    server.add(EMPTY_REPORT, flags="S")
    monkeypatch.setenv("MTA_STS_PAGES_IMAP_PASSWORD", password)
    with server:
        yield server


def flags(server: DovecotServer) -> dict[bytes, set[bytes]]:
    """Each message's flags, but \\Recent, which belongs to a session, not the mail."""
    client = server.client()
    try:
        client.select("INBOX", readonly=True)
        status, data = client.uid("FETCH", "1:*", "(FLAGS)")
        assert status == "OK"
        found = {m.group(1): set(m.group(2).split()) - {b"\\Recent"} for m in map(_FLAGS.search, data) if m}
    finally:
        client.logout()
    return found


def url(server: DovecotServer, folder: str = "INBOX") -> str:
    return f"imaps://reports%40example.com@127.0.0.1:{server.port}/{folder}"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("dovecot", [PASSWORD, UTF8_PASSWORD], indirect=True, ids=["ascii-password", "utf8-password"])
def test_reports_are_read_over_imap_and_the_mailbox_is_left_as_it_was(dovecot, test_ca):
    before = flags(dovecot)
    assert len(before) == len(EML_FILES) + 2 and sum(b"\\Seen" in f for f in before.values()) == 4
    result = run_cli("reports", "--imap", url(dovecot), "--ca-file", test_ca.pem_path, "--json")
    document = json.loads(result.out)
    assert result.code == 1, result.err  # the report e-mail without its attachment
    [error] = document["errors"]
    assert re.fullmatch(r"imaps://127\.0\.0\.1:\d+/INBOX UID \d+ \(<empty@example\.net>\)", error["source"]), error
    assert "without a report attachment" in error["message"]
    assert (document["reports"], document["skipped"]) == (len(EML_FILES), 1)
    assert_matches_oracle(document, oracle_sums([doc for path in EML_FILES for doc in oracle_documents(path)]))
    assert flags(dovecot) == before


@pytest.mark.timeout(60)
def test_imap_and_files_together_count_each_report_once(dovecot, test_ca):
    result = run_cli("reports", EML_FILES[0], "--imap", url(dovecot), "--ca-file", test_ca.pem_path, "--json")
    document = json.loads(result.out)
    assert document["reports"] == len(EML_FILES) and document["duplicates"] == 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ("wrong-password", 1, "login as reports@example.com refused"),
        ("no-password", 2, "set the password of reports@example.com in the environment variable MTA_STS_PAGES_IMAP_PASSWORD"),
        ("untrusted", 1, "the server's certificate is not trusted"),
        ("no-folder", 1, "cannot open the folder 'Reports'"),
        ("password-in-url", 2, "do not put the password in the URL"),
        ("plain-imap", 2, "use imaps://user@host[:port]/Folder (TLS only)"),
        ("missing-ca-file", 2, "--ca-file"),
        ("wrong-non-ascii-password", 1, "login as reports@example.com refused"),
    ],
)
def test_imap_failures_are_clear_errors(dovecot, test_ca, monkeypatch, change, code, message):
    target, args = url(dovecot), ["--ca-file", str(test_ca.pem_path)]
    if change == "wrong-password":
        monkeypatch.setenv("MTA_STS_PAGES_IMAP_PASSWORD", "wrong")
    elif change == "no-password":
        monkeypatch.delenv("MTA_STS_PAGES_IMAP_PASSWORD")
    elif change == "untrusted":
        args = []
    elif change == "no-folder":
        target = url(dovecot, "Reports")
    elif change == "password-in-url":
        target = target.replace("%40example.com@", "%40example.com:secret@")
    elif change == "plain-imap":
        target = target.replace("imaps:", "imap:")
    elif change == "missing-ca-file":
        args = ["--ca-file", str(test_ca.pem_path) + ".missing"]
    elif change == "wrong-non-ascii-password":
        monkeypatch.setenv("MTA_STS_PAGES_IMAP_PASSWORD", "mot de passe érroné")
    before = flags(dovecot)
    result = run_cli("reports", "--imap", target, *args)
    assert result.code == code and message in result.output, result.output
    assert "Traceback" not in result.output
    if code == 1:
        # A mailbox that cannot be read is an unreadable input: named in the
        # one JSON document, beside the files read.
        both = run_cli("reports", EML_FILES[0], "--imap", target, *args, "--json")
        document = json.loads(both.out)
        assert (both.code, document["reports"]) == (1, 1)
        [error] = document["errors"]
        assert error["source"] == target.split("reports%40example.com@")[0] + target.split("@", 1)[1] and message in error["message"], error
    assert flags(dovecot) == before


@pytest.mark.timeout(60)
def test_another_password_variable_and_a_folder_name_outside_ascii(dovecot, test_ca, monkeypatch):
    folder = "Rapports d'été"
    client = dovecot.client()
    try:
        encoded = '"Rapports d\'&AOk-t&AOk-"'
        assert client.create(encoded)[0] == "OK"
        assert client.append(encoded, None, None, EML_FILES[0].read_bytes())[0] == "OK"
    finally:
        client.logout()
    monkeypatch.delenv("MTA_STS_PAGES_IMAP_PASSWORD")
    monkeypatch.setenv("REPORTS_PASSWORD", PASSWORD)
    result = run_cli("reports", "--imap", url(dovecot, folder.replace(" ", "%20")), "--imap-password-env", "REPORTS_PASSWORD",
                     "--ca-file", test_ca.pem_path, "--json")
    assert result.code == 0, result.output
    assert json.loads(result.out)["reports"] == 1


@pytest.mark.timeout(60)
def test_promote_reads_the_reports_over_imap_and_refuses_when_they_are_old(dovecot, test_ca, tmp_path):
    config = tmp_path / "mta-sts.yml"
    config.write_text("domain: example.com\npolicy:\n  mode: testing  # for now\n  mx: [mx.example.com]\n")
    before = config.read_bytes()
    result = run_cli("promote", "-c", config, "--imap", url(dovecot), "--ca-file", test_ca.pem_path)
    assert result.code == 1 and "[no-reports] no TLS report for example.com in the 14 days" in result.out, result.output
    assert config.read_bytes() == before


@pytest.mark.timeout(60)
def test_since_fetches_only_the_mail_delivered_from_the_day_before(tmp_path, test_ca, monkeypatch):
    """--since searches by delivery day (IMAP SEARCH SINCE, Dovecot's
    INTERNALDATE), a day early for time zones, then keeps exactly the
    reports of the period: mail delivered before is not fetched at all."""
    require_tool("dovecot")
    server = DovecotServer(tmp_path / "dovecot", "reports@example.com", PASSWORD, test_ca)
    day = 86400
    since = dt.datetime(2022, 1, 1, tzinfo=dt.UTC).timestamp()
    server.add(EML_FILES[0].read_bytes(), received=since - day / 2)  # the day before: searched
    server.add(EML_FILES[1].read_bytes(), received=since - 3 * day)  # not
    server.add_many((path.read_bytes(), since + 300 * day) for path in EML_FILES[2:])
    monkeypatch.setenv("MTA_STS_PAGES_IMAP_PASSWORD", PASSWORD)
    with server:
        result = run_cli("reports", "--imap", url(server), "--ca-file", test_ca.pem_path, "--since", "2022-01-01", "--json")
        assert result.code == 0, result.output
        document = json.loads(result.out)
        assert (document["reports"], document["outside_period"]) == (len(EML_FILES) - 1, 0)
        everything = run_cli("reports", "--imap", url(server), "--ca-file", test_ca.pem_path, "--json")
        assert json.loads(everything.out)["reports"] == len(EML_FILES)
