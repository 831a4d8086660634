"""GitHub's REST API through `gh api`: the one place for requests,
pagination, retries, rate limits and permission errors (api.py), and what
the monitor (issues.py) and `pages` (pages.py) ask of it. Never GraphQL:
every request is one of GitHub's published REST operations."""

import os


def token_given() -> bool:
    """Whether gh has a token from the environment (a workflow's, or one set
    on purpose): then `check -c`, `verify` and `monitor` add GitHub's view of
    each site. Cheap, for the commands' start-up."""
    return any(os.environ.get(name) for name in ("GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN"))
