"""`check`: verify a live MTA-STS deployment the way a sending MTA sees it.

Only the command's code path imports this package, so the network stack
(asyncio, ssl, the DNS client) never loads for `build` or `--version`.
"""
