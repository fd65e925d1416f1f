"""A throwaway self-signed certificate for 127.0.0.1, made with the openssl binary."""

from __future__ import annotations

import subprocess
from pathlib import Path


def self_signed(directory: Path) -> tuple[Path, Path]:
    """Write ``tls.crt`` and ``tls.key`` into ``directory``; return their paths."""
    cert, key = directory / "tls.crt", directory / "tls.key"
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
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
