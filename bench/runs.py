"""Start each exporter on a free local port and measure it from the outside.

Ours collects in the background and serves a snapshot, so its cycle (self-metrics, CPU over
whole intervals) and its scrapes (at every phase of the cycle) are measured apart. The peer
collects inside every scrape, so its scrape is its cycle.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procfs import cpu_seconds, loadavg, memory_mib, thread_cpu_delta, thread_cpu_ns
from bench.scrape import (
    Sample,
    Scraper,
    burst,
    exposition_facts,
    mixed_quantile,
    paced,
    percentile,
    summary,
)

CHECKOUT = Path(__file__).resolve().parent.parent
PEER_BINARY = Path("/usr/bin/prometheus-libvirt-exporter")
# Both exporters then label domains with Nova's metadata, as ours always does.
PEER_FLAGS = ("--libvirt.export-nova-metadata",)
PRODUCTION_INTERVAL = 15.0  # default interval of ours and Prometheus' usual scrape interval


@dataclass(frozen=True, slots=True)
class Budget:
    """Bounds on every measuring loop, by count and by time."""

    scrapes: int = 500  # gzip scrapes per exporter and size
    identity_scrapes: int = 100
    identity_budget: float = 5.0  # seconds of identity scrapes for ours
    cpu_window: float = 12.0  # seconds of whole intervals for CPU per cycle (at least one)
    scrape_window: float = 4.0  # seconds of paced scrapes for ours (at least one interval)
    peer_budget: float = 20.0  # seconds of back-to-back peer scrapes
    peer_identity_budget: float = 8.0
    peer_min_scrapes: int = 3


@dataclass(slots=True)
class Process:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    argv: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the process this object started (by PID), SIGKILL if it lingers."""
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def size_list(text: str) -> list[int]:
    """``10,1000`` as sorted, distinct positive counts: an argparse ``type``."""
    try:
        sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected e.g. 10,1000, got {text!r}") from None
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("counts must be positive")
    return sizes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


LISTENING = re.compile(rb"msg=listening url=https?://[^ ]*:(\d+)/")


def spawn_bridge(argv: list[str], cwd: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start a bridge with its log in a file (a pipe read by the bench would cost the bench's
    CPU at one line per transition); return it and its port once it logs ``listening``."""
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + 60
    while (match := LISTENING.search(log_path.read_bytes())) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"bridge did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.05)
    return proc, int(match.group(1))


def spawn(
    name: str, argv: list[str], port: int, log_path: Path, env: dict[str, str] | None = None
) -> Process:
    """Start an exporter with its output in ``log_path``; ``env`` is added to ours."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **env} if env else None,
            cwd=CHECKOUT,  # python -m exporter imports this checkout's package
        )
    return Process(name, proc, port, log_path, argv)


def start_ours(uri: str, interval: float, workdir: Path, tag: str) -> Process:
    port = free_port()
    config = workdir / f"ours-{tag}.yml"
    ms = round(interval * 1000)
    config.write_text(
        f"collectors:\n  libvirt:\n    interval: {ms}ms\n    timeout: {ms}ms\n", encoding="utf-8"
    )
    argv = [
        sys.executable,
        "-m",
        "exporter",
        "--web.listen-address",
        f"127.0.0.1:{port}",
        "--libvirt.uri",
        uri,
        "--config.file",
        str(config),
        "--log.level",
        "warn",
    ]
    return spawn("ours", argv, port, workdir / f"ours-{tag}.log")


def start_peer(uri: str, workdir: Path, tag: str) -> Process:
    port = free_port()
    argv = [
        str(PEER_BINARY),
        "--web.listen-address",
        f"127.0.0.1:{port}",
        "--libvirt.uri",
        uri,
        *PEER_FLAGS,
    ]
    return spawn("peer", argv, port, workdir / f"peer-{tag}.log")


