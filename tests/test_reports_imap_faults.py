"""`reports --imap` against an IMAP server that misbehaves (tests/support/imap_stub.py):
a tagged BAD to a valid command, a connection dropped halfway through a FETCH,
150,000 messages, a user name that would inject commands. Each is at most one
unreadable input; the files beside it, and the messages read before, count once."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json

import pytest

from tests.support.cli import run_cli
from tests.support.imap_stub import Misbehaviour, StubImapServer, StubMessage
from tests.test_reports import FIXTURES

PASSWORD = "correct horse battery staple"
REPORT = json.loads((FIXTURES / "dmarc-report-viewer__google.json").read_text())
UNRELATED = b"From: a@example.org\r\nSubject: lunch\r\nContent-Type: text/plain\r\n\r\nnoon?\r\n"


def report_mail(number: int, successful: int = 1) -> bytes:
    """A report e-mail of its own report-id, counting ``successful`` sessions."""
    document = json.loads(json.dumps(REPORT))
    document["report-id"] = f"stub-{number}"
    document["date-range"] = {"start-datetime": "2026-11-01T00:00:00Z", "end-datetime": "2026-11-01T23:59:59Z"}
    for policy in document["policies"]:
        policy["summary"] = {"total-successful-session-count": successful, "total-failure-session-count": 0}
        policy.pop("failure-details", None)
    attachment = base64.encodebytes(gzip.compress(json.dumps(document).encode())).replace(b"\n", b"\r\n")
    return (b"From: noreply-smtp-tls-reporting@google.com\r\nSubject: Report Domain: example.com\r\n"
            b"Message-ID: <stub-%d@google.com>\r\n"
            b'Content-Type: multipart/report; report-type=tlsrpt; boundary="b"\r\n\r\n'
            b"--b\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            % number + attachment + b"--b--\r\n")


def sessions(document: dict) -> int:
    return sum(d["successful_sessions"] for d in document["domains"])


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("MTA_STS_PAGES_IMAP_PASSWORD", PASSWORD)


def run(stub: StubImapServer, test_ca, *args: str, user: str = "reports%40example.com"):
    return run_cli("reports", "--imap", f"imaps://{user}@127.0.0.1:{stub.port}/INBOX", "--ca-file", test_ca.pem_path, *args)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("bad", ["EXAMINE", "FETCH", "UID SEARCH", "UID FETCH"])
def test_a_bad_reply_makes_the_mailbox_one_unreadable_input(env, test_ca, tmp_path, bad):
    file = tmp_path / "file.eml"
    file.write_bytes(report_mail(0, successful=1000))
    with StubImapServer(test_ca, [StubMessage(uid, report_mail(uid)) for uid in range(1, 6)], Misbehaviour(bad=bad)) as stub:
        result = run(stub, test_ca, file, "--since", "2026-11-01", "--json")
    assert "Traceback" not in result.output
    document = json.loads(result.out)
    assert result.code == 1
    [error] = document["errors"]
    assert error["source"] == f"imaps://127.0.0.1:{stub.port}/INBOX"
    assert "the server refused a command" in error["message"] and "stub says no" in error["message"], error
    assert sessions(document) == 1000  # the file still counts, and nothing from the mailbox
    assert not stub.errors


@pytest.mark.timeout(60)
def test_promote_against_a_server_answering_bad_changes_nothing(env, test_ca, tmp_path):
    config = tmp_path / "mta-sts.yml"
    config.write_text("domain: example.com\npolicy:\n  mode: testing\n  mx: [mx.example.com]\n")
    # Delivered today: promote fetches only the mail of its readiness window.
    today = StubMessage(1, report_mail(1), day=dt.datetime.now(dt.UTC).date())
    with StubImapServer(test_ca, [today], Misbehaviour(bad="UID FETCH")) as stub:
        result = run_cli("promote", "-c", config, "--imap", f"imaps://reports%40example.com@127.0.0.1:{stub.port}/INBOX",
                         "--ca-file", test_ca.pem_path)
    assert result.code == 1 and "Traceback" not in result.output, result.output
    assert f"error: imaps://127.0.0.1:{stub.port}/INBOX: the server refused a command" in result.err, result.output
    assert "example.com: not ready to enforce" in result.out and "testing" in config.read_text()


@pytest.mark.timeout(60)
def test_promote_until_searches_from_the_day_before_its_window(env, test_ca, tmp_path):
    """`promote --until 2026-11-10` judges the 14 days from 2026-10-28 to the
    end of the 10th, so it searches the mailbox from 2026-10-27, a day early
    for time zones: mail delivered that day is read, a broken report
    delivered the day before is not fetched and is no unreadable input."""
    config = tmp_path / "mta-sts.yml"
    config.write_text("domain: foo-bar.io\npolicy:\n  mode: testing\n  mx: [mx.foo-bar.io]\n")  # the report's domain
    broken = report_mail(1).split(b"\r\n\r\n--b\r\nContent-Type")[0] + (
        b'\r\n\r\n--b\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n\r\nbm90IGd6aXA=\r\n--b--\r\n')
    messages = [StubMessage(1, broken, day=dt.date(2026, 10, 26)), StubMessage(2, report_mail(2, successful=30), day=dt.date(2026, 10, 27))]
    with StubImapServer(test_ca, messages) as stub:
        url = f"imaps://reports%40example.com@127.0.0.1:{stub.port}/INBOX"
        whole = run(stub, test_ca, "--json")
        result = run_cli("promote", "-c", config, "--imap", url, "--ca-file", test_ca.pem_path, "--until", "2026-11-10")
    assert len(json.loads(whole.out)["errors"]) == 1, whole.output  # the broken one is there, and broken
    assert result.code == 1 and "Traceback" not in result.output, result.output
    assert "2026-10-28 to 2026-11-11: 1 report from 1 organisation, 30 sessions" in result.out, result.output
    assert "unreadable" not in result.output, result.output
    assert not stub.errors


@pytest.mark.timeout(60)
def test_a_mailbox_of_150000_messages_is_searched_in_ranges_and_since_fetches_only_its_days(env, test_ca):
    # 150,000 UIDs of 7 digits make one SEARCH reply of 1.2 MB, over imaplib's 1 MB line limit.
    old, new = dt.date(2025, 1, 1), dt.date(2026, 11, 2)
    messages = [StubMessage(1_000_000 + n, UNRELATED, old) for n in range(150_000)]
    for uid, day in [(1_000_001, new), (1_070_000, old), (1_149_998, old), (1_149_999, new)]:
        messages[uid - 1_000_000] = StubMessage(uid, report_mail(uid), day)
    with StubImapServer(test_ca, messages) as stub:
        result = run(stub, test_ca, "--since", "2026-11-01", "--json")
        assert result.code == 0, result.output
        assert json.loads(result.out)["reports"] == 2
        assert stub.fetched == [1_000_001, 1_149_999]
        searches = [c for c in stub.commands if b"UID SEARCH" in c]
        # A day early for time zones; 5,000 messages a search.
        assert all(b"SINCE 31-Oct-2026" in c for c in searches) and len(searches) == 30, searches[:3]
        assert not stub.errors


@pytest.mark.timeout(60)
def test_every_message_of_a_mailbox_read_in_several_ranges_is_read_once(env, test_ca):
    # UIDs with gaps, and ranges cut by UID: 12,000 messages are three searches' worth.
    messages = [StubMessage(7 * n + 3, UNRELATED) for n in range(12_000)]
    for index in (0, 4_999, 5_000, 11_999):
        messages[index] = StubMessage(messages[index].uid, report_mail(index))
    with StubImapServer(test_ca, messages) as stub:
        result = run(stub, test_ca, "--json")
        assert result.code == 0, result.output
        assert (json.loads(result.out)["reports"], json.loads(result.out)["skipped"]) == (4, 11_996)
        assert stub.fetched == [m.uid for m in messages]
        assert len([c for c in stub.commands if b"RFC822.SIZE" in c]) == 3
        assert not stub.errors


@pytest.mark.timeout(60)
def test_a_connection_dropped_mid_fetch_is_opened_again_and_nothing_is_lost_or_read_twice(env, test_ca, tmp_path):
    file = tmp_path / "file.eml"
    file.write_bytes(report_mail(0, successful=1000))
    messages = [StubMessage(uid, report_mail(uid)) for uid in range(1, 451)]
    # Two whole FETCH replies of 200 messages, then half of the third.
    with StubImapServer(test_ca, messages, Misbehaviour(drop_after=250, drops=1)) as stub:
        result = run(stub, test_ca, file, "--json")
    document = json.loads(result.out)
    assert result.code == 0 and "Traceback" not in result.output, result.output
    # A reply cut short is dropped whole and asked again: each message parsed once.
    assert (document["reports"], document["duplicates"], sessions(document), document["errors"]) == (451, 0, 1450, [])
    assert len([c for c in stub.commands if b" LOGIN " in c]) == 2
    assert sorted(set(stub.fetched)) == list(range(1, 451))


@pytest.mark.timeout(60)
def test_a_folder_renumbered_while_the_connection_was_lost_is_not_read_on_by_the_old_numbers(env, test_ca):
    messages = [StubMessage(uid, report_mail(uid)) for uid in range(1, 451)]
    with StubImapServer(test_ca, messages, Misbehaviour(drop_after=250, drops=1, renumber=True)) as stub:
        result = run(stub, test_ca, "--json")
    document = json.loads(result.out)
    assert result.code == 1 and document["reports"] == 200, result.output
    [error] = document["errors"]
    assert error["message"] == ("the folder was renumbered (its UIDVALIDITY changed) by the time the connection was opened again after 200 messages "
                                "were read (they are counted; the rest are not read: run again)"), error


@pytest.mark.timeout(60)
def test_a_connection_lost_for_good_is_one_unreadable_input_after_what_was_read(env, test_ca, tmp_path):
    file = tmp_path / "file.eml"
    file.write_bytes(report_mail(0, successful=1000))
    messages = [StubMessage(uid, report_mail(uid)) for uid in range(1, 451)]
    with StubImapServer(test_ca, messages, Misbehaviour(drop_after=250)) as stub:
        result = run(stub, test_ca, file, "--json")
    document = json.loads(result.out)
    assert result.code == 1 and "Traceback" not in result.output
    [error] = document["errors"]
    # The second connection reads nothing more: no third.
    assert error["message"].startswith("the connection failed: ") and error["message"].endswith(
        " after 200 messages were read (they are counted; the rest are not read: run again)"), error
    assert (document["reports"], document["duplicates"], sessions(document)) == (201, 0, 1200)
    assert len([c for c in stub.commands if b" LOGIN " in c]) == 2
    with StubImapServer(test_ca, messages) as stub:
        again = run(stub, test_ca, file, "--json")
    document = json.loads(again.out)
    assert again.code == 0, again.output
    assert (document["reports"], document["duplicates"], sessions(document)) == (451, 0, 1450)


@pytest.mark.timeout(60)
def test_big_messages_are_fetched_a_few_at_a_time_and_one_too_big_for_a_report_not_at_all(env, test_ca):
    """Memory stays bounded whatever the mailbox holds: a FETCH asks for at
    most 8 MiB of mail (by RFC822.SIZE, known first), and a message larger
    than a report e-mail can be is named, not fetched."""
    padding = b"X-Padding: " + b"x" * 998 + b"\r\n"
    big = [StubMessage(uid, padding * 3000 + report_mail(uid)) for uid in range(1, 11)]  # 3 MB each
    huge = StubMessage(11, padding * 9000 + report_mail(11))  # 9 MB
    with StubImapServer(test_ca, [*big, huge, StubMessage(12, report_mail(12))]) as stub:
        result = run(stub, test_ca, "--json")
    document = json.loads(result.out)
    assert result.code == 1 and document["reports"] == 11, result.output
    [error] = document["errors"]
    assert error["source"] == f"imaps://127.0.0.1:{stub.port}/INBOX UID 11", error
    assert error["message"] == f"{len(huge.data):,} bytes, more than a report e-mail needs (at most 8 MiB): not read"
    assert 11 not in stub.fetched and sorted(stub.fetched) == [*range(1, 11), 12]
    sizes = {m.uid: len(m.data) for m in [*big, huge]} | {12: len(report_mail(12))}
    fetches = [c.split(b" ")[3].decode() for c in stub.commands if b"BODY.PEEK[]" in c]
    for uid_set in fetches:
        uids = [u for part in uid_set.split(",") for u in range(int(part.split(":")[0]), int(part.split(":")[-1]) + 1)]
        assert sum(sizes[u] for u in uids) <= 8 * 1024 * 1024, fetches
    assert len(fetches) == 5, fetches


@pytest.mark.timeout(60)
@pytest.mark.parametrize("user", ["a%0D%0AX1%20LOGOUT", "a%0AX1%20LOGOUT", "a%00b"])
def test_a_control_character_in_the_user_name_is_refused_before_connecting(env, test_ca, user):
    with StubImapServer(test_ca, [StubMessage(1, report_mail(1))]) as stub:
        result = run(stub, test_ca, user=user)
    assert result.code == 2 and "--imap: the user name holds a control character" in result.err, result.output
    assert stub.commands == []


@pytest.mark.timeout(60)
def test_a_control_character_in_the_folder_name_is_sent_encoded_not_as_a_line_end(env, test_ca, monkeypatch):
    with StubImapServer(test_ca, [StubMessage(1, report_mail(1))]) as stub:
        result = run_cli("reports", "--imap", f"imaps://reports%40example.com@127.0.0.1:{stub.port}/IN%0D%0AX1%20LOGOUT",
                         "--ca-file", test_ca.pem_path, "--json")
    assert result.code == 0, result.output
    [examine] = [c for c in stub.commands if b" EXAMINE " in c]
    assert examine.endswith(b' EXAMINE "IN&AA0ACg-X1 LOGOUT"\r\n'), examine  # modified UTF-7, RFC 3501 §5.1.3
    assert not [c for c in stub.commands if c.startswith(b"X1 ")]


@pytest.mark.timeout(60)
def test_a_password_ending_in_a_newline_is_refused_and_not_shown(test_ca, monkeypatch):
    monkeypatch.setenv("MTA_STS_PAGES_IMAP_PASSWORD", "s3cret\r\nX1 LOGOUT\n")
    with StubImapServer(test_ca, [StubMessage(1, report_mail(1))]) as stub:
        result = run(stub, test_ca)
    assert result.code == 2 and "holds a control character" in result.err, result.output
    assert "s3cret" not in result.output and stub.commands == []


@pytest.mark.timeout(60)
def test_a_user_name_with_blanks_and_quotes_is_sent_quoted(env, test_ca):
    with StubImapServer(test_ca, [StubMessage(1, report_mail(1))]) as stub:
        result = run(stub, test_ca, "--json", user='tls%20"reports"')
        assert result.code == 0, result.output
        [login] = [c for c in stub.commands if b" LOGIN " in c]
        assert login.startswith(b'') and b' LOGIN "tls \\"reports\\"" ' in login, login


@pytest.mark.parametrize(
    "url",
    [
        "imap://user:s3cret@imap.example.com/INBOX",
        "http://user:s3cret@imap.example.com",
        "imaps://user:s3cret@imap.example.com:99999/INBOX",
        "imaps://user:s3/cret@imap.example.com/INBOX",
        "imaps://user:s3cret@[::1/INBOX",
        "imaps://:s3cret@imap.example.com/INBOX",
    ],
)
def test_no_message_shows_a_password_written_into_the_url(url):
    result = run_cli("reports", "--imap", url)
    assert result.code == 2 and "Traceback" not in result.output, result.output
    assert "s3" not in result.output and "cret" not in result.output, result.output
