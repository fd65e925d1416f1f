"""CPU and memory of a process read from /proc, so both exporters are measured the same way."""

from __future__ import annotations

import os
import platform
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process, exited threads included (the kernel folds them in).

    The resolution is one clock tick (usually 10 ms), so callers average over many cycles.
    """
    text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def thread_cpu_ns(pid: int) -> dict[int, int]:
    """Nanosecond-precise CPU of each live thread, from schedstat.

    Threads that exit lose their entry, so callers compare the threads present in both
    readings; for quiet windows only (utime + stime covers the rest).
    """
    out: dict[int, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out[int(task.name)] = int((task / "schedstat").read_text(encoding="ascii").split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


def thread_cpu_delta(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU seconds used between two readings by the threads alive at both."""
    return sum(after[tid] - before[tid] for tid in before.keys() & after.keys()) / 1e9


def memory_mib(pid: int) -> dict[str, float]:
    """Peak (VmHWM) and current (VmRSS) resident set size in MiB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) / 1024
    return {"peak_rss_mib": out["VmHWM"], "rss_mib": out["VmRSS"]}


def loadavg() -> float:
    """One-minute load average: a shared host makes tail latencies noisy."""
    return float(Path("/proc/loadavg").read_text(encoding="ascii").split()[0])


def host_info() -> dict[str, object]:
    """What the numbers depend on: CPU model and count, kernel."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("model name"):
            model = line.partition(":")[2].strip()
            break
    return {"cpu_model": model, "cpus": os.cpu_count(), "kernel": platform.release()}
