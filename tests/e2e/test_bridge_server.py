"""The bridge's HTTP server as a client meets it, over plain HTTP and over TLS alike: where it
listens (``:PORT`` is IPv4 and IPv6), and the same limits in both modes: request headers,
the body's hard limit, worker threads that silent clients cannot hold, the idle timeout and
the connection limit (docs/configuration.md, "server").

Every test runs once per mode; the figures below are the documented limits.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from tests.support.bridge import BridgeProcess, aodh_payload, run_bridge, state_args
from tests.support.metrics import parse_samples
from tests.support.servers import require
from tests.support.testbed import poll
from tests.support.tls import tls_web_config

HEADER_LIMIT = 64 * 1024  # request line and headers
HARD_BODY_LIMIT = 8 * 1024 * 1024  # the server's own 413; the app's JSON one is above 1 MiB
APP_BODY_LIMIT = 1024 * 1024
DEAD_AM = "http://127.0.0.1:1"
MODES = ["plain", "tls"]


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@contextmanager
def bridge_in(
    mode: str, tmp_path: Path, config: str | None = None, listen: str = "127.0.0.1:0"
) -> Iterator[BridgeProcess]:
    """A bridge in ``mode`` (plain or TLS), optionally with a --config.file."""
    extra: list[str] = []
    tls: ssl.SSLContext | None = None
    if mode == "tls":
        web, tls = tls_web_config(tmp_path)
        extra += ["--web.config.file", str(web)]
    if config is not None:
        path = tmp_path / "bridge.yml"
        path.write_text(config, encoding="utf-8")
        extra += ["--config.file", str(path)]
    args = state_args(tmp_path / "state.db", [DEAD_AM], *extra)
    with run_bridge(args, listen=listen, tls=tls) as bridge:
        yield bridge


def _connect(
    bridge: BridgeProcess, host: str | None = None, timeout: float = 30.0
) -> socket.socket:
    """A connection that has said nothing yet (over TLS: the handshake is done)."""
    sock = socket.create_connection((host or bridge.host, bridge.port), timeout=timeout)
    if bridge.tls is None:
        return sock
    return bridge.tls.wrap_socket(sock, server_hostname=host or bridge.host)


def _silent(bridge: BridgeProcess) -> socket.socket:
    """A TCP connection that never sends a byte: not even a TLS ClientHello."""
    return socket.create_connection((bridge.host, bridge.port), timeout=30)


def _still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def _closed_by_server(sock: socket.socket) -> bool:
    """Blocks until the server closes ``sock`` (or the socket's generous timeout)."""
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, ssl.SSLError):
        return True
    except TimeoutError:
        return False


def _ends(sock: socket.socket, most: int = 65536) -> bool:
    """Reads until the server closes ``sock``: True if it does within ``most`` bytes."""
    seen = 0
    while seen <= most:
        try:
            data = sock.recv(4096)
        except (ConnectionResetError, ssl.SSLError):
            return True
        except TimeoutError:
            return False
        if not data:
            return True
        seen += len(data)
    return False


def _read_response(stream: BinaryIO) -> tuple[int, dict[str, str], bytes]:
    """One response with a Content-Length from a buffered stream (responses back to back)."""
    status_line = stream.readline()
    assert status_line.startswith(b"HTTP/1."), status_line
    headers: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = stream.read(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def _exchange(sock: socket.socket, request: bytes) -> tuple[int, dict[str, str], bytes]:
    sock.sendall(request)
    with sock.makefile("rb") as stream:
        return _read_response(stream)


def _get(path: str, extra: str = "", close: bool = False) -> bytes:
    connection = "Connection: close\r\n" if close else ""
    return f"GET {path} HTTP/1.1\r\nHost: bridge\r\n{extra}{connection}\r\n".encode()


# -- item 5: where it listens -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_every_interface_means_ipv4_and_ipv6(mode: str, tmp_path: Path) -> None:
    require(_ipv6_loopback(), "this machine has no IPv6 loopback (::1)")
    with bridge_in(mode, tmp_path, listen=":0") as bridge:
        for host in ("127.0.0.1", "::1"):
            with _connect(bridge, host) as sock:
                status, _, body = _exchange(sock, _get("/healthz", close=True))
            assert (status, json.loads(body)["status"]) == (200, "ok"), host


@pytest.mark.parametrize("mode", MODES)
def test_explicit_hosts_are_bound_as_given(mode: str, tmp_path: Path) -> None:
    ipv6 = _ipv6_loopback()
    with bridge_in(mode, tmp_path, listen="127.0.0.1:0") as bridge:
        assert bridge.request("GET", "/healthz").status == 200
        if ipv6:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("::1", bridge.port), timeout=10).close()
    if not ipv6:
        return
    (tmp_path / "v6").mkdir()
    with bridge_in(mode, tmp_path / "v6", listen="[::1]:0") as bridge:
        assert bridge.request("GET", "/healthz").status == 200
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", bridge.port), timeout=10).close()


# -- item 6: the same limits in both modes -----------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_headers_over_the_limit_are_refused(mode: str, tmp_path: Path) -> None:
    with bridge_in(mode, tmp_path) as bridge:
        with _connect(bridge) as sock:
            fits = "X-Padding: " + "p" * (HEADER_LIMIT - 1024) + "\r\n"
            status, _, _ = _exchange(sock, _get("/healthz", fits))
            assert status == 200
        with _connect(bridge) as sock:
            too_big = "X-Padding: " + "p" * HEADER_LIMIT + "\r\n"
            status, headers, body = _exchange(sock, _get("/healthz", too_big))
        assert status == 431, body[:200]
        assert headers["content-type"].startswith("text/plain")
        assert bridge.alive()


