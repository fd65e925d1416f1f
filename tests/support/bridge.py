"""Start the real bridge as a process (``python -m alerts``), as an operator would, and talk
HTTP to it: post webhooks, read its metrics, kill it, start it again on the same state."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.exporter import REPO, Response
from tests.support.metrics import parse_samples


def aodh_payload(
    alarm_id: str,
    current: str = "alarm",
    previous: str = "ok",
    *,
    name: str | None = None,
    severity: str = "moderate",
    value: float | None = 95.0,
) -> dict[str, Any]:
    """A body of the shape Aodh's REST notifier posts (threshold alarm)."""
    reason_data: dict[str, Any] = {"type": "threshold", "disposition": "outside", "count": 3}
    if value is not None:
        reason_data["most_recent"] = value
    return {
        "alarm_name": name or f"alarm-{alarm_id}",
        "alarm_id": alarm_id,
        "severity": severity,
        "previous": previous,
        "current": current,
        "reason": f"Transition to {current} due to 3 samples outside threshold",
        "reason_data": reason_data,
    }


@dataclass
class BridgeProcess:
    proc: subprocess.Popen[bytes]
    host: str
    port: int
    args: list[str]
    log_lines: list[str] = field(default_factory=list)
    tls: ssl.SSLContext | None = None  # set: the bridge serves HTTPS, trusted by this context

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def connection(self, timeout: float = 10.0) -> http.client.HTTPConnection:
        """A new connection to the bridge, HTTPS when it serves TLS."""
        if self.tls is not None:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=self.tls
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Response:
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def post(self, payload: object, headers: dict[str, str] | None = None) -> Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        return self.request("POST", "/v1/aodh", body, sent)

    def metrics(self) -> str:
        resp = self.request("GET", "/metrics")
        assert resp.status == 200, resp
        return resp.body.decode()

    def metric(self, name: str, **labels: str) -> float:
        """The value of one series (0 when absent)."""
        return parse_samples(self.metrics()).get((name, frozenset(labels.items())), 0.0)

    def logs(self) -> str:
        return "\n".join(self.log_lines)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_bridge(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    listen: str = "127.0.0.1:0",
    ready: bool = True,
    start_timeout: float = 60.0,
    tls: ssl.SSLContext | None = None,
    command: Sequence[str] = (sys.executable, "-m", "alerts"),
    cwd: Path = REPO,
) -> BridgeProcess:
    """``python -m alerts ARGS``; returns once it listens (and, with ``ready``, is ready).

    ``tls``: the bridge serves HTTPS (its ARGS give the --web.config.file) and the client side
    trusts its certificate with this context. The bridge is reached at the host of ``listen``,
    on loopback when that means every interface. ``command`` runs another build of it: an
    installed ``aodh-alertmanager-bridge``, or one in a container.
    """
    cmd = [*command, "--web.listen-address", listen, *args]
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    lines: list[str] = []
    found = threading.Event()
    ports: list[int] = []

    def pump() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            match = re.search(r"msg=listening url=https?://[^ ]*:(\d+)/", line)
            if match and not found.is_set():
                ports.append(int(match.group(1)))
                found.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + start_timeout
    while not found.wait(0.1):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError("bridge did not start:\n" + "\n".join(lines))
    host = listen.rpartition(":")[0].strip("[]")
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - a listen address, mapped to loopback
    bridge = BridgeProcess(proc, host, ports[0], list(args), lines, tls)
    if ready:
        while bridge.request("GET", "/readyz").status != 200:
            if time.monotonic() > deadline:
                bridge.stop()
                raise AssertionError("bridge never became ready:\n" + bridge.logs())
            time.sleep(0.05)
    return bridge


@contextmanager
def run_bridge(args: Sequence[str], **kwargs: Any) -> Iterator[BridgeProcess]:
    bridge = start_bridge(args, **kwargs)
    try:
        yield bridge
    finally:
        bridge.stop()


def state_args(state: Path, alertmanagers: Sequence[str], *extra: str) -> list[str]:
    args = ["--state.path", str(state)]
    for url in alertmanagers:
        args += ["--alertmanager.url", url]
    return [*args, *extra]