def _wait_listening(proc: Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        proc.check_alive()
        try:
            socket.create_connection(("127.0.0.1", proc.port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{proc.name} did not listen within {timeout:.0f} s") from None
            time.sleep(0.05)


def wait_ready(proc: Process, timeout: float) -> None:
    """Until /readyz says the first cycle has published data."""
    _wait_listening(proc, 30)
    probe = Scraper(proc.port)
    deadline = time.monotonic() + timeout
    try:
        while probe.get("/readyz")[0] != 200:
            proc.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"ours had no data within {timeout:.0f} s: {proc.log_tail()}")
            time.sleep(0.1)
    finally:
        probe.close()


@dataclass(frozen=True, slots=True)
class CycleView:
    """Collection cycles as seen from the scrapes, to tell quiet scrapes from busy ones."""

    wall: list[float]  # cycle start to publication (render + gzip included); upper bounds
    windows: list[tuple[float, float]]  # predicted [start, end] of every cycle in the window


def cycle_view(samples: list[Sample], interval: float) -> CycleView:
    ordered = sorted(samples, key=lambda s: s.start)
    wall: list[float] = []
    anchor: float | None = None
    previous: float | None = None
    previous_end = -math.inf
    for s in ordered:
        if s.last_success is None or s.duration is None:
            continue
        start = s.last_success - s.duration
        anchor = start
        # A new cycle counts as seen at this scrape only if the one before was recent.
        if previous is not None and s.last_success != previous and s.start - previous_end < 1.0:
            wall.append(s.end - start)
        previous = s.last_success
        previous_end = s.end
    if anchor is None:
        return CycleView([], [])
    length = max(wall) if wall else max(s.duration or 0.0 for s in ordered)
    first = (ordered[0].start - anchor) / interval
    last = (ordered[-1].end - anchor) / interval
    windows = [
        (anchor + k * interval, anchor + k * interval + length)
        for k in range(math.floor(first) - 1, math.ceil(last) + 2)
    ]
    return CycleView(wall, windows)


def split_by_windows(
    samples: list[Sample], windows: list[tuple[float, float]]
) -> tuple[list[float], list[float]]:
    quiet: list[float] = []
    busy: list[float] = []
    for s in samples:
        overlaps = any(s.start < end and s.end > start for start, end in windows)
        (busy if overlaps else quiet).append(s.latency)
    return quiet, busy


def _scrape_stats(samples: list[Sample], view: CycleView) -> dict[str, Any]:
    quiet, busy = split_by_windows(samples, view.windows)
    wall = statistics.median(view.wall) if view.wall else None
    share = (wall / PRODUCTION_INTERVAL) if wall is not None else 0.0
    if quiet and busy:
        mixed = mixed_quantile(quiet, busy, share, 0.99)
    else:  # every scrape on one side: nothing to mix
        mixed = percentile([s.latency for s in samples], 0.99) if samples else None
    return {
        "quiet": summary(quiet),
        "during_cycle": summary(busy),
        "all": summary([s.latency for s in samples]),
        "p99_ms_at_15s_interval": None if mixed is None else round(mixed * 1e3, 3),
        "share_during_cycle_at_15s": round(min(1.0, share), 4),
        "wire_bytes": samples[-1].wire_bytes if samples else None,
        "plain_bytes": samples[-1].plain_bytes if samples else None,
    }


def choose_interval(steady: float, cold: float) -> float:
    """Short, but long enough that no steady cycle overruns and the first one fits its deadline."""
    seconds = max(2.0, 1.6 * steady, 1.6 * cold)  # margins: the host may be shared
    return math.ceil(seconds * 2) / 2


def measure_ours(
    uri: str,
    interval: float,
    *,
    workdir: Path,
    tag: str,
    budget: Budget,
    libvirtd_pid: int | None,
) -> dict[str, Any]:
    proc = start_ours(uri, interval, workdir, tag)
    try:
        return _measure_ours(proc, interval, budget, libvirtd_pid)
    finally:
        proc.stop()


def _measure_ours(
    proc: Process, interval: float, budget: Budget, libvirtd_pid: int | None
) -> dict[str, Any]:
    load_before = loadavg()
    t_start = time.monotonic()
    wait_ready(proc, timeout=max(120.0, 3 * interval))
    ready_after = time.monotonic() - t_start
    first = Scraper(proc.port, parse=True)
    cold = first.scrape()
    first.close()
    if cold.last_success is None or cold.duration is None:
        raise RuntimeError("ours is ready but its body has no cycle self-metrics")

    # Idle CPU: between the first cycle's end and the next cycle's start nothing runs.
    idle_rate: float | None = None
    time.sleep(0.2)  # lets the handler thread of the closed connection finish
    quiet_left = cold.last_success - cold.duration + interval - time.time()
    if quiet_left > 1.0:
        span = min(2.0, quiet_left - 0.5)
        before, t0 = thread_cpu_ns(proc.pid), time.monotonic()
        time.sleep(span)
        idle = thread_cpu_delta(before, thread_cpu_ns(proc.pid))
        idle_rate = idle / (time.monotonic() - t0)

    # CPU per cycle: over k whole intervals the process runs exactly k cycles, whatever
    # the phase the window starts at; no scrape runs meanwhile.
    k = max(1, math.floor(budget.cpu_window / interval))
    c0 = cpu_seconds(proc.pid)
    d0 = cpu_seconds(libvirtd_pid) if libvirtd_pid else 0.0
    t0 = time.monotonic()
    time.sleep(k * interval)
    elapsed = time.monotonic() - t0
    proc.check_alive()
    cpu = cpu_seconds(proc.pid) - c0
    daemon_cpu = (cpu_seconds(libvirtd_pid) - d0) if libvirtd_pid else None
    cpu_per_cycle = (cpu - (idle_rate or 0.0) * elapsed) / k
    probe = Scraper(proc.port, parse=True)
    after_window = probe.scrape()  # one more cycle's self-metrics, outside every CPU window
    probe.close()

    # Gzip scrapes on one keep-alive connection, spread over at least one whole interval,
    # as Prometheus does; then a short identity burst.
    window = max(interval, budget.scrape_window)
    gz = Scraper(proc.port, parse=True)
    (gz_samples,) = paced([(gz, 1)], budget.scrapes, window, hard_limit=1.5 * window + 10)
    facts = exposition_facts(gz.last_text(), "libvirt_domains")
    gz.close()
    plain = Scraper(proc.port, gzip_ok=False, parse=True)
    plain_samples = burst(plain, budget.identity_scrapes, budget.identity_budget, 1)
    plain.close()
    proc.check_alive()
    memory = memory_mib(proc.pid)
    log_text = proc.log_path.read_text(encoding="utf-8", errors="replace")
    view = cycle_view([*gz_samples, *plain_samples], interval)
    wall = statistics.median(view.wall) if view.wall else None
    steady = {
        s.last_success: s.duration
        for s in [after_window, *gz_samples, *plain_samples]
        if s.last_success is not None
        and s.duration is not None
        and s.last_success != cold.last_success
    }
    return {
        "interval_s": interval,
        "ready_after_s": round(ready_after, 3),
        "first_cycle_collect_s": round(cold.duration, 4),
        "collect_s": spread(list(steady.values())),
        "cycle_wall_s": None if wall is None else round(wall, 4),
        "cycle_wall_resolution_s": round(window / max(1, budget.scrapes), 4),
        "cpu_window": {
            "cycles": k,
            "seconds": round(elapsed, 3),
            "cpu_s": round(cpu, 3),
            "idle_cpu_per_s": None if idle_rate is None else round(idle_rate, 5),
        },
        "cpu_s_per_cycle": round(cpu_per_cycle, 4),
        "libvirtd_cpu_s_per_cycle": None if daemon_cpu is None else round(daemon_cpu / k, 4),
        "scrape_gzip": _scrape_stats(gz_samples, view),
        "scrape_identity": _scrape_stats(plain_samples, view),
        "overran": bool(wall is not None and wall > interval),
        "abandoned_cycles": log_text.count("cycle abandoned"),
        **facts,
        "loadavg": [load_before, loadavg()],
        **memory,
    }


def spread(values: list[float]) -> dict[str, float | int] | None:
    if not values:
        return None
    return {
        "n": len(values),
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
    }


def measure_peer(
    uri: str, *, workdir: Path, tag: str, budget: Budget, libvirtd_pid: int | None
) -> dict[str, Any]:
    proc = start_peer(uri, workdir, tag)
    try:
        return _measure_peer(proc, budget, libvirtd_pid)
    finally:
        proc.stop()


def _measure_peer(proc: Process, budget: Budget, libvirtd_pid: int | None) -> dict[str, Any]:
    load_before = loadavg()
    _wait_listening(proc, 30)
    gz = Scraper(proc.port)
    gz.get("/")  # opens the keep-alive connection; the peer's landing page touches no libvirt
    c0 = cpu_seconds(proc.pid)
    d0 = cpu_seconds(libvirtd_pid) if libvirtd_pid else 0.0
    samples = burst(gz, budget.scrapes, budget.peer_budget, budget.peer_min_scrapes)
    cpu = cpu_seconds(proc.pid) - c0
    daemon_cpu = (cpu_seconds(libvirtd_pid) - d0) if libvirtd_pid else None
    facts = exposition_facts(gz.last_text(), "libvirt_domains_number")
    gz.close()
    latencies = [s.latency for s in samples]
    plain_stats: dict[str, Any] | None = None
    if statistics.median(latencies) < 1.0:  # identity too only while it is cheap
        plain = Scraper(proc.port, gzip_ok=False)
        plain_samples = burst(plain, budget.identity_scrapes, budget.peer_identity_budget, 1)
        plain.close()
        plain_stats = {
            "all": summary([s.latency for s in plain_samples]),
            "wire_bytes": plain_samples[-1].wire_bytes,
        }
    proc.check_alive()
    return {
        "cycle_s": round(statistics.median(latencies), 4),
        "cpu_s_per_cycle": round(cpu / len(samples), 4),
        "libvirtd_cpu_s_per_cycle": None
        if daemon_cpu is None
        else round(daemon_cpu / len(samples), 4),
        "scrape_gzip": {"all": summary(latencies), "wire_bytes": samples[-1].wire_bytes},
        "scrape_identity": plain_stats,
        "loadavg": [load_before, loadavg()],
        **facts,
        **memory_mib(proc.pid),
    }
