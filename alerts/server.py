"""The production WSGI servers: waitress for plain HTTP; cheroot when TLS is configured,
because waitress does not speak TLS. Both are threaded, pure Python, and serve the same app."""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from flask import Flask

from otb_common.webconfig import WebConfig

log = logging.getLogger("aodh-alertmanager-bridge.http")


class Server(Protocol):
    port: int

    def serve(self) -> None: ...
    def close(self) -> None: ...


class _Waitress:
    def __init__(self, app: Flask, host: str, port: int, threads: int) -> None:
        from waitress.server import create_server  # noqa: PLC0415

        self._server: Any = create_server(
            app,
            host=host or "0.0.0.0",  # noqa: S104 - an empty host means every interface
            port=port,
            threads=threads,
            ident="aodh-alertmanager-bridge",
            connection_limit=1000,
            channel_timeout=60,
            # Bodies over 1 MiB get the app's JSON 413 (and are counted); waitress itself
            # refuses, unread and in plain text, only what is beyond 8 MiB.
            max_request_body_size=8 * 1024 * 1024,
            expose_tracebacks=False,
        )
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


class _Cheroot:
    def __init__(self, app: Flask, host: str, port: int, threads: int, web: WebConfig) -> None:
        from cheroot import wsgi  # noqa: PLC0415
        from cheroot.ssl.builtin import BuiltinSSLAdapter  # noqa: PLC0415

        if web.tls is None:
            raise ValueError("cheroot serves only the TLS case")
        self._server: Any = wsgi.Server(
            (host or "0.0.0.0", port),  # noqa: S104 - an empty host means every interface
            app,
            numthreads=threads,
            server_name="aodh-alertmanager-bridge",
        )
        adapter = BuiltinSSLAdapter(web.tls.cert_file, web.tls.key_file)
        adapter.context = web.ssl_context()
        self._server.ssl_adapter = adapter
        self._server.prepare()
        self.port = int(self._server.bind_addr[1])

    def serve(self) -> None:
        self._server.serve()

    def close(self) -> None:
        self._server.stop()


def make_server(app: Flask, host: str, port: int, threads: int, web: WebConfig) -> Server:
    if web.tls is not None:
        return _Cheroot(app, host, port, threads, web)
    return _Waitress(app, host, port, threads)


def serve_in_thread(server: Server) -> threading.Thread:
    thread = threading.Thread(target=server.serve, name="http", daemon=True)
    thread.start()
    return thread
