"""Single-node Alertmanagers (no cluster) as processes the test owns: started on a free port,
stopped by PID, and started again on the same port and storage, as after an outage."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.services.alertmanager import BINARY, CONFIG
from tests.support import alertmanager, owned
from tests.support.servers import require


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Alertmanager:
    """One replica; ``start``/``stop`` may alternate, always on the same port and storage."""

    base: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Alertmanager:
        self.base.mkdir(parents=True, exist_ok=True)
        config = self.base / "alertmanager.yml"
        config.write_text(CONFIG)
        argv = [
            BINARY,
            "--cluster.listen-address=",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--storage.path={self.base / 'data'}",
            f"--config.file={config}",
            "--log.level=warn",
        ]
        self.proc = owned.start(
            argv, self.base / "alertmanager.log", f"{self.url}/-/ready", timeout
        )
        return self

    def stop(self) -> None:
        """SIGTERM by PID (SIGKILL after 10 s): an orderly outage, not a crash."""
        proc, self.proc = self.proc, None
        owned.stop(proc)

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as resp:  # noqa: S310
            body: bytes = resp.read()
        return body

    def firing_ids(self) -> set[str]:
        """``alarm_id`` of every alert held and not ended (resolved ones are never listed);
        empty while the replica is unreachable."""
        try:
            listed: list[dict[str, Any]] = json.loads(self._get("/api/v2/alerts"))
        except (OSError, urllib.error.URLError, ValueError):
            return set()
        return {a["labels"]["alarm_id"] for a in listed}

    def received(self, status: str) -> float:
        """``alertmanager_alerts_received_total`` for one status (firing, resolved): shows
        that an alert left the list because it was resolved, not forgotten."""
        try:
            return alertmanager.received(self.url, status)
        except (OSError, AssertionError):
            return 0.0


@dataclass
class Alertmanagers:
    """The replicas of one test, each in its own directory under ``base``."""

    base: Path
    made: list[Alertmanager] = field(default_factory=list)

    def new(self, name: str, *, start: bool = True) -> Alertmanager:
        """A replica on a free port; ``start=False`` leaves it down (not started yet)."""
        am = Alertmanager(self.base / name)
        self.made.append(am)
        return am.start() if start else am


@contextmanager
def alertmanagers(base: Path) -> Iterator[Alertmanagers]:
    """Every replica made here and still running is stopped, by PID, at the end."""
    require(os.access(BINARY, os.X_OK), f"{BINARY} missing (Debian prometheus-alertmanager)")
    pool = Alertmanagers(base)
    try:
        yield pool
    finally:
        for am in pool.made:
            am.stop()
