"""A real IMAP server (Dovecot) on 127.0.0.1 with implicit TLS from the test CA.

Everything Dovecot writes (config, sockets, state, log, the mail) stays in a
caller-given working directory. One user, password in a passwd-file, its
mail a Maildir the test fills before or while the server runs.

Run as root (CI), Dovecot refuses to serve mail as uid 0 and its login
processes refuse to run as root, so: logins run as Debian's ``dovenull``,
internal services as ``dovecot``, mail as ``nobody``, chrooted into the
user's home (the chroot is entered as root, so the home may sit below a
private pytest folder). Run as another user, everything runs as that user.
"""

from __future__ import annotations

import grp
import imaplib
import mailbox
import os
import pwd
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from .certs import LocalCA
from .server import HOST, Server
from .tools import find_tool

_BIND_ATTEMPTS = 5
HOSTNAME = "imap.example.test"


class DovecotError(RuntimeError):
    """Dovecot did not start or did not answer in time; the message holds its log."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _identities() -> dict[str, str]:
    if os.geteuid() == 0:
        return {"login": "dovenull", "internal": "dovecot", "mail_user": "nobody",
                "mail_group": grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name, "chroot": "/./"}
    me = pwd.getpwuid(os.geteuid())
    return {"login": me.pw_name, "internal": me.pw_name, "mail_user": me.pw_name,
            "mail_group": grp.getgrgid(me.pw_gid).gr_name, "chroot": ""}


def _config(workdir: Path, port: int, ids: dict[str, str]) -> str:
    root = os.geteuid() == 0
    # Without root there is no chroot: every service runs as this user.
    login_chroot = "" if root else "  chroot =\n"
    # No penalty for the refused logins the tests make on purpose: Dovecot's
    # anvil delays every later login from the address by 2, 4, 8... seconds.
    anvil = "service anvil {\n" + ("" if root else "  chroot =\n") + "  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}\n"
    return f"""base_dir = {workdir}/run
state_dir = {workdir}/state
log_path = {workdir}/dovecot.log
protocols = imap
listen = {HOST}
ssl = required
ssl_cert = <{workdir}/cert.pem
ssl_key = <{workdir}/key.pem
default_login_user = {ids["login"]}
default_internal_user = {ids["internal"]}
auth_mechanisms = plain
# A refused login is answered at once (Dovecot waits 2 s by default, against guessing).
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {workdir}/passwd
}}
userdb {{
  driver = static
  args = uid={ids["mail_user"]} gid={ids["mail_group"]} home={workdir}/home/%u{ids["chroot"]}
}}
mail_location = maildir:~/Maildir
valid_chroot_dirs = {workdir}/home
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
{login_chroot}}}
service auth {{
  user = {"root" if root else ids["internal"]}
}}
{anvil}"""


class DovecotServer(Server):
    """A running Dovecot; ``maildir`` is the one user's INBOX."""

    def __init__(self, workdir: Path, user: str, password: str, ca: LocalCA) -> None:
        self.workdir = workdir
        self.user = user
        self.password = password
        self.ca = ca
        self.home = workdir / "home" / user
        self.home.mkdir(parents=True)
        self.maildir = mailbox.Maildir(self.home / "Maildir", create=True)
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def add(self, message: bytes, flags: str = "", received: float | None = None) -> None:
        """Deliver ``message`` to the INBOX with Maildir ``flags`` (e.g. "S" for
        \\Seen), ``received`` at that Unix time (its IMAP INTERNALDATE, which
        Dovecot takes from the file's modification time) or now."""
        self.add_many([(message, received)], flags)

    def add_many(self, messages: Iterable[tuple[bytes, float | None]], flags: str = "") -> None:
        """:meth:`add` for each ``(message, received)``, handing them to the mail user once."""
        for message, received in messages:
            entry = mailbox.MaildirMessage(message)
            if flags:
                entry.set_subdir("cur")
                entry.set_flags(flags)
            key = self.maildir.add(entry)
            if received is not None:
                info = self.maildir.colon + entry.get_info() if entry.get_info() else ""
                os.utime(self.home / "Maildir" / entry.get_subdir() / (key + info), (received, received))
        self._give_mail_to_its_user()

    def _give_mail_to_its_user(self) -> None:
        ids = _identities()
        uid, gid = pwd.getpwnam(ids["mail_user"]).pw_uid, grp.getgrnam(ids["mail_group"]).gr_gid
        for folder, dirs, files in os.walk(self.home):
            for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                os.chown(name, uid, gid)

    def client(self) -> imaplib.IMAP4_SSL:
        """A logged-in client of the test's own, to look at the mailbox."""
        context = ssl.create_default_context(cafile=str(self.ca.pem_path))
        connection = imaplib.IMAP4_SSL(HOST, self.port, ssl_context=context, timeout=10)
        # LOGIN sends ASCII only; SASL PLAIN carries a UTF-8 password.
        connection.authenticate("PLAIN", lambda _: f"\0{self.user}\0{self.password}".encode())
        return connection

    def log(self) -> str:
        path = self.workdir / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> DovecotServer:
        dovecot = find_tool("dovecot")
        if dovecot is None:
            raise DovecotError("dovecot not found (apt-get install -y dovecot-imapd)")
        leaf = self.ca.ca.issue_cert(HOSTNAME, "127.0.0.1")
        leaf.cert_chain_pems[0].write_to_path(str(self.workdir / "cert.pem"))
        leaf.private_key_pem.write_to_path(str(self.workdir / "key.pem"))
        (self.workdir / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        self._give_mail_to_its_user()
        for _ in range(_BIND_ATTEMPTS):
            if self._launch(dovecot):
                return self
        raise DovecotError(f"Dovecot found no free port in {_BIND_ATTEMPTS} attempts")

    def _launch(self, dovecot: str, timeout: float = 20.0) -> bool:
        self.port = _free_port()
        config = self.workdir / "dovecot.conf"
        config.write_text(_config(self.workdir, self.port, _identities()))
        (self.workdir / "dovecot.log").unlink(missing_ok=True)
        with open(self.workdir / "dovecot.stderr", "wb") as stderr:
            self.process = subprocess.Popen([dovecot, "-F", "-c", str(config)], stdin=subprocess.DEVNULL,
                                            stdout=stderr, stderr=stderr, start_new_session=True)
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                return True
            except OSError:
                time.sleep(0.05)
        exit_code = self.process.poll()
        self.stop()
        output = (self.workdir / "dovecot.stderr").read_text(errors="replace") + self.log()
        if "Address already in use" in output:
            return False
        state = f"did not listen within {timeout}s" if exit_code is None else f"exited with code {exit_code}"
        raise DovecotError(f"Dovecot on {self.address} {state}:\n{output}")

    def stop(self) -> None:
        # Killed with all its processes at once: on SIGTERM Dovecot's master
        # takes a second to shut them down, for mail the test throws away.
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
