"""Hostile or sloppy HTTP clients get the right status and never a traceback."""

from __future__ import annotations

import base64
import gzip
import http.client
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from tests.support.exporter import DEMO_NODE, ExporterProcess, run_exporter
from tests.support.tls import self_signed

URI = f"test://{DEMO_NODE}"


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _no_traceback(exporter: ExporterProcess, body: bytes) -> None:
    assert b"Traceback" not in body
    assert b'File "' not in body


@pytest.fixture(scope="module")
def plain_exporter() -> Iterator[ExporterProcess]:
    with run_exporter(["--libvirt.uri", URI]) as exporter:
        yield exporter


@pytest.mark.parametrize(
    ("headers", "status", "encoding"),
    [
        ({"Accept-Encoding": "gzip"}, 200, "gzip"),
        ({"Accept-Encoding": "identity;q=0, *;q=0"}, 406, None),
        ({"Accept-Encoding": "gzip;q=banana"}, 200, None),
        ({"Accept-Encoding": ";;;,,=,q=="}, 200, None),
        ({"Accept-Encoding": "br"}, 200, None),
    ],
)
def test_accept_encoding(
    plain_exporter: ExporterProcess, headers: dict[str, str], status: int, encoding: str | None
) -> None:
    resp = plain_exporter.get("/metrics", headers)
    assert resp.status == status
    _no_traceback(plain_exporter, resp.body)
    if status == 200:
        assert resp.headers.get("content-encoding") == encoding
        body = gzip.decompress(resp.body) if encoding == "gzip" else resp.body
        assert b"libvirt_up 1.0" in body
        assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nope", 404),
        ("GET", "/metrics/../../etc/passwd", 404),
        ("POST", "/metrics", 405),
        ("DELETE", "/", 405),
        ("GET", "/healthz", 200),
        ("GET", "/readyz", 200),
        ("GET", "/", 200),
        ("HEAD", "/metrics", 200),
        ("GET", "/metrics?x=%ZZ", 200),
    ],
)
def test_paths_and_methods(
    plain_exporter: ExporterProcess, method: str, path: str, status: int
) -> None:
    resp = plain_exporter.get(path, method=method)
    assert resp.status == status
    _no_traceback(plain_exporter, resp.body)


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /metrics HTTP/9.9\r\n\r\n",
        b"GET " + b"a" * 70000 + b"\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n",
    ],
)
def test_malformed_requests(plain_exporter: ExporterProcess, raw: bytes) -> None:
    with socket.create_connection((plain_exporter.host, plain_exporter.port), timeout=5) as s:
        s.sendall(raw)
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    assert data.startswith(b"HTTP/1.")
    assert int(data.split()[1]) >= 400
    assert b"Traceback" not in data
    # The server is still healthy after each of these.
    assert plain_exporter.get("/healthz").status == 200


def test_binary_junk_does_not_block_other_clients(plain_exporter: ExporterProcess) -> None:
    with socket.create_connection((plain_exporter.host, plain_exporter.port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40)
        # While that connection sits there without a line end, others are served.
        assert plain_exporter.get("/metrics").status == 200


@pytest.fixture(scope="module")
def auth_exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExporterProcess]:
    tmp = tmp_path_factory.mktemp("auth")
    hashed = bcrypt.hashpw(b"s3cret-pass", bcrypt.gensalt(4)).decode()
    web = tmp / "web.yml"
    # $2y$ is what htpasswd writes; it must be accepted as well.
    web.write_text(f"basic_auth_users:\n  prometheus: '{hashed.replace('$2b$', '$2y$', 1)}'\n")
    with run_exporter(["--libvirt.uri", URI, "--web.config.file", str(web)], ready=False) as exp:
        yield exp


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        (_basic("prometheus", "wrong"), 401),
        (_basic("nobody", "s3cret-pass"), 401),
        ({"Authorization": "Basic !!!notbase64"}, 401),
        ({"Authorization": "Bearer abc"}, 401),
        (_basic("prometheus", "s3cret-pass"), 200),
    ],
)
def test_basic_auth(auth_exporter: ExporterProcess, headers: dict[str, str], status: int) -> None:
    resp = auth_exporter.get("/metrics", headers)
    assert resp.status == status
    _no_traceback(auth_exporter, resp.body)
    if status == 401:
        assert resp.headers["www-authenticate"].startswith("Basic")
        assert b"libvirt" not in resp.body
    assert "s3cret-pass" not in auth_exporter.logs()


def test_tls(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    web = tmp_path / "web.yml"
    web.write_text("tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n")
    with run_exporter(["--libvirt.uri", URI, "--web.config.file", str(web)], ready=False) as exp:
        context = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection(exp.host, exp.port, context=context, timeout=10)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        conn.close()
        # A plain-HTTP client gets no metrics and the server keeps serving TLS.
        with socket.create_connection((exp.host, exp.port), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                data = b""
            assert b"libvirt_up" not in data
        conn = http.client.HTTPSConnection(exp.host, exp.port, context=context, timeout=10)
        conn.request("GET", "/metrics")
        assert b"openstack_exporter_build_info" in conn.getresponse().read()
        conn.close()


def test_connection_flood_is_bounded_and_recovers(plain_exporter: ExporterProcess) -> None:
    idle = [
        socket.create_connection((plain_exporter.host, plain_exporter.port), timeout=5)
        for _ in range(64)
    ]
    try:
        # Give the server time to hand every idle connection a thread.
        deadline = time.monotonic() + 10
        refused = False
        while time.monotonic() < deadline and not refused:
            with socket.create_connection(
                (plain_exporter.host, plain_exporter.port), timeout=5
            ) as extra:
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                refused = extra.recv(100).startswith(b"HTTP/1.1 503")
            time.sleep(0.05)
        assert refused
    finally:
        for s in idle:
            s.close()
    deadline = time.monotonic() + 10
    while plain_exporter.get("/healthz").status != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
