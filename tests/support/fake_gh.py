#!/usr/bin/env python3
"""A recording stand-in for GitHub's `gh` CLI: the issues API has no local
equivalent, so the process boundary is where the test stands in.

It keeps the repository's labels and issues in the JSON file named by
FAKE_GH_STATE, records every call there (argv and stdin), and answers the
few commands the monitor uses the way gh 2.x does: `issue list --json` and
`label list --json` print a JSON array, `issue create` prints the new issue's URL, a missing
label or issue is an error. Like gh, it refuses to run without GH_TOKEN and,
outside a clone, without GH_REPO.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def main() -> int:
    state_path = Path(os.environ["FAKE_GH_STATE"])
    state = json.loads(state_path.read_text()) if state_path.exists() else {"labels": [], "issues": [], "calls": []}
    stdin = sys.stdin.read() if "-" in sys.argv else None
    state["calls"].append({"args": sys.argv[1:], "stdin": stdin, "repo": os.environ.get("GH_REPO")})
    try:
        code = run(state, sys.argv[1:], stdin)
    finally:
        state_path.write_text(json.dumps(state, indent=2))
    return code


def fail(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


def run(state: dict, argv: list[str], stdin: str | None) -> int:
    if not os.environ.get("GH_TOKEN"):
        return fail("To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable.", 4)
    if not os.environ.get("GH_REPO"):
        return fail("failed to determine base repo: no git remotes found")
    parser = argparse.ArgumentParser(prog="gh", exit_on_error=False)
    parser.add_argument("group")
    parser.add_argument("verb")
    parser.add_argument("target", nargs="?")
    for flag in ("--label", "--state", "--json", "--limit", "--title", "--body-file", "--color", "--description", "--comment", "--search"):
        parser.add_argument(flag)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    body = stdin if args.body_file == "-" else None
    issues = state["issues"]

    def issue(number: str | None) -> dict | None:
        return next((i for i in issues if str(i["number"]) == number), None)

    match (args.group, args.verb):
        case ("label", "list"):
            # --search matches names and descriptions, case-insensitively, as on GitHub.
            found = [n for n in state["labels"] if args.search is None or args.search.lower() in n.lower()]
            print(json.dumps([{"name": n} for n in found[: int(args.limit or 30)]]))
            return 0
        case ("label", "create"):
            if args.target in state["labels"] and not args.force:
                return fail(f"label with name \"{args.target}\" already exists; use `--force` to update its color and description")
            if args.target not in state["labels"]:
                state["labels"].append(args.target)
            return 0
        case ("issue", "list"):
            wanted = [i for i in issues if (args.state in (None, "all") or i["state"] == args.state)
                      and (args.label is None or args.label in i["labels"])]
            fields = args.json.split(",")
            print(json.dumps([{f: i[f] for f in fields} for i in wanted[: int(args.limit or 30)]]))
            return 0
        case ("issue", "create"):
            # gh matches label names ignoring case, as GitHub does.
            if args.label and args.label.lower() not in {n.lower() for n in state["labels"]}:
                return fail(f"could not add label: '{args.label}' not found")
            number = len(issues) + 1
            issues.append({"number": number, "title": args.title, "body": body, "labels": [args.label] if args.label else [],
                           "state": "open", "comments": []})
            print(f"https://github.com/{os.environ['GH_REPO']}/issues/{number}")
            return 0
        case ("issue", "comment" | "edit" | "close") if issue(args.target) is None:
            return fail(f"GraphQL: Could not resolve to an issue or pull request with the number of {args.target}.")
        case ("issue", "comment"):
            issue(args.target)["comments"].append(body)
            return 0
        case ("issue", "edit"):
            issue(args.target)["body"] = body
            return 0
        case ("issue", "close"):
            if args.comment is not None:
                issue(args.target)["comments"].append(args.comment)
            issue(args.target)["state"] = "closed"
            return 0
    return fail(f"unknown command {args.group} {args.verb} for the stand-in")


if __name__ == "__main__":
    sys.exit(main())
