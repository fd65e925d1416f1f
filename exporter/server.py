"""HTTP endpoints: the telemetry path, /healthz, /readyz and a landing page.

Scrapes only copy pre-rendered bytes. Every error answer is a short plain-text line; no
traceback ever reaches a client.
"""

from __future__ import annotations

import contextlib
import html
import logging
import socket
import ssl
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exporter import __version__
from exporter.snapshot import Snapshot
from otb_common.webconfig import BasicAuth, WebConfig

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def choose_encoding(header: str | None) -> str | None:
    """Pick ``gzip`` or ``identity`` from Accept-Encoding, or None when neither is acceptable.

    Follows RFC 9110: q=0 forbids a coding, ``*`` covers the ones not named, identity is
    acceptable unless excluded. An unparseable q-value counts as 0 for its coding only.
    Like Prometheus' own exporters, gzip wins whenever the client accepts it.
    """
    if header is None or not header.strip():
        return "identity"
    weights: dict[str, float] = {}
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:
                    q = 0.0
        weights[coding] = q
    star = weights.get("*")
    gzip_q = weights.get("gzip", weights.get("x-gzip", star if star is not None else 0.0))
    identity_q = weights.get("identity", star if star is not None else 1.0)
    # A client that lists gzip gets it, unless it explicitly prefers identity.
    if gzip_q > 0 and gzip_q >= weights.get("identity", 0.0):
        return "gzip"
    if identity_q > 0:
        return "identity"
    return "gzip" if gzip_q > 0 else None


class _Handler(BaseHTTPRequestHandler):
    server: ExporterHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = f"openstack-telemetry-exporter/{__version__}"

    timeout = 30  # idle or trickling clients give their thread back

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._guarded(head=False)

    def do_HEAD(self) -> None:
        self._guarded(head=True)

    def do_POST(self) -> None:
        self._plain(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n", {"Allow": "GET, HEAD"})

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST  # noqa: N815 - names fixed by http.server

    def _guarded(self, head: bool) -> None:
        try:
            self._route(head)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception:
            log.exception("request failed", extra={"path": self.path[:200]})
            self._plain(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error\n", head=head)

    def _route(self, head: bool) -> None:
        srv = self.server
        if not srv.auth.check(self.headers.get("Authorization")):
            self._plain(
                HTTPStatus.UNAUTHORIZED,
                "unauthorized\n",
                {"WWW-Authenticate": 'Basic realm="openstack-telemetry-exporter"'},
                head=head,
            )
            return
        path = self.path.split("?", 1)[0]
        if path == srv.telemetry_path:
            self._metrics(head)
        elif path == "/healthz":
            self._plain(HTTPStatus.OK, "ok\n", head=head)
        elif path == "/readyz":
            if srv.snapshot.ready():
                self._plain(HTTPStatus.OK, "ready\n", head=head)
            else:
                self._plain(HTTPStatus.SERVICE_UNAVAILABLE, "not ready: no data yet\n", head=head)
        elif path == "/":
            self._landing(head)
        else:
            self._plain(HTTPStatus.NOT_FOUND, "not found\n", head=head)

    def _metrics(self, head: bool) -> None:
        body = self.server.snapshot.body()
        encoding = choose_encoding(self.headers.get("Accept-Encoding"))
        if encoding is None:
            self._plain(
                HTTPStatus.NOT_ACCEPTABLE,
                "no acceptable content-coding (gzip, identity)\n",
                head=head,
            )
            return
        headers = {"Content-Type": CONTENT_TYPE, "Vary": "Accept-Encoding"}
        if encoding == "gzip":
            headers["Content-Encoding"] = "gzip"
            self._send(HTTPStatus.OK, body.gzipped, headers, head)
        else:
            self._send_chunks(HTTPStatus.OK, body.chunks, body.length, headers, head)

    def _landing(self, head: bool) -> None:
        path = html.escape(self.server.telemetry_path)
        page = (
            "<!DOCTYPE html><html><head><title>OpenStack Telemetry Exporter</title></head>"
            f"<body><h1>OpenStack Telemetry Exporter {__version__}</h1><ul>"
            f'<li><a href="{path}">{path}</a></li>'
            '<li><a href="/healthz">/healthz</a></li><li><a href="/readyz">/readyz</a></li>'
            "</ul></body></html>\n"
        )
        self._send(HTTPStatus.OK, page.encode(), {"Content-Type": "text/html; charset=utf-8"}, head)

    def _plain(
        self,
        status: HTTPStatus,
        text: str,
        extra: dict[str, str] | None = None,
        head: bool = False,
    ) -> None:
        headers = {"Content-Type": "text/plain; charset=utf-8", **(extra or {})}
        self._send(status, text.encode(), headers, head)

    def _send(self, status: HTTPStatus, body: bytes, headers: dict[str, str], head: bool) -> None:
        self._send_chunks(status, (body,), len(body), headers, head)

    def _send_chunks(
        self,
        status: HTTPStatus,
        chunks: tuple[bytes, ...],
        length: int,
        headers: dict[str, str],
        head: bool,
    ) -> None:
        self.send_response(status)
        for key, value in {**self.server.extra_headers, **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if not head:
            self.wfile.writelines(chunks)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests: a one-line plain answer instead of http.server's HTML page."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # unparseable request line: still answer HTTP/1.x
            self.request_version = "HTTP/1.0"
        try:
            status = HTTPStatus(code)
        except ValueError:
            status = HTTPStatus.BAD_REQUEST
        self._plain(status, f"{status.phrase.lower()}\n", {"Connection": "close"})

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http", extra={"client": self.client_address[0], "line": format % args})


def _ipv6_works() -> bool:
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()
    except OSError:
        return False
    return True


class ExporterHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    # One thread per connection: bound them, so idle or hostile clients cannot exhaust the
    # process. Prometheus needs one kept-alive connection per server scraping.
    max_connections = 64

    def __init__(
        self,
        host: str,
        port: int,
        snapshot: Snapshot,
        telemetry_path: str,
        web: WebConfig,
    ) -> None:
        if not host:
            host = "::" if socket.has_ipv6 and _ipv6_works() else "0.0.0.0"  # noqa: S104
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.snapshot = snapshot
        self.telemetry_path = telemetry_path
        self.auth = BasicAuth(web.users)
        self.extra_headers = dict(web.headers)
        self._ssl = web.ssl_context()
        self._dual_stack = host == "::"
        self._slots = threading.BoundedSemaphore(self.max_connections)
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        if self._dual_stack:
            # One socket for both families when listening on every interface.
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        # Headers and body go out as two writes; without NODELAY, Nagle's algorithm holds the
        # body until the client's delayed ACK (~40 ms) on kept-alive connections.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._ssl is not None:
            sock.settimeout(10)
            sock = self._ssl.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            log.warning(
                "connection refused: too many open connections",
                extra={"client": client_address[0], "limit": self.max_connections},
            )
            if not isinstance(request, ssl.SSLSocket):
                with contextlib.suppress(OSError):
                    request.sendall(
                        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                        b"Connection: close\r\n\r\n"
                    )
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                log.debug(
                    "TLS handshake failed", extra={"client": client_address[0], "err": str(exc)}
                )
                return
            request.settimeout(None)
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error", extra={"client": client_address[0]}, exc_info=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        thread.start()
        return thread
