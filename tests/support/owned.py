"""Server processes a test starts itself: output appended to a log file, ready once a URL
answers 200, stopped by PID (never by name)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from testbed.bed import answers

LOG_TAIL = 2000


def log_tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-LOG_TAIL:]
    except OSError:
        return ""


def start(
    argv: Sequence[str], log: Path, ready_url: str, timeout: float = 30.0
) -> subprocess.Popen[bytes]:
    """Start ``argv``; return once ``ready_url`` answers 200. One that exits first or stays
    unready is stopped and fails the caller with the end of its log."""
    with log.open("ab") as out:
        proc = subprocess.Popen(list(argv), stdout=out, stderr=out)
    deadline = time.monotonic() + timeout
    while not answers(ready_url):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise AssertionError(f"{argv[0]} not ready at {ready_url}:\n{log_tail(log)}")
        time.sleep(0.05)
    return proc


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM by PID (SIGKILL after ``timeout``): an orderly stop, not a crash."""
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
