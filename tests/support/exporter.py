"""Start the real exporter as a process, as an operator would, and talk HTTP to it."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_NODE = REPO / "demo" / "node.xml"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class ExporterProcess:
    proc: subprocess.Popen[bytes]
    host: str
    port: int
    log_lines: list[str] = field(default_factory=list)

    def get(
        self,
        path: str,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        timeout: float = 10.0,
    ) -> Response:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            body = resp.read()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
        finally:
            conn.close()

    def metrics(self, timeout: float = 10.0) -> str:
        resp = self.get("/metrics", timeout=timeout)
        assert resp.status == 200, resp
        return resp.body.decode()

    def wait_for(
        self, predicate_text: str, timeout: float = 30.0, scrape_timeout: float = 10.0
    ) -> str:
        """Poll /metrics (each scrape bounded by ``scrape_timeout``) until it contains
        ``predicate_text``; return that body."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.metrics(timeout=scrape_timeout)
            if predicate_text in body:
                return body
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{predicate_text!r} not seen in /metrics within {timeout}s:\n{self.logs()}"
                )
            time.sleep(0.1)

    def logs(self) -> str:
        return "\n".join(self.log_lines)


def write_config(path: Path, interval: str = "1s", timeout: str = "1s") -> Path:
    path.write_text(f"collectors:\n  libvirt:\n    interval: {interval}\n    timeout: {timeout}\n")
    return path


def _environ(env: Mapping[str, str] | None) -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}


def run_command(
    args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """``python -m exporter ARGS`` to its end, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=_environ(env),
        timeout=timeout,
        check=False,
    )


def run_once(
    args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """``python -m exporter --once ARGS``: the exposition on stdout, the log on stderr."""
    return run_command(["--once", *args], env, timeout)


@contextmanager
def run_exporter(
    args: Sequence[str],
    ready: bool = True,
    start_timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
) -> Iterator[ExporterProcess]:
    """Run ``python -m exporter ARGS --web.listen-address 127.0.0.1:0`` (``env`` added to
    this process's environment); stop it after."""
    cmd = [sys.executable, "-m", "exporter", "--web.listen-address", "127.0.0.1:0", *args]
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_environ(env),
    )
    lines: list[str] = []
    found = threading.Event()
    port_holder: list[int] = []

    def pump() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            match = re.search(r"msg=listening url=https?://127\.0\.0\.1:(\d+)", line)
            if match and not found.is_set():
                port_holder.append(int(match.group(1)))
                found.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        if not found.wait(start_timeout):
            raise AssertionError("exporter did not start:\n" + "\n".join(lines))
        exp = ExporterProcess(proc, "127.0.0.1", port_holder[0], lines)
        if ready:
            deadline = time.monotonic() + start_timeout
            while exp.get("/readyz").status != 200:
                if time.monotonic() > deadline:
                    raise AssertionError("exporter never became ready:\n" + exp.logs())
                time.sleep(0.05)
        yield exp
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