@pytest.mark.parametrize("mode", MODES)
def test_body_over_the_hard_limit_is_refused_unread(mode: str, tmp_path: Path) -> None:
    """Over 8 MiB the server answers 413 from the Content-Length alone, before the app (so
    uncounted); between 1 and 8 MiB the app answers its JSON 413 (and counts it)."""
    head = (
        "POST /v1/aodh HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\n"
        "Content-Length: {}\r\n\r\n"
    )
    with bridge_in(mode, tmp_path) as bridge:
        with _connect(bridge) as sock:
            # Nothing of the body is sent: the answer must not wait for it.
            status, headers, body = _exchange(sock, head.format(HARD_BODY_LIMIT + 1).encode())
        assert status == 413, body[:200]
        assert headers["content-type"].startswith("text/plain")
        too_large = ("aodh_bridge_webhooks_received_total", frozenset({("outcome", "too_large")}))
        assert parse_samples(bridge.metrics()).get(too_large, 0) == 0

        payload: dict[str, Any] = aodh_payload("big")
        payload["reason"] = "x" * (APP_BODY_LIMIT + 1)
        resp = bridge.post(payload)
        assert resp.status == 413
        assert json.loads(resp.body)["error"] == "too_large"
        assert parse_samples(bridge.metrics())[too_large] == 1


@pytest.mark.parametrize("mode", MODES)
def test_silent_connections_hold_no_worker_thread(mode: str, tmp_path: Path) -> None:
    """Connections that never send a byte (not even a TLS ClientHello), three times as many
    as there are worker threads, do not keep a request from being answered: it is answered
    while every one of them is still open (not after the server gave up on them)."""
    with bridge_in(mode, tmp_path, "server:\n  threads: 2\n") as bridge:
        silent = [_silent(bridge) for _ in range(6)]
        try:
            with _connect(bridge, timeout=120) as sock:
                status, _, _ = _exchange(sock, _get("/healthz", close=True))
            assert status == 200
            assert [_still_open(s) for s in silent] == [True] * len(silent)
        finally:
            for s in silent:
                s.close()


@pytest.mark.parametrize("mode", MODES)
def test_idle_connections_are_closed(mode: str, tmp_path: Path) -> None:
    """``server.idle_timeout``: a connection that never sends a byte, and a kept-alive one
    after its request, are both closed by the server (waited for with a generous bound)."""
    with bridge_in(mode, tmp_path, "server:\n  idle_timeout: 1s\n") as bridge:
        silent = _silent(bridge)
        kept = _connect(bridge)
        try:
            status, headers, _ = _exchange(kept, _get("/healthz"))
            assert status == 200
            assert headers.get("connection", "").lower() != "close"
            assert _closed_by_server(silent)
            assert _closed_by_server(kept)
        finally:
            silent.close()
            kept.close()
        assert bridge.request("GET", "/healthz").status == 200


@pytest.mark.parametrize("mode", MODES)
def test_connection_limit(mode: str, tmp_path: Path) -> None:
    """``server.max_connections``: at the limit, a new connection waits (in the listen
    backlog, not refused) until one of the open ones closes; then it is served."""
    with bridge_in(mode, tmp_path, "server:\n  max_connections: 3\n") as bridge:
        held = [_connect(bridge) for _ in range(3)]
        late: list[int] = []
        try:
            for sock in held:
                assert _exchange(sock, _get("/healthz"))[0] == 200
            poll(
                "the connection limit logged",
                lambda: "reached the connection limit" in bridge.logs(),
                timeout=30,
                interval=0.1,
            )

            def fourth() -> None:
                late.append(bridge.request("GET", "/healthz", timeout=60).status)

            waiting = threading.Thread(target=fourth)
            waiting.start()
            waiting.join(2)  # a bound for the negative check only: it must still wait
            assert waiting.is_alive()
            assert not late
            held.pop().close()
            waiting.join(60)
            assert late == [200]
        finally:
            for sock in held:
                sock.close()


@pytest.mark.parametrize("mode", MODES)
def test_responses_complete_under_back_pressure(mode: str, tmp_path: Path) -> None:
    """A client that reads slowly: pipelined requests whose answers fill every buffer on the
    way, then a Connection: close; every answer arrives whole, and the close comes after."""
    with bridge_in(mode, tmp_path) as bridge:
        landing = bridge.request("GET", "/").body
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.settimeout(60)
        raw.connect((bridge.host, bridge.port))
        sock = (
            raw if bridge.tls is None else bridge.tls.wrap_socket(raw, server_hostname=bridge.host)
        )
        count = 1000
        with sock:
            sock.sendall(_get("/") * (count - 1) + _get("/", close=True))
            with sock.makefile("rb") as stream:
                answers = [_read_response(stream) for _ in range(count)]
                assert stream.read() == b""
        assert [(status, body) for status, _, body in answers] == [(200, landing)] * count
        assert bridge.alive()


@pytest.mark.parametrize("mode", ["tls"])
def test_tls_port_survives_plain_http_and_garbage(mode: str, tmp_path: Path) -> None:
    """Not TLS on the TLS port: the connection ends (after at most a short plain answer), and
    the server serves the next client."""
    with bridge_in(mode, tmp_path) as bridge:
        for junk in (_get("/healthz"), b"\x16\x03\x01\x00\x05hello", b"\x00" * 64):
            with _silent(bridge) as sock:
                sock.sendall(junk)
                assert _ends(sock)
        assert bridge.request("GET", "/healthz").status == 200
        assert "Traceback" not in bridge.logs()
