"""Publishing the DNS records through an octoDNS provider (`dns diff`, `dns apply`).

model: the `dns:` config section; owned: which records and values this tool
owns and the zone it wants; order: when a new `_mta-sts` id may go out
(RFC 8461 §8.1); octo: the octoDNS glue; command: the commands' flow.
Only `model` is imported when a config is read; the rest, and octoDNS, only
by the `dns` commands.
"""
