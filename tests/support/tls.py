"""A throwaway self-signed certificate for 127.0.0.1 and ::1, made with the openssl binary."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path


def self_signed(directory: Path) -> tuple[Path, Path]:
    """Write ``tls.crt`` and ``tls.key`` into ``directory``; return their paths."""
    cert, key = directory / "tls.crt", directory / "tls.key"
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,IP:::1"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            *subject,
            *files,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def tls_web_config(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """A ``--web.config.file`` that serves TLS with a new certificate, and a client context
    that trusts that certificate (and only it)."""
    cert, _ = self_signed(directory)
    web = directory / "web.yml"
    web.write_text("tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n")
    return web, ssl.create_default_context(cafile=str(cert))
