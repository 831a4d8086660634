"""Benchmark: `reports --imap` on a real Dovecot folder of N report e-mails (default 10,000).

Each e-mail carries one real Google report (tests/fixtures/tlsrpt) with its
own report-id and day, gzipped and base64-encoded as senders attach it; one
report a day per sender over a year, each delivered the morning after its
day (Dovecot takes a message's INTERNALDATE from its file's time). Dovecot
indexes the folder once before the runs: that is the server's cost, not the
tool's.

Measures the real command in a fresh process (TLS login, the UID ranges,
RFC822.SIZE, the FETCHes, parsing, summing, --json): wall time, CPU time and
peak memory, for the whole folder and with --since a week ago, which must
fetch only the mail delivered from the day before that (IMAP SEARCH SINCE).
The messages fetched are counted from the output (every report read, in the
period or not); the totals are checked. Needs dovecot (apt-get install
dovecot-imapd). Run:

    python benchmarks/bench_imap.py [--messages 10000] [--runs 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from child import run_json  # benchmarks/child.py: run as a script, this folder is on sys.path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.certs import LocalCA  # noqa: E402
from tests.support.imap_server import DovecotServer  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "tlsrpt" / "parsedmarc__smtp_tls.json"
PASSWORD = "benchmark password"
SENDERS = 28  # a year of daily reports from this many senders makes 10,000 e-mails
SINCE_DAYS = 7


def report_mail(template: dict, number: int, day: dt.date) -> bytes:
    template["organization-name"] = f"Sender {number % SENDERS}"
    template["report-id"] = f"{day}_example.com_{number}"
    template["date-range"] = {"start-datetime": f"{day}T00:00:00Z", "end-datetime": f"{day}T23:59:59Z"}
    attachment = base64.encodebytes(gzip.compress(json.dumps(template).encode(), mtime=0)).replace(b"\n", b"\r\n")
    return (b"From: noreply-smtp-tls-reporting@example.net\r\nSubject: Report Domain: example.com\r\n"
            b"Message-ID: <%d@example.net>\r\n"
            b'Content-Type: multipart/report; report-type=tlsrpt; boundary="b"\r\n\r\n'
            b"--b\r\nContent-Type: text/plain\r\n\r\nThis is an aggregate TLS report.\r\n"
            b"--b\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="example.net!example.com!%d.json.gz"\r\n\r\n'
            % (number, number) + attachment + b"--b--\r\n")


def fill(server: DovecotServer, count: int, today: dt.date) -> dict[dt.date, int]:
    """``count`` report e-mails, SENDERS a day back from yesterday; the e-mails per day."""
    template = json.loads(FIXTURE.read_text())
    per_day: dict[dt.date, int] = {}
    mail = []
    for number in range(count):
        day = today - dt.timedelta(days=1 + number // SENDERS)
        delivered = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(6), dt.UTC).timestamp()
        mail.append((report_mail(template, number, day), delivered))
        per_day[day] = per_day.get(day, 0) + 1
    server.add_many(mail)
    return per_day


def prime(server: DovecotServer) -> float:
    """Let Dovecot build its index of the folder; the seconds it took."""
    start = time.perf_counter()
    client = server.client()
    try:
        client.select("INBOX", readonly=True)
        client.uid("FETCH", "1:*", "(RFC822.SIZE)")
    finally:
        client.logout()
    return time.perf_counter() - start


def run_once(url: str, ca: Path, *options: str) -> tuple[float, float, float, dict]:
    """Wall seconds, CPU seconds, peak RSS (MiB) and the JSON document of one run."""
    run = run_json([sys.executable, "-m", "generator", "reports", "--imap", url, "--ca-file", str(ca), "--json", *options],
                   env={**os.environ, "MTA_STS_PAGES_IMAP_PASSWORD": PASSWORD})
    return run.wall, run.cpu, run.peak_mib, run.document


def summary(what: str, runs: list[tuple[float, float, float, dict]]) -> str:
    best, cpu, _, document = min(runs, key=lambda r: r[0])
    fetched = document["reports"] + document["outside_period"] + document["skipped"] + len(document["errors"])
    return (f"{what}: best {best:.2f} s of {len(runs)} (median {statistics.median(r[0] for r in runs):.2f} s, {cpu:.2f} s CPU), "
            f"{fetched} messages read ({fetched / best:,.0f}/s), {document['reports']} reports in the period, "
            f"peak RSS {max(r[2] for r in runs):.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where Dovecot keeps the mail (default: the system's temporary directory)")
    args = parser.parse_args()
    today = dt.datetime.now(dt.UTC).date()
    since = today - dt.timedelta(days=SINCE_DAYS)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        ca = LocalCA(Path(tmp))
        server = DovecotServer(Path(tmp) / "dovecot", "reports@example.com", PASSWORD, ca)
        per_day = fill(server, args.messages, today)
        with server:
            indexing = prime(server)
            url = f"imaps://reports%40example.com@127.0.0.1:{server.port}/INBOX"
            everything = [run_once(url, ca.pem_path) for _ in range(args.runs)]
            recent = [run_once(url, ca.pem_path, "--since", since.isoformat()) for _ in range(args.runs)]
    # In the period: reports of the days after `since`; fetched: mail delivered
    # from the day before `since`, i.e. reports of the days from `since` - 2.
    in_period = sum(n for day, n in per_day.items() if day >= since)
    should_fetch = sum(n for day, n in per_day.items() if day >= since - dt.timedelta(days=2))
    for *_, document in everything:
        if (document["reports"], document["errors"]) != (args.messages, []):
            sys.exit(f"wrong result: {document['reports']} reports of {args.messages}, errors {document['errors'][:3]}")
    for *_, document in recent:
        fetched = document["reports"] + document["outside_period"]
        if (document["reports"], fetched, document["errors"]) != (in_period, should_fetch, []):
            sys.exit(f"wrong --since result: {document['reports']} reports (expected {in_period}), "
                     f"{fetched} messages read (expected {should_fetch}), errors {document['errors'][:3]}")
    print(summary(f"reports --imap of {args.messages} report e-mails in a Dovecot folder (indexed first in {indexing:.1f} s)", everything))
    fetched = recent[0][3]["reports"] + recent[0][3]["outside_period"]
    print(summary(f"reports --imap --since {SINCE_DAYS} days ago", recent)
          + f"; target: fetch only the mail delivered from the day before --since ({fetched} of {args.messages}): met")


if __name__ == "__main__":
    main()
