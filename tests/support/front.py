"""A test-owned HTTP/1.1 server on 127.0.0.1 whose answers a function decides: it stands in
for Alertmanager, or for a reverse proxy in front of a real one. Connections are kept alive
after every answer, error statuses included, as proxies do; that is what a client that leaves
part of an answer unread trips over."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# (path, body) -> (status, body of the answer)
Answer = Callable[[str, bytes], tuple[int, bytes]]


@dataclass(frozen=True)
class Seen:
    path: str
    body: bytes
    status: int


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer: Answer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet as well: a client that hangs up mid-answer is what some tests are about."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle kept-alive connection ends its thread eventually
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, out = self.server.answer(self.path, body)
        with self.server.lock:
            self.server.seen.append(Seen(self.path, body, status))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads ``seen``, not a log."""


class Front:
    def __init__(self, answer: Answer) -> None:
        self._server = _Server(answer)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def seen(self) -> list[Seen]:
        with self._server.lock:
            return list(self._server.seen)

    def start(self) -> Front:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


@contextmanager
def front(answer: Answer) -> Iterator[Front]:
    server = Front(answer).start()
    try:
        yield server
    finally:
        server.close()


def forward(url: str, path: str, body: bytes) -> tuple[int, bytes]:
    """POST ``body`` to ``path`` of ``url``, as a reverse proxy passes a request on."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=10)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()
