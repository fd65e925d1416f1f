"""Start time and memory of the full testbed: cold, warm pip cache, and environment present.

* cold: a new OpenStack environment with an empty package cache (every package downloaded);
* warm: a new environment, package cache filled by the cold run;
* hot: the environment exists (``make testbed`` on a machine that ran it before).

Each run brings the default testbed up in a new directory through the real CLI, reads the
memory of every process it started (RSS and PSS, per service), then brings it down and
checks that nothing is left. Results: ``bench/results/testbed.json`` and ``testbed.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from testbed.bed import Bed, session_members
from testbed.venv import REQUIREMENTS

CHECKOUT = Path(__file__).resolve().parent.parent
RESULTS = CHECKOUT / "bench" / "results"
TARGETS = {"cold_s": 180.0, "warm_s": 90.0, "memory_bytes": 4 * 1024**3}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_TIMING = re.compile(r"^(\S+)\s+(started|reused) in\s+([\d.]+)s \(ready at\s+([\d.]+)s\)$")


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process from smaps_rollup; zeros when it is gone."""
    rss = pss = 0
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0
    for line in text.splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def _used_memory() -> int:
    """MemTotal - MemAvailable, in bytes."""
    values = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        values[key] = int(rest.split()[0]) * 1024
    return values["MemTotal"] - values["MemAvailable"]


