"""Benchmark: CPU time of `check`'s DNS lookups alone, per domain.

NSD on loopback holds 200 zones; the four lookups `check` makes per domain
(`_mta-sts` TXT, `_smtp._tls` TXT, MX, the policy host's address) run for
N domains (default 2,000, cycling over the zones) through one Resolver,
50 domains at a time, as a check run makes them. What is reported is this
process's CPU time divided by N: the cost of building queries, matching
replies and reading answers, with the server's work on another core.

Needs nsd. Run:

    python benchmarks/bench_dns.py [--domains 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.check.dns import Resolver, Status  # noqa: E402
from generator.check.options import Endpoint  # noqa: E402
from tests.support.check_run import HEALTHY  # noqa: E402
from tests.support.dns_server import minimal_zone, start_nsd  # noqa: E402

ZONES = 200
CONCURRENCY = 50


async def _run(endpoint: Endpoint, count: int) -> float:
    """CPU seconds for ``count`` domains' lookups; exits unless all are found."""
    resolver = Resolver((endpoint,), timeout=20)
    slots = asyncio.Semaphore(CONCURRENCY)

    async def domain(name: str) -> list:
        async with slots:
            return await asyncio.gather(
                resolver.lookup(f"_mta-sts.{name}", "TXT"),
                resolver.lookup(f"_smtp._tls.{name}", "TXT"),
                resolver.lookup(name, "MX"),
                resolver.addresses(f"mta-sts.{name}"),
            )

    cpu = time.process_time()
    answers = await asyncio.gather(*(domain(f"d{i % ZONES}.example") for i in range(count)))
    cpu = time.process_time() - cpu
    resolver.close()
    missing = [a for four in answers for a in four if a.status is not Status.FOUND]
    if missing:
        sys.exit(f"{len(missing)} lookups came back without records, e.g. {missing[:2]}")
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if min(args.domains, args.runs) < 1:
        parser.error("--domains and --runs take a number from 1 up")
    zones = {f"d{i}.example": minimal_zone(f"d{i}.example", HEALTHY) for i in range(ZONES)}
    with tempfile.TemporaryDirectory() as tmp, start_nsd(zones, Path(tmp) / "nsd", timeout=60) as nsd:
        host, port = nsd.address.rsplit(":", 1)
        runs = [asyncio.run(_run(Endpoint(host, int(port)), args.domains)) for _ in range(args.runs)]
    per_domain = [cpu / args.domains * 1000 for cpu in runs]
    print(f"DNS lookups of {args.domains} domains (4 per domain) against NSD on loopback, "
          f"concurrency {CONCURRENCY}, {args.runs} runs: median {statistics.median(per_domain):.3f} ms CPU per domain "
          f"(best {min(per_domain):.3f}, worst {max(per_domain):.3f})")


if __name__ == "__main__":
    main()
