"""`check --shard K/N` and `--workers N`: the shards partition the list
exactly and stably, and worker processes change nothing but the speed."""

from __future__ import annotations

import json
import random
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator.check.targets import Slice, Targets, parse_shard
from generator.errors import UsageError
from tests.support.cli import run_cli
from tests.test_check_e2e import multi_domain  # noqa: F401 - a fixture used below

ROOT = Path(__file__).resolve().parent.parent


def _listing(tmp_path: Path, names: list[str], name: str = "domains.txt") -> Path:
    path = tmp_path / name
    path.write_text("# a scan\n" + "\n".join(names) + "\n", encoding="utf-8")
    return path


def _names(count: int) -> list[str]:
    names = [f"d{i}.example" for i in range(count)]
    # The same domains spelt otherwise: normalized, they are not checked twice.
    return names + ["D7.Example.", "bücher.example", "xn--bcher-kva.example", names[3]]


def _domains(targets: Targets) -> list[str]:
    return [target.domain for _, target in targets.numbered()]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 16])
def test_shards_partition_the_list_exactly(tmp_path, count) -> None:
    listing = _listing(tmp_path, _names(500))
    whole = _domains(Targets(domains_file=listing))
    assert len(whole) == 501 and len(set(whole)) == len(whole)
    shards = [_domains(Targets(domains_file=listing, slice=parse_shard(f"{k}/{count}"))) for k in range(1, count + 1)]
    assert sorted(d for shard in shards for d in shard) == sorted(whole), "every domain in exactly one shard"
    for shard in shards:  # each shard keeps the list's order
        assert shard == [d for d in whole if d in set(shard)]
    if count > 1:  # and none is empty or holds everything on 500 names
        assert all(0 < len(shard) < len(whole) for shard in shards)


def test_worker_parts_partition_a_shard_exactly(tmp_path) -> None:
    listing = _listing(tmp_path, _names(300))
    shard = Targets(domains_file=listing, slice=parse_shard("2/3"))
    parts = [_domains(shard.part(index, 4)) for index in range(4)]
    assert sorted(d for part in parts for d in part) == sorted(_domains(shard))
    assert shard.validate() == len(_domains(shard))


def test_a_shard_depends_on_the_name_not_its_place(tmp_path) -> None:
    names = _names(200)
    shuffled = names[:]
    random.Random(15).shuffle(shuffled)
    first = Targets(domains_file=_listing(tmp_path, names, "a.txt"), slice=parse_shard("1/5"))
    second = Targets(domains_file=_listing(tmp_path, shuffled + ["other.example"], "b.txt"), slice=parse_shard("1/5"))
    assert set(_domains(first)) == set(_domains(second)) - {"other.example"}


def test_positions_are_places_in_the_whole_list(tmp_path) -> None:
    listing = _listing(tmp_path, ["a.example", "b.example", "A.example", "c.example"])
    assert [(p, t.domain) for p, t in Targets(domains_file=listing).numbered()] == [(0, "a.example"), (1, "b.example"), (3, "c.example")]


@pytest.mark.parametrize("value", ["0/3", "4/3", "1/0", "a/b", "1", "1/3/4", "-1/3", "1/100000"])
def test_bad_shards_are_usage_errors(value) -> None:
    with pytest.raises(UsageError, match="--shard"):
        parse_shard(value)


def test_shard_one_of_one_is_everything() -> None:
    assert parse_shard("1/1") == Slice() and parse_shard(" 3/4 ") == Slice(4, 2)


@pytest.mark.timeout(30)
def test_cli_rejects_a_bad_shard_and_bad_workers() -> None:
    bad = run_cli("check", "example.com", "--shard", "5/4")
    assert bad.code == 2 and "--shard '5/4'" in bad.err
    bad = run_cli("check", "example.com", "--workers", "0")
    assert bad.code == 2 and "--workers 0" in bad.err


@pytest.fixture
def multi_domain_with_failures(multi_domain, tmp_path):  # noqa: F811 - the fixture imported above
    """The multi-domain example served, listed with a domain that fails."""
    _, domains, flags = multi_domain
    return _listing(tmp_path, [*domains, "example-hosting.github.io"], "scan.txt"), flags


@pytest.mark.timeout(60)
def test_workers_and_shards_change_nothing_but_the_speed(multi_domain_with_failures) -> None:
    """Through the console entry point (fork) and in-process (spawn, since
    the test runner has threads): the same reports, the same exit code, the
    same report for people, in the order given."""
    listing, flags = multi_domain_with_failures
    command = [sys.executable, "-m", "generator", "check", "--domains-file", str(listing), *flags]

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, *extra], capture_output=True, text=True, timeout=60, cwd=ROOT)

    one, two = run("--workers", "1"), run("--workers", "2")
    assert one.returncode == two.returncode == 1, one.stderr + two.stderr
    assert one.stdout == two.stdout and two.stderr == ""
    assert run_cli("check", "--domains-file", str(listing), "--workers", "2", *flags).out == one.stdout

    whole = sorted(json.loads(line)["domain"] for line in run("--json", "--workers", "2").stdout.splitlines())
    shards = [run("--json", "--shard", f"{k}/3", "--workers", "2") for k in (1, 2, 3)]
    merged = [json.loads(line)["domain"] for shard in shards for line in shard.stdout.splitlines()]
    assert sorted(merged) == whole and len(whole) == 4