def _cpu_seconds(pid: int) -> float:
    """CPU of a process so far, with that of the children it reaped."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw.rpartition(")")[2].split()
    return sum(int(f) for f in fields[11:15]) / CLOCK_TICKS


def measure(root: Path, venv: Path) -> dict[str, Any]:
    """Memory and CPU of every running testbed process, and CPU of its one-shot commands."""
    bed = Bed(root, venv)
    per_service: dict[str, dict[str, float]] = {}
    processes = 0
    for proc in bed.procs():
        entry = per_service.setdefault(
            proc.service, {"rss": 0, "pss": 0, "processes": 0, "cpu_s": 0.0}
        )
        for pid in session_members(proc.pid):
            rss, pss = _memory_kib(pid)
            entry["rss"] += rss * 1024
            entry["pss"] += pss * 1024
            entry["processes"] += 1
            entry["cpu_s"] += _cpu_seconds(pid)
            processes += 1
    commands = json.loads((root / "state.json").read_text()).get("cpu", {})
    return {
        "rss_bytes": sum(e["rss"] for e in per_service.values()),
        "pss_bytes": sum(e["pss"] for e in per_service.values()),
        "processes": processes,
        "daemon_cpu_s": round(sum(e["cpu_s"] for e in per_service.values()), 1),
        "command_cpu_s": round(sum(commands.values()), 1),
        "commands": commands,
        "per_service": per_service,
    }


def run_once(label: str, venv: Path, pip_cache: Path) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix=f"testbed-bench-{label}-", dir="/tmp"))
    root.chmod(0o755)
    env = {
        **os.environ,
        "TESTBED_DIR": str(root),
        "TESTBED_VENV": str(venv),
        "PIP_CACHE_DIR": str(pip_cache),
        "UV_CACHE_DIR": str(pip_cache),
    }
    used_before = _used_memory()
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "testbed", "up"],
        cwd=CHECKOUT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    elapsed = time.monotonic() - began
    result: dict[str, Any] = {
        "label": label,
        "seconds": round(elapsed, 1),
        "ok": done.returncode == 0,
    }
    result["services"] = {
        m.group(1): float(m.group(3))
        for m in (_TIMING.match(line) for line in done.stdout.splitlines())
        if m
    }
    if done.returncode == 0:
        time.sleep(10)  # let periodic workers settle before reading memory
        # (the CPU read then includes those 10 s of idle periodic work: a few percent)
        result["memory"] = measure(root, venv)
        result["memory"]["system_bytes"] = _used_memory() - used_before
    else:
        result["error"] = done.stderr[-3000:]
    down = subprocess.run(
        [sys.executable, "-m", "testbed", "down"],
        cwd=CHECKOUT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    result["down_ok"] = down.returncode == 0
    result["leftovers"] = Bed(root, venv).leftovers()
    shutil.rmtree(root, ignore_errors=True)
    print(f"{label}: {result['seconds']} s, ok={result['ok']}", flush=True)
    return result


def render(report: dict[str, Any]) -> str:
    gib = 1024**3
    lines = [
        "# Testbed start time and memory",
        "",
        f"Measured {report['date']} on {report['cpu']} ({os.cpu_count()} CPUs), "
        f"`{' '.join(report['command'])}`.",
        "",
        "| run | new | start (s) | target | PSS / RSS (GiB) | processes | left after down |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    what = {
        "cold": "environment, empty package cache",
        "warm": "environment (package cache warm)",
        "hot": "nothing (environment exists)",
    }
    target = {"cold": "< 180 s", "warm": "< 90 s", "hot": "-"}
    for run in report["runs"]:
        memory = run.get("memory") or {}
        verdict = ""
        if run["label"] in ("cold", "warm"):
            limit = TARGETS[f"{run['label']}_s"]
            verdict = " PASS" if run["ok"] and run["seconds"] < limit else " FAIL"
        lines.append(
            f"| {run['label']} | {what[run['label']]} | {run['seconds']} | "
            f"{target[run['label']]}{verdict} | "
            f"{memory.get('pss_bytes', 0) / gib:.2f} / {memory.get('rss_bytes', 0) / gib:.2f} | "
            f"{memory.get('processes', 0)} | {len(run['leftovers'])} |"
        )
    hot = next((r for r in reversed(report["runs"]) if r.get("memory")), None)
    if hot:
        pss = hot["memory"]["pss_bytes"]
        verdict = "PASS" if pss < TARGETS["memory_bytes"] else "FAIL"
        memory = hot["memory"]
        lines += [
            "",
            f"Memory target < 4 GiB (PSS of every testbed process): {verdict}. The machine's "
            f"used memory (MemTotal - MemAvailable) grew by {memory['system_bytes'] / gib:.2f} "
            "GiB from before the start to after it (page cache of the databases included).",
        ]
        cpu = memory["daemon_cpu_s"] + memory["command_cpu_s"]
        cores = os.cpu_count() or 1
        lines += [
            "",
            f"CPU used by the start: {cpu:.0f} s ({memory['daemon_cpu_s']:.0f} s in the running "
            f"services, {memory['command_cpu_s']:.0f} s in one-shot commands: migrations, key "
            f"setup, seed scripts). On {cores} cores that alone takes {cpu / cores:.0f} s.",
            "",
            "| service | processes | PSS (MiB) | RSS (MiB) | CPU (s) | start (s) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, entry in sorted(memory["per_service"].items(), key=lambda i: -i[1]["pss"]):
            lines.append(
                f"| {name} | {entry['processes']} | {entry['pss'] / 2**20:.0f} | "
                f"{entry['rss'] / 2**20:.0f} | {entry['cpu_s']:.1f} | "
                f"{hot['services'].get(name, 0):.1f} |"
            )
        top = sorted(memory["commands"].items(), key=lambda i: -i[1])[:10]
        listed = ", ".join(f"{n} {c:.1f}" for n, c in top)
        lines += ["", f"Costliest one-shot commands (CPU s): {listed}."]
    lines += [
        "",
        "Start times per service overlap: independent services start in parallel (three at a",
        "time), so the total is less than their sum.",
        "",
    ]
    return "\n".join(lines)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", default="cold,warm,hot", help="comma list of cold, warm, hot")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="testbed-bench-", dir="/tmp"))
    venv, cache = scratch / "venv", scratch / "pip-cache"
    runs = []
    for label in args.runs.split(","):
        if label in ("cold", "warm") and venv.exists():
            shutil.rmtree(venv)
        if label == "hot" and not venv.exists():
            venv = Path(os.environ.get("TESTBED_VENV") or CHECKOUT / ".venv-openstack")
        runs.append(run_once(label, venv, cache))
    shutil.rmtree(scratch, ignore_errors=True)
    report = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "command": ["python", "-m", "bench.bench_testbed", "--runs", args.runs],
        "requirements_sha256": __import__("hashlib").sha256(REQUIREMENTS.read_bytes()).hexdigest(),
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "testbed.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = render(report)
    (RESULTS / "testbed.md").write_text(markdown)
    print(markdown)
    return 0 if all(r["ok"] and not r["leftovers"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
