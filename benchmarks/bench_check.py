"""Benchmark: `check` of N domains (default 1,000) on loopback, beside a reference client.

One authoritative DNS server (NSD) holds a zone per domain (`_mta-sts` and
`_smtp._tls` TXT, MX, the MX host's A, `mta-sts` A 127.0.0.1) and one TLS
server on 127.0.0.1:443 answers every `mta-sts.<domain>` with its own
certificate from a test CA and a valid policy. Both clients use that DNS and
the standard port, so neither needs any address rewriting:

- ours: the real CLI in a fresh process (`check --domains-file --json`),
  timed end to end, process start included; every domain must come back ok;
- the reference: postfix-mta-sts-resolver's `STSResolver.resolve()` in this
  process, with the same concurrency; every domain must come back VALID.

Read the ratio knowing that the reference does less per domain. It makes one
TXT query (`_mta-sts`) and lets aiohttp look up the policy host, then fetches
(verified TLS, no redirects, status, Content-Type, 64 KiB cap) and parses
leniently: no TLS-RPT record, no MX set and so no coverage check, no
certificate expiry date, no findings, no report. `check` makes four queries
(both TXT records, the MX set, the policy host's A), then fetches as strictly,
reads the certificate's expiry date, parses strictly, checks MX coverage and
writes a JSON line per domain. The reference's DNS is read in C (c-ares);
`check` reads only the answer section, in Python (generator/check/wire.py).

Two rates are given for `check`: end to end, which counts the start of its
process (about 0.1 s: the interpreter, Typer and the network stack load),
and after start-up, from the first domain begun to the last line printed.
The reference runs in this process with its modules loaded, so the second is
the like-for-like rate per domain; issue 15's target is the first. Each
round runs both clients back to back, and the verdict uses the median of the
rounds' ratios, which a busy machine disturbs less than a best run.

`--server nginx` serves the policies with nginx instead of the project's
Python test server: one `server` block and one certificate from the test CA
per `mta-sts.<domain>` name, started by the benchmark on 127.0.0.1:443 (one
worker process). The target of issue 15 is the end-to-end ratio with nginx:
at least 1.2x the reference's rate.

`--workers 1,2` runs `check` once per worker count in each round (the ratio
line uses the best of them; every count gets its own line). `--server-cpus`
and `--checker-cpus` pin the servers (NSD, the TLS server) and the clients
to sets of CPUs with sched_setaffinity, as `taskset` does, so that a scaling
figure is not the servers' CPU moving to the checker.

Setting up (checking and loading the zones, issuing a certificate per host)
is not timed. Needs root (port 443) and nsd (and nginx for --server nginx). Run:

    python benchmarks/bench_check.py [--domains 1000] [--concurrency 50] [--runs 5] [--server python|nginx]
        [--workers 1,2] [--server-cpus 0 --checker-cpus 1]
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import multiprocessing
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.certs import LocalCA  # noqa: E402
from tests.support.check_run import HEALTHY, policy_bytes  # noqa: E402
from tests.support.dns_server import minimal_zone, start_nsd  # noqa: E402
from tests.support.tls_server import Route, TlsServer  # noqa: E402
from tests.support.tools import find_tool  # noqa: E402

HTTPS_PORT = 443
TIMEOUT = 20.0  # per domain, for both clients; nothing should come near it
SERVER_START = 300.0  # bounds the wait for the HTTPS server to issue every certificate


def domain_names(count: int) -> list[str]:
    return [f"d{i:05d}.example" for i in range(count)]


def _serve_https(ca: LocalCA, domains: list[str], conn) -> None:
    """The HTTPS server, in a child process: in this process its threads
    would take the GIL from the reference client and skew the comparison."""
    try:
        server = TlsServer(ca, port=HTTPS_PORT)
    except OSError as exc:
        why = "it is in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        conn.send(f"cannot listen on 127.0.0.1:{HTTPS_PORT} ({why}); both clients fetch "
                  f"policies on the standard port, so the benchmark needs it free, and root")
        return
    with server:
        for domain in domains:
            host = f"mta-sts.{domain}"
            server.route(host, Route(body=policy_bytes(domain)))
            ca.server_context(host)  # issue the certificate now, not during a timed run
        conn.send(None)
        conn.recv()  # the parent is done (EOFError if it died: stop as well)
    conn.send([repr(e) for e in server.errors])


class HttpsProcess:
    """The HTTPS server's child process; exits the benchmark if it cannot serve."""

    def __init__(self, ca: LocalCA, domains: list[str]) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_https, args=(ca, domains, child), daemon=True)
        self._process.start()
        child.close()
        problem = f"the HTTPS server did not start within {SERVER_START:g} s"
        if self._conn.poll(SERVER_START):
            try:
                problem = self._conn.recv()
            except EOFError:
                problem = "the HTTPS server process died while starting (see its traceback above)"
        if problem is not None:
            self.stop()
            sys.exit(problem)

    def stop(self) -> list[str]:
        """Stop the server; the unexpected exceptions it saw."""
        errors: list[str] = []
        try:
            self._conn.send("stop")
            if self._conn.poll(10):
                errors = self._conn.recv()
        except (OSError, EOFError):
            pass  # it had stopped already
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        return errors