@pytest.mark.timeout(90)
def test_workers_change_nothing_in_the_markdown_report_and_summary(multi_domain_with_failures, tmp_path) -> None:
    listing, flags = multi_domain_with_failures

    def run(workers: str, *extra: str) -> tuple[subprocess.CompletedProcess[str], str]:
        summary = tmp_path / f"summary-{workers}-{len(extra)}.md"
        done = subprocess.run([sys.executable, "-m", "generator", "check", "--domains-file", str(listing), *flags, "--workers", workers,
                               "--summary", str(summary), *extra], capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert summary.exists(), done.stderr + done.stdout[:2000]
        return done, summary.read_text("utf-8")

    for extra in ((), ("--format", "markdown")):
        (one, one_summary), (two, two_summary) = run("1", *extra), run("2", *extra)
        assert one.returncode == two.returncode == 1, one.stderr + two.stderr
        assert (one.stdout, one_summary) == (two.stdout, two_summary) and two.stderr == ""
        assert one_summary.startswith("## MTA-STS check\n")


@pytest.mark.timeout(90)
def test_example_workflow_merges_its_shards_into_one_summary(multi_domain_with_failures, tmp_path) -> None:
    """The example workflow's own steps, run for every shard of its matrix and
    then merged, with `mta-sts-pages` pointed at the test servers."""
    workflow = yaml.safe_load((ROOT / "examples" / "workflows" / "check-shards.yml").read_text())
    shards = workflow["env"]["SHARDS"]
    assert workflow["jobs"]["check"]["strategy"]["matrix"]["shard"] == list(range(1, shards + 1))
    [check] = [s["run"] for s in workflow["jobs"]["check"]["steps"] if s.get("name") == "Check this shard"]
    [merge] = [s["run"] for s in workflow["jobs"]["summary"]["steps"] if s.get("shell") == "python"]
    listing, flags = multi_domain_with_failures
    bin_dir, work, collected = tmp_path / "bin", tmp_path / "work", tmp_path / "work" / "shards"
    bin_dir.mkdir()
    collected.mkdir(parents=True)
    (work / "domains.txt").write_text(listing.read_text())
    tool = bin_dir / "mta-sts-pages"
    tool.write_text(f'#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} -m generator "$@" {shlex.join(flags)}\n')
    tool.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "SHARDS": str(shards), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    for shard in range(1, shards + 1):
        run = subprocess.run(["bash", "-e", "-c", check], cwd=work, env={**env, "SHARD": str(shard)}, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        (work / f"shard-{shard}.jsonl").rename(collected / f"shard-{shard}.jsonl")

    def summarize() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", merge], cwd=work, env=env, capture_output=True, text=True, timeout=30)

    merged = summarize()
    assert merged.returncode == 1, merged.stderr  # example-hosting.github.io has errors
    assert f"## MTA-STS check: 4 domains in {shards} of {shards} shards" in merged.stdout
    assert "3 ok, 0 with warnings, 1 with errors" in merged.stdout
    assert "| example-hosting.github.io | errors | sts-record-missing" in merged.stdout
    assert (tmp_path / "summary.md").read_text() == merged.stdout
    (collected / "shard-2.jsonl").unlink()
    assert "Shards without results: 2" in summarize().stdout


@pytest.mark.timeout(60)
def test_a_failing_worker_fails_the_run_with_its_own_error(tmp_path) -> None:
    """A list that vanishes after the check began: each worker's error comes
    back to the main process as the same clean usage error, not a hang."""
    from generator.check.options import make_options
    from generator.check.workers import check_all

    options = make_options(nameservers=["127.0.0.1:9"], ca_file=None, connect_to=[], timeout=2, concurrency=4, smtp=False)
    seen = []
    with pytest.raises(UsageError, match="--domains-file .*missing.txt"):
        check_all(Targets(domains_file=tmp_path / "missing.txt"), options, 2, str, lambda position, result: seen.append(result))
    assert seen == []


def test_an_empty_shard_checks_nothing_and_prints_nothing() -> None:
    """A matrix job whose shard holds no domain of the list: exit 0, no output,
    no report of no domains (and no network set up for nothing)."""
    from generator.check.targets import domain_hash

    empty = 2 - domain_hash("example.com") % 2  # the shard (1 or 2) example.com is not in
    run = run_cli("check", "example.com", "--shard", f"{empty}/2", "--format", "markdown", "--nameserver", "127.0.0.1:9")
    assert (run.code, run.out) == (0, ""), run.output
    assert "no domain to check falls in this shard" in run.err
