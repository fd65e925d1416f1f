"""The production HTTP server: waitress, for plain HTTP and for TLS alike.

Waitress reads every request in one event-loop thread, up to its last body byte, before a
worker thread runs the app: a silent, slow or idle client costs a connection slot, never a
worker. TLS is a layer under waitress's HTTP channel: an in-memory TLS engine
(``ssl.SSLObject`` over two ``ssl.MemoryBIO``) that the same loop feeds with the records read
from the socket and drains into it. Both modes therefore share one parser, one event loop and
one set of limits (``Limits``); only the bytes on the wire differ.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import resource
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask
from waitress.channel import HTTPChannel

from otb_common.webconfig import WebConfig

log = logging.getLogger("aodh-alertmanager-bridge.http")

# Request line and headers together; beyond it waitress answers 431 (nothing reaches the app).
MAX_HEADER_BYTES = 64 * 1024
# Bodies over alerts.payload.MAX_BODY (1 MiB) get the app's JSON 413, and are counted; above
# this the server itself answers 413 in plain text from the Content-Length alone, unread, or
# as soon as a chunked body grows past it.
HARD_MAX_BODY = 8 * 1024 * 1024
# What one read takes from a TLS socket: a few full TLS records (16 KiB of plain text each).
_TLS_READ = 64 * 1024
# Besides the connections, waitress's socket map holds the listening socket and its wake-up
# pipe, and it stops accepting when the map reaches its connection_limit.
_MAP_OVERHEAD = 2
# File descriptors the process needs besides its HTTP connections (state store, log, the
# connections to Alertmanager and the Aodh API).
_FD_HEADROOM = 256
_GONE = frozenset({errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN, errno.EPIPE, errno.EBADF})


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits of both modes; header and body sizes are the module's constants."""

    threads: int = 32
    max_connections: int = 1000
    idle_timeout: int = 60  # seconds without a byte in either direction, request not in the app


class Server(Protocol):
    port: int

    def serve(self) -> None: ...
    def close(self) -> None: ...


def _ipv6_works() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()
    except OSError:
        return False
    return True


