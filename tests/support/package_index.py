"""A real package index on 127.0.0.1: pypiserver, in a process of its own,
on a port the system chose, with no fallback to PyPI (a package it does not
hold is missing, never fetched from elsewhere) and uploads without a login."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# wsgiref with a thread per request (uv asks in parallel), bound to port 0 so
# no other process can take the port between choosing and binding it.
_SERVE = """
import socketserver, sys, pypiserver
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

class Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

# Bottle keeps an upload's form fields in memory up to 100 KiB in all, less
# than the README that twine sends as the description.
from pypiserver import bottle
bottle.BaseRequest.MEMFILE_MAX = 16 * 2**20
app = pypiserver.app(roots=[sys.argv[1]], authenticate=[], password_file=".", disable_fallback=True)
server = make_server("127.0.0.1", 0, app, server_class=Server, handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
"""


@contextmanager
def package_index(packages: Path) -> Iterator[str]:
    """Serve the files in `packages`; yields the index's base URL (…/simple/
    for installers, the base itself for twine's uploads)."""
    process = subprocess.Popen([sys.executable, "-c", _SERVE, str(packages)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.strip().isdigit(), f"pypiserver did not start: {line}{process.stderr.read() if process.poll() is not None else ''}"
        url = f"http://127.0.0.1:{int(line)}/"
        with urllib.request.urlopen(url + "simple/", timeout=10) as answer:
            assert answer.status == 200
        yield url
    finally:
        process.kill()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()