class NginxServer:
    """nginx on 127.0.0.1:443: a server block and a certificate per policy
    host, each serving its domain's policy file as text/plain."""

    def __init__(self, ca: LocalCA, domains: list[str], workdir: Path) -> None:
        nginx = find_tool("nginx")
        if nginx is None:
            sys.exit("--server nginx needs nginx (apt-get install -y nginx)")
        root = workdir / "nginx"
        blocks = []
        for domain in domains:
            host = f"mta-sts.{domain}"
            site = root / "www" / domain / ".well-known"
            site.mkdir(parents=True)
            (site / "mta-sts.txt").write_bytes(policy_bytes(domain))
            leaf = ca.ca.issue_cert(host)
            key, chain = root / f"{host}.key", root / f"{host}.pem"
            leaf.private_key_pem.write_to_path(str(key))
            chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
            blocks.append(f"server {{ listen 127.0.0.1:{HTTPS_PORT} ssl; server_name {host}; "
                          f"ssl_certificate {chain}; ssl_certificate_key {key}; root {root / 'www' / domain}; "
                          "location = /.well-known/mta-sts.txt { default_type text/plain; } }")
        temp = "".join(f"{kind}_temp_path {root / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # Workers drop to nobody when the master runs as root; the files sit in
        # a private temporary directory, so they stay root.
        user = "user root;\n" if os.geteuid() == 0 else ""
        (root / "nginx.conf").write_text(
            f"{user}worker_processes 1;\ndaemon off;\npid {root / 'nginx.pid'};\nerror_log {root / 'error.log'} warn;\n"
            "events { worker_connections 4096; }\n"
            f"http {{\naccess_log off;\n{temp}ssl_protocols TLSv1.2 TLSv1.3;\n" + "\n".join(blocks) + "\n}\n")
        self.log = root / "error.log"
        # nginx that cannot bind exits, but only after a probe could have
        # reached whoever holds the port: ask first.
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx does: past connections do not count
            try:
                probe.bind(("127.0.0.1", HTTPS_PORT))
            except OSError as exc:
                why = "it is in use" if exc.errno == errno.EADDRINUSE else exc.strerror
                sys.exit(f"cannot listen on 127.0.0.1:{HTTPS_PORT} ({why}); both clients fetch "
                         f"policies on the standard port, so the benchmark needs it free, and root")
        self._process = subprocess.Popen([nginx, "-p", str(root), "-c", str(root / "nginx.conf"), "-e", str(self.log)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + SERVER_START
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                sys.exit(f"nginx did not start (is 127.0.0.1:{HTTPS_PORT} in use, or are we not root?): "
                         + self._process.stderr.read().decode(errors="replace")[-2000:])
            try:
                socket.create_connection(("127.0.0.1", HTTPS_PORT), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        sys.exit(f"nginx did not listen within {SERVER_START:g} s")

    def stop(self) -> list[str]:
        """Stop nginx; the errors it logged (TLS handshakes it failed, crashes)."""
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if "[error]" in line or "[crit]" in line or "[alert]" in line or "[emerg]" in line]


def pin(cpus: set[int] | None):
    """A preexec_fn that moves a child onto ``cpus`` (None: leave it be)."""
    return None if cpus is None else (lambda: os.sched_setaffinity(0, cpus))


def run_ours(domains_file: Path, count: int, nameserver: str, ca_file: Path, concurrency: int,
             workers: int | None, cpus: set[int] | None) -> dict:
    """`check` in a fresh process; fails unless every domain is ok."""
    env = {k: v for k, v in os.environ.items() if k != "SSL_CERT_FILE"}
    cmd = [sys.executable, "-m", "generator", "check", "--domains-file", str(domains_file), "--json",
           "--nameserver", nameserver, "--ca-file", str(ca_file),
           "--concurrency", str(concurrency), "--timeout", str(TIMEOUT), *(["--workers", str(workers)] if workers else [])]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, preexec_fn=pin(cpus)) as process:
        lines = []
        first = None
        for line in process.stdout:  # JSON lines arrive as each domain finishes
            if first is None:
                first = time.perf_counter()
            lines.append(line)
        last = time.perf_counter()
        code = process.wait()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # only `check` ends meanwhile
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    reports = [json.loads(line) for line in lines]
    bad = [r for r in reports if r["result"] != "ok"]
    if code != 0 or len(reports) != count or bad:
        sys.exit(f"check exited {code} with {len(reports)} of {count} reports; not ok: "
                 + json.dumps(bad[:3], indent=1))
    seconds = [r["seconds"] for r in reports]
    # From when the first domain started (its line minus its own seconds) to the last line.
    checking = last - (first - seconds[0])
    return {"wall": wall, "checking": checking, "cpu": cpu, "latency": statistics.median(seconds),
            "workers": workers or f"default ({len(cpus or os.sched_getaffinity(0))})"}


async def _reference(domains: list[str], nameserver: str, concurrency: int) -> tuple[float, list, list[float]]:
    import aiohttp.connector
    from aiohttp.resolver import AsyncResolver
    from postfix_mta_sts_resolver.resolver import STSResolver

    class NsdResolver(AsyncResolver):
        """aiohttp's default resolver is one aiodns resolver shared by every
        session; this is the same, only asking NSD (which has the policy hosts)."""

        async def close(self) -> None:
            pass

    shared = NsdResolver(nameservers=[nameserver])
    aiohttp.connector.DefaultResolver = lambda loop=None: shared
    resolver = STSResolver(timeout=TIMEOUT, loop=asyncio.get_running_loop())
    resolver._resolver.nameservers = [nameserver]  # pycares 5 takes IP:PORT
    results: list = [None] * len(domains)
    latencies: list[float] = [0.0] * len(domains)
    pending = iter(enumerate(domains))

    async def worker() -> None:
        for index, domain in pending:
            began = time.perf_counter()
            results[index] = await resolver.resolve(domain)
            latencies[index] = time.perf_counter() - began

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(domains)))))
    elapsed = time.perf_counter() - start
    await AsyncResolver.close(shared)
    await resolver._resolver.close()
    return elapsed, results, latencies


