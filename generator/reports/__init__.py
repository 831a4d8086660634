"""TLS reports (RFC 8460 §4): read them from files, mail and IMAP, sum them per
policy domain, and say when moving a policy from testing to enforce is safe.

Layers: ``parse`` (one JSON document to dataclasses, pure), ``sources``
(files, e-mails, mboxes, Maildirs, folders to report payloads), ``imap`` (a
mailbox over TLS, read-only), ``collect`` (payloads to de-duplicated,
filtered reports plus the inputs that failed), ``command`` (what the
`reports` and `promote` commands share), ``summary``, ``advice``, ``ready``
and ``render`` (pure), ``promote`` (the one-line config edit), ``evidence``
(what the monitor shows and judges for each domain).
"""
