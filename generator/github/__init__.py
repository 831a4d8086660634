"""GitHub's REST API through `gh api`: the one place for requests,
pagination, retries, rate limits and permission errors (api.py), and what
the monitor (issues.py) and `pages` (pages.py) ask of it. Never GraphQL:
every request is one of GitHub's published REST operations."""