def run_reference(domains: list[str], nameserver: str, concurrency: int) -> dict:
    """STSResolver in this process; fails unless every domain is VALID."""
    from postfix_mta_sts_resolver.resolver import STSFetchResult

    cpu = time.process_time()  # this process, c-ares' own thread included
    elapsed, results, latencies = asyncio.run(_reference(domains, nameserver, concurrency))
    cpu = time.process_time() - cpu
    bad = [(d, r) for d, r in zip(domains, results) if r[0] is not STSFetchResult.VALID]
    if bad:
        sys.exit(f"the reference client got {len(bad)} of {len(domains)} domains wrong, e.g. {bad[:3]}")
    return {"wall": elapsed, "cpu": cpu, "latency": statistics.median(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--server", choices=["python", "nginx"], default="python", help="the TLS server (default: the project's test server)")
    parser.add_argument("--workers", default="default", help="check's --workers, or a comma-separated list to compare "
                        "(default: check's own default, one per core)")
    parser.add_argument("--server-cpus", type=cpu_set, default=None, help="CPUs for the servers, e.g. 0 or 0,1")
    parser.add_argument("--checker-cpus", type=cpu_set, default=None, help="CPUs for check and the reference client")
    args = parser.parse_args()
    args.workers = [None] if args.workers == "default" else [int(w) for w in args.workers.split(",")]
    if min(args.domains, args.concurrency, args.runs, *(w or 1 for w in args.workers)) < 1:
        parser.error("--domains, --concurrency, --runs and --workers take numbers from 1 up")
    domains = domain_names(args.domains)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ca = LocalCA(workdir)
        # The reference trusts the test CA through OpenSSL's default paths,
        # read when aiohttp builds its context at import: set before importing
        # it, in this process only (our CLI gets --ca-file and an env without it).
        os.environ["SSL_CERT_FILE"] = str(ca.pem_path)
        setup = time.perf_counter()
        everywhere = os.sched_getaffinity(0)
        if args.server_cpus is not None:  # the servers inherit it
            os.sched_setaffinity(0, args.server_cpus)
        # The Python server issues certificates while NSD loads.
        https = NginxServer(ca, domains, workdir) if args.server == "nginx" else HttpsProcess(ca, domains)
        try:
            nsd = start_nsd({d: minimal_zone(d, HEALTHY) for d in domains}, workdir / "nsd", timeout=120)
            os.sched_setaffinity(0, args.checker_cpus or everywhere)  # the reference runs in this process
            try:
                setup = time.perf_counter() - setup
                listing = workdir / "domains.txt"
                listing.write_text("\n".join(domains) + "\n")
                ours, reference = [], []
                for _ in range(args.runs):  # interleaved, so drift hits both alike
                    for workers in args.workers:
                        ours.append(run_ours(listing, args.domains, nsd.address, ca.pem_path, args.concurrency, workers, args.checker_cpus))
                    reference.append(run_reference(domains, nsd.address, args.concurrency))
            finally:
                nsd.stop()
        finally:
            errors = https.stop()
    if errors:
        sys.exit(f"the HTTPS server failed: {errors[:3]}")
    report(args, setup, ours, reference)


def cpu_set(text: str) -> set[int]:
    return {int(cpu) for cpu in text.split(",")}


TARGET = 1.2  # issue 15: end to end, with nginx


def report(args, setup: float, ours: list[dict], reference: list[dict]) -> None:
    from importlib.metadata import version

    n = args.domains
    server = "nginx" if args.server == "nginx" else "the Python TLS server"
    pinned = "" if args.server_cpus is None and args.checker_cpus is None else \
        f", servers on CPUs {sorted(args.server_cpus or os.sched_getaffinity(0))}, clients on CPUs {sorted(args.checker_cpus or os.sched_getaffinity(0))}"
    print(f"setup (not timed): {setup:.1f} s for {n} zones in NSD and {n} certificates ({server})")
    per_round = len(args.workers)
    for run, r in enumerate(reference, start=1):
        for o in ours[(run - 1) * per_round:run * per_round]:
            print(f"run {run}: check --workers {o['workers']} {o['wall']:.2f} s end to end ({o['checking']:.2f} s checking), "
                  f"CPU {o['cpu'] / n * 1000:.2f} ms/domain, latency median {o['latency'] * 1000:.0f} ms")
        print(f"run {run}: reference {r['wall']:.2f} s, CPU {r['cpu'] / n * 1000:.2f} ms/domain, "
              f"latency median {r['latency'] * 1000:.0f} ms")
    ref = min(r["wall"] for r in reference)
    if per_round > 1:
        for workers in args.workers:
            mine = [o for o in ours if o["workers"] == workers]
            best = min(o["wall"] for o in mine)
            print(f"  --workers {workers}: best {best:.2f} s end to end, {n / best:,.0f} domains/s, "
                  f"{ref / best:.2f}x the reference, CPU {statistics.median(o['cpu'] for o in mine) / n * 1000:.2f} ms/domain")
    best_run = min(ours, key=lambda o: o["wall"])
    wall, checking = best_run["wall"], min(o["checking"] for o in ours if o["workers"] == best_run["workers"])
    cpu = statistics.median(o["cpu"] for o in ours if o["workers"] == best_run["workers"]) / n * 1000
    ref_cpu = statistics.median(r["cpu"] for r in reference) / n * 1000
    # Each round's reference run against the same round's check run (with the
    # best worker count): the median of those ratios resists a noisy machine.
    paired = statistics.median(r["wall"] / o["wall"] for r, o in zip(reference, (o for o in ours if o["workers"] == best_run["workers"])))
    verdict = f"; target {TARGET:g}x end to end: {'met' if paired >= TARGET else 'NOT met'}" if args.server == "nginx" else ""
    print(f"check of {n} domains on loopback (NSD and {server}, concurrency {args.concurrency}, "
          f"{os.cpu_count()} CPUs{pinned}), best of {args.runs} (--workers {best_run['workers']}): {wall:.2f} s end to end, {n / wall:,.0f} domains/s "
          f"({n / checking:,.0f}/s after start-up), {cpu:.1f} ms CPU/domain; "
          f"postfix-mta-sts-resolver {version('postfix-mta-sts-resolver')} STSResolver: {ref:.2f} s, "
          f"{n / ref:,.0f} domains/s, {ref_cpu:.1f} ms CPU/domain; "
          f"check/reference rate {ref / checking:.2f}x per domain (after start-up), {ref / wall:.2f}x end to end (best runs), "
          f"{paired:.2f}x end to end (median of the {args.runs} paired runs){verdict}")


if __name__ == "__main__":
    main()
