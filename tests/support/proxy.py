"""A forward HTTP proxy on 127.0.0.1 for a process started with ``http_proxy`` pointing at it:
it passes every request on, except those a test wants answered otherwise (a proxy's own
error page with status 200, say), and it keeps the paths it answered itself.

Given ``upstream`` (``http://host:port``) it is a reverse proxy instead: requests with a
relative path go to that server, so a URL in a client's configuration (Keystone's
``auth_url`` in a copy of clouds.yaml) can point at it. Either way it logs every request:
when, method, path and the status it answered with (``Proxy.seen``)."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Answer for (method, path): None passes the request on; else (status, content type, body).
Answer = tuple[int, str, bytes]
Rule = Callable[[str, str], Answer | None]
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te"}


@dataclass(frozen=True, slots=True)
class Seen:
    at: float  # time.time() when the request arrived
    method: str
    path: str
    status: int
    bytes: int = 0  # the answer's body
    seconds: float = 0.0  # until the upstream's answer was read


@dataclass
class Proxy:
    port: int
    rule: Rule
    upstream: str | None = None
    answered: list[str] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    timeout: float = 60.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _handler(proxy_of: Callable[[], Proxy]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the test's output is what matters

        def _relay(self) -> None:
            proxy = proxy_of()
            arrived = time.time()
            target = urlsplit(self.path)  # absolute-form: http://host:port/path?query
            if proxy.upstream is not None and not target.hostname:
                target = urlsplit(proxy.upstream.rstrip("/") + self.path)
            path = target.path + (f"?{target.query}" if target.query else "")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            own = proxy.rule(self.command, target.path)
            if own is not None:
                proxy.answered.append(target.path)
                self._answer(own[0], [("Content-Type", own[1])], own[2])
                proxy.seen.append(Seen(arrived, self.command, target.path, own[0]))
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            conn = http.client.HTTPConnection(
                target.hostname or "", target.port or 80, timeout=proxy.timeout
            )
            data, took = b"", 0.0
            started = time.perf_counter()
            try:
                conn.request(self.command, path, body, headers)
                resp = conn.getresponse()
                data = resp.read()
                took = time.perf_counter() - started
                kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP]
                status = resp.status
                self._answer(status, kept, data)
            except OSError as exc:
                status = 502
                self._answer(502, [("Content-Type", "text/plain")], str(exc).encode())
            finally:
                conn.close()
            proxy.seen.append(Seen(arrived, self.command, target.path, status, len(data), took))

        def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, val in headers:
                if name.lower() != "content-length":
                    self.send_header(name, val)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay  # noqa: N815 - http.server's names

    return Handler


def pass_all(method: str, path: str) -> Answer | None:
    """The rule of a proxy that only passes requests on (and logs them)."""
    return None


@contextmanager
def http_proxy(
    rule: Rule = pass_all, upstream: str | None = None, timeout: float = 60.0
) -> Iterator[Proxy]:
    """The proxy, serving in a thread until the block ends; a reverse proxy to ``upstream``'s
    scheme, host and port when given. ``timeout``: how long it waits for the upstream."""
    holder: list[Proxy] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(lambda: holder[0]))
    server.daemon_threads = True
    origin = None
    if upstream is not None:  # only its scheme, host and port: the client's path is kept
        parts = urlsplit(upstream)
        origin = f"{parts.scheme}://{parts.netloc}"
    holder.append(Proxy(int(server.server_address[1]), rule, origin, timeout=timeout))
    thread = threading.Thread(target=server.serve_forever, name="test-proxy", daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