def listen_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket, as the exporter binds its own: an empty host means every interface,
    IPv4 and IPv6 on one socket (IPv4 only where the host has no IPv6); ``::`` is dual-stack
    too; any other address is bound as given."""
    if not host:
        host = "::" if _ipv6_works() else "0.0.0.0"  # noqa: S104 - every interface, on purpose
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            v6_only = 0 if host == "::" else 1
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6_only)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _enough_file_descriptors(connections: int) -> None:
    """Raise the soft open-files limit towards the hard one when the connection limit needs
    it (systemd's default soft limit is 1024); warn when even the hard limit is short."""
    wanted = connections + _FD_HEADROOM
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        log.warning(
            "open-files limit below server.max_connections; raise LimitNOFILE",
            extra={"limit": target, "max_connections": connections},
        )


class _TLSChannel(HTTPChannel):  # type: ignore[misc] # waitress has no type information
    """Waitress's HTTP channel with TLS between it and the socket.

    Reads: the records read from the socket go into the TLS engine, and every byte of plain
    text it yields goes to waitress at once (none is left inside the engine, where the event
    loop could not see it). Writes: waitress's ``send`` encrypts its chunk and puts the records
    on the socket; records the socket does not take yet wait in ``_records``, the channel stays
    writable, and no further chunk is taken until they are out. A close waits for them too.
    One lock guards the engine and ``_records``: the loop thread reads, worker threads write.
    """

    context: ssl.SSLContext  # set by tls_channel() on a subclass per server

    def __init__(
        self, server: Any, sock: socket.socket, addr: Any, adj: Any, map: Any = None
    ) -> None:
        self._lock = threading.Lock()
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = self.context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._handshaken = False
        self._records = bytearray()
        self._closing = False
        super().__init__(server, sock, addr, adj, map)

    # -- the event loop's side ----------------------------------------------------------------

    def readable(self) -> bool:
        return not self._closing and bool(super().readable())

    def writable(self) -> bool:
        return bool(self._records) or bool(super().writable())

    def handle_read(self) -> None:
        try:
            raw = self.socket.recv(_TLS_READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._abort()
            return
        if not raw:  # the client closed the connection
            self._abort()
            return
        self.last_activity = time.time()
        try:
            with self._lock:
                self._incoming.write(raw)
                plain, ended = self._decrypt()
                self._put_records()
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS connection failed", extra={"client": self._client(), "err": str(exc)})
            self._abort()
            return
        if plain:
            self.received(plain)
        if ended:  # close_notify: as an end of stream on a plain connection
            self._abort()

    def handle_write(self) -> None:
        try:
            with self._lock:
                sent_all = self._put_records()
        except OSError:
            self._abort()
            return
        if not sent_all:
            return
        if self._closing:
            self._abort()
            return
        super().handle_write()

    def handle_close(self) -> None:
        """Waitress closes once its buffers are flushed: say close_notify, and let the records
        still queued go out first (handle_write closes when they have)."""
        if not self._closing and self.socket is not None:
            self._closing = True
            try:
                with self._lock:
                    if self._handshaken:
                        # Queues close_notify; the client's own is not waited for.
                        with contextlib.suppress(ssl.SSLError):
                            self._tls.unwrap()
                    if not self._put_records():
                        return
            except OSError:
                pass
        super().handle_close()

    # -- any thread: waitress's send, called from the loop and from worker threads ------------

    def send(self, data: bytes | memoryview, do_close: bool = True) -> int:
        try:
            with self._lock:
                if not self._handshaken or not self._put_records():
                    return 0  # earlier records first; waitress keeps the chunk and retries
                written = int(self._tls.write(data))
                self._put_records()
        except (ssl.SSLError, OSError) as exc:
            if isinstance(exc, ssl.SSLError) or exc.errno in _GONE:
                if do_close:
                    self.handle_close()
                return 0
            raise
        return written

    # -- helpers, with the lock held -------------------------------------------------------------

    def _decrypt(self) -> tuple[bytes, bool]:
        """All the plain text the records received so far make, and whether the client sent
        close_notify. Finishes the handshake first."""
        if not self._handshaken:
            try:
                self._tls.do_handshake()
            except ssl.SSLWantReadError:
                return b"", False
            self._handshaken = True
        parts: list[bytes] = []
        while True:
            try:
                part = self._tls.read(_TLS_READ)
            except ssl.SSLWantReadError:
                return b"".join(parts), False
            except ssl.SSLZeroReturnError:
                return b"".join(parts), True
            if not part:
                return b"".join(parts), True
            parts.append(part)

    def _put_records(self) -> bool:
        """Move the engine's output to the socket; True once nothing is left waiting. Bytes
        going out are activity, as waitress counts them on plain connections: a slow reader
        of a long answer is not idle."""
        self._records += self._outgoing.read()
        while self._records:
            try:
                sent = self.socket.send(self._records)
            except (BlockingIOError, InterruptedError):
                return False
            del self._records[:sent]
            self.last_activity = time.time()
        return True

    def _abort(self) -> None:
        """Close now, whatever is still queued: the client is gone or broke the protocol."""
        self._closing = True
        super().handle_close()

    def _client(self) -> str:
        return str(self.addr[0]) if self.addr else "?"


def tls_channel(context: ssl.SSLContext) -> type[_TLSChannel]:
    """A channel class bound to one server's TLS context."""
    return type("TLSChannel", (_TLSChannel,), {"context": context})


class WaitressServer:
    def __init__(self, app: Flask, host: str, port: int, limits: Limits, web: WebConfig) -> None:
        from waitress.server import create_server  # noqa: PLC0415

        context = web.ssl_context()
        _enough_file_descriptors(limits.max_connections)
        sock = listen_socket(host, port)
        try:
            self._server: Any = create_server(
                app,
                sockets=[sock],
                threads=limits.threads,
                ident="aodh-alertmanager-bridge",
                url_scheme="https" if context is not None else "http",
                connection_limit=limits.max_connections + _MAP_OVERHEAD,
                channel_timeout=limits.idle_timeout,
                cleanup_interval=1,  # idle connections are looked for every second
                max_request_header_size=MAX_HEADER_BYTES,
                max_request_body_size=HARD_MAX_BODY,
                expose_tracebacks=False,
                # poll(2), not select(2): select cannot watch descriptors above 1023, and a
                # thousand connections plus the process's own files get there.
                asyncore_use_poll=True,
            )
        except BaseException:
            sock.close()
            raise
        if context is not None:
            self._server.channel_class = tls_channel(context)
        self.port = int(self._server.effective_port)
        self._closing = threading.Event()

    def serve(self) -> None:
        try:
            self._server.run()
        except (OSError, ValueError):
            # The loop can lose its sockets to close() from another thread: that is the end.
            if not self._closing.is_set():
                raise

    def close(self) -> None:
        """Finish the requests in hand first, then close the sockets they would write to."""
        self._closing.set()
        self._server.task_dispatcher.shutdown(cancel_pending=False, timeout=5)
        self._server.close()


def make_server(app: Flask, host: str, port: int, limits: Limits, web: WebConfig) -> Server:
    return WaitressServer(app, host, port, limits, web)


def serve_in_thread(server: Server) -> threading.Thread:
    thread = threading.Thread(target=server.serve, name="http", daemon=True)
    thread.start()
    return thread
