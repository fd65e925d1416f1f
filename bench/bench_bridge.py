"""Benchmark the Aodh -> Alertmanager bridge as a process, against a real Alertmanager.

* **throughput**: accepted webhooks per second and accept latency with 1, 8 and 32 keep-alive
  clients, each posting Aodh-shaped bodies with distinct alarm ids, driven by wrk
  (``bench/wrk_webhooks.lua``);
* **end to end**: from a webhook's POST to its alert being listed by Alertmanager;
* **memory**: RSS and PSS after 100,000 distinct alarms fire, after they resolve, and after
  another 100,000 fire and resolve (memory must not grow with resolved alarms), posted by a
  Python client that posts each id exactly once;
* **baseline**: the same wrk load against Flask on waitress alone (the stack's ceiling).

The bridge runs as ``python -m alerts`` without ``--os-cloud``; Alertmanager is Debian's
``prometheus-alertmanager``, single node, on 127.0.0.1 with a receiver that notifies nobody.
Results: ``bench/results/bridge.{json,md}`` (``bridge-quick.*`` with ``--quick``).

    python -m bench.bench_bridge [--quick] [--alarms 100000] [--profile] [--skip PHASES]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import http.client
import importlib.metadata
import json
import platform
import pstats
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.procfs import cpu_seconds, host_info, loadavg, memory_mib, thread_cpu_ns
from bench.runs import Process, free_port, spawn_bridge
from bench.scrape import summary
from testbed.services.alertmanager import BINARY, CONFIG
from tests.support.bridge import BridgeProcess, aodh_payload
from tests.support.metrics import parse_samples

ROOT = Path(__file__).resolve().parent.parent
AM_BINARY = Path(BINARY)
AM_CONFIG = CONFIG
RESEND = "10m"  # long enough that re-sends never run during a phase
TARGETS = {"accepted_per_s": 1000.0, "accept_p99_ms": 50.0, "e2e_p99_ms": 1000.0}
# Memory "does not grow with resolved alarms": the second fire-and-resolve round may leave
# RSS at most this much above the first one's (allocator noise, SQLite's page cache).
MEMORY_SLACK_MIB = 8.0


@dataclass(frozen=True, slots=True)
class Plan:
    """Sizes and durations of one run."""

    levels: tuple[int, ...] = (1, 8, 32)
    warmup_s: int = 2  # wrk takes whole seconds
    window_s: int = 10
    e2e_alarms: int = 200
    e2e_rate: float = 40.0  # webhooks per second
    e2e_threads: int = 8
    poll_s: float = 0.005
    memory_alarms: int = 100_000
    memory_clients: int = 32
    profile_clients: int = 8
    profile_s: int = 8


QUICK = Plan(warmup_s=1, window_s=2, e2e_alarms=40, memory_alarms=2000, profile_s=3)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- processes -------------------------------------------------------------------------------


def start_alertmanager(workdir: Path, tag: str) -> Process:
    """A single-node Alertmanager (no cluster listener) on a free loopback port."""
    base = workdir / f"am-{tag}"
    base.mkdir()
    (base / "alertmanager.yml").write_text(AM_CONFIG, encoding="utf-8")
    port = free_port()
    argv = [
        str(AM_BINARY),
        f"--config.file={base / 'alertmanager.yml'}",
        f"--storage.path={base / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    log_path = base / "log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    am = Process("alertmanager", proc, port, log_path, argv)
    deadline = time.monotonic() + 30
    while True:
        am.check_alive()
        try:
            if _get(f"127.0.0.1:{port}", "/-/ready")[0] == 200:
                return am
        except OSError:
            pass
        if time.monotonic() > deadline:
            am.stop()
            raise RuntimeError(f"Alertmanager not ready: {am.log_tail()}")
        time.sleep(0.1)


def _get(hostport: str, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    host, _, port = hostport.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# Extra flags for every bridge the bench starts (``--bridge-config``: e.g. another
# ``state.synchronous``).
BRIDGE_EXTRA: list[str] = []


def bridge_argv(state: Path, am_url: str) -> list[str]:
    return [
        *BRIDGE_EXTRA,
        "--web.listen-address",
        "127.0.0.1:0",
        "--state.path",
        str(state),
        "--alertmanager.url",
        am_url,
        "--resend-interval",
        RESEND,
    ]


def start_bridge(
    workdir: Path, tag: str, am_url: str, command: Sequence[str] | None = None
) -> BridgeProcess:
    """``python -m alerts`` (or ``command``), once it is ready."""
    state = workdir / f"state-{tag}" / "state.db"
    args = bridge_argv(state, am_url)
    argv = [*(command or (sys.executable, "-m", "alerts")), *args]
    proc, port = spawn_bridge(argv, ROOT, workdir / f"bridge-{tag}.log")
    deadline = time.monotonic() + 60
    bridge = BridgeProcess(proc, "127.0.0.1", port, args)
    while bridge.request("GET", "/readyz").status != 200:
        if time.monotonic() > deadline:
            bridge.stop()
            raise RuntimeError("bridge never became ready")
        time.sleep(0.05)
    return bridge


def smaps_mib(pid: int) -> dict[str, float]:
    """RSS, PSS and anonymous memory from smaps_rollup, with the peak RSS (VmHWM)."""
    out = {"peak_rss_mib": memory_mib(pid)["peak_rss_mib"]}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii").splitlines():
        key, _, value = line.partition(":")
        if key in ("Rss", "Pss", "Anonymous"):
            out[f"{key.lower()}_mib"] = round(int(value.split()[0]) / 1024, 1)
    return out


def state_files_mib(state: Path) -> dict[str, float]:
    sizes = {}
    for suffix in ("", "-wal", "-shm"):
        path = state.with_name(state.name + suffix)
        sizes[f"db{suffix or ''}_mib"] = (
            round(path.stat().st_size / 2**20, 2) if path.exists() else 0.0
        )
    return sizes


def bridge_gauges(bridge: BridgeProcess) -> dict[str, float]:
    """Inbox depth, alerts due, firing alarms and counters, from one /metrics scrape."""
    samples = parse_samples(bridge.metrics())

    def total(name: str, **labels: str) -> float:
        want = set(labels.items())
        return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)

    return {
        "inbox": total("aodh_bridge_inbox_webhooks"),
        "due": total("aodh_bridge_queue_alerts"),
        "firing": total("aodh_bridge_firing_alarms"),
        "accepted": total("aodh_bridge_webhooks_received_total", outcome="accepted"),
        "sent": total("aodh_bridge_alerts_sent_total", outcome="success"),
        "transitions": total("aodh_bridge_alarm_transitions_total"),
        "send_errors": total("aodh_bridge_alerts_sent_total", outcome="error"),
    }


def wait_drained(
    bridge: BridgeProcess, *, firing: int | None = None, timeout: float = 600.0
) -> dict[str, float]:
    """Until every accepted webhook is applied and every due alert delivered."""
    t0 = time.monotonic()
    while True:
        g = bridge_gauges(bridge)
        if g["inbox"] == 0 and g["due"] == 0 and (firing is None or g["firing"] == firing):
            g["drain_s"] = round(time.monotonic() - t0, 2)
            return g
        if time.monotonic() - t0 > timeout or not bridge.alive():
            raise RuntimeError(f"bridge did not drain in {timeout:.0f} s: {g}")
        time.sleep(0.25)


# -- load generators ---------------------------------------------------------------------------
#
# Throughput, the stack-alone baseline and the profile are driven by wrk (a C event loop: a
# few hundredths of a core at these rates, latency to the microsecond), so the bridge and the
# bare stack meet the same client and the figures can be checked by hand with the same tool.
# The memory phase needs each of exactly N alarm ids posted once and answered, which a wrk run
# (it ends on a clock, with requests in flight) cannot promise: a small Python client posts
# them (``generate``).

WRK = Path("/usr/bin/wrk")
WRK_SCRIPT = ROOT / "bench" / "wrk_webhooks.lua"
WRK_THREADS = 1  # one event loop is far from busy at a few thousand requests a second
# What an earlier run got wrong, with the measurements: closes every report.
HISTORY = ROOT / "bench" / "bridge_history.md"


def _wrk_latency(raw: dict[str, Any], n: int) -> dict[str, Any] | None:
    """wrk's histogram (microseconds) in the shape of ``bench.scrape.summary``."""
    if not n:
        return None
    ms = {key: round(value / 1000, 3) for key, value in raw.items()}
    return {
        "n": n,
        "p50_ms": ms["p50"],
        "p90_ms": ms["p90"],
        "p99_ms": ms["p99"],
        "p999_ms": ms["p999"],
        "max_ms": ms["max"],
        "mean_ms": ms["mean"],
    }


def run_wrk(
    hostport: tuple[str, int],
    clients: int,
    seconds: int,
    prefix: str,
    watch: dict[str, int],
    *,
    transition: tuple[str, str] = ("alarm", "ok"),
) -> dict[str, Any]:
    """One wrk run: ``clients`` keep-alive connections, one webhook in flight on each, for
    ``seconds``; CPU of the ``watch`` processes and of wrk itself over the run."""
    host, port = hostport
    argv = [
        str(WRK),
        f"-t{min(WRK_THREADS, clients)}",
        f"-c{clients}",
        f"-d{seconds}s",
        "--timeout",
        "30s",  # above the bridge's own 10 s accept timeout: a slow answer is not an error
        "-s",
        str(WRK_SCRIPT),
        f"http://{host}:{port}",
        "--",
        prefix,
        *transition,
    ]
    load = loadavg()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = {name: cpu_seconds(pid) for name, pid in watch.items()}
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 60, check=False, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"wrk overran its {seconds} s run") from None
    used = {name: cpu_seconds(pid) - before[name] for name, pid in watch.items()}
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed (exit {done.returncode}): {done.stderr[-500:]}")
    raw = json.loads(lines[-1])
    span = raw["duration_us"] / 1e6
    refused = raw["non_2xx_3xx"]
    socket_errors = {k: raw[k] for k in ("connect_errors", "read_errors", "write_errors")}
    accepted = raw["responses"] - refused
    result: dict[str, Any] = {
        "clients": clients,
        "generator": "wrk",
        "window_s": round(span, 3),
        "posted": raw["posted"],
        "responses_in_window": raw["responses"],
        "non_2xx_3xx": refused,
        "socket_errors": socket_errors,
        "timeouts": raw["timeouts"],
        "errors": refused + raw["timeouts"] + sum(socket_errors.values()),
        "accepted_per_s": round(accepted / span, 1) if span > 0 else None,
        "latency": _wrk_latency(raw["latency_us"], raw["responses"]),
        "generator_cpu_s": round(
            children1.ru_utime - children0.ru_utime + children1.ru_stime - children0.ru_stime, 3
        ),
    }
    for name, cpu in used.items():
        result[f"{name}_cpu_s"] = round(cpu, 3)
        result[f"{name}_cores"] = round(cpu / span, 2) if span else None
    result["generator_cores"] = round(result["generator_cpu_s"] / span, 2) if span else None
    result["load_before"] = load
    result["load_after"] = loadavg()
    return result


def wrk_level(
    hostport: tuple[str, int], clients: int, plan: Plan, prefix: str, watch: dict[str, int]
) -> dict[str, Any]:
    """A warm-up run (new connections, the server's threads and caches warm), then the
    measured run; only the second is reported."""
    run_wrk(hostport, clients, plan.warmup_s, f"{prefix}w", {})
    return run_wrk(hostport, clients, plan.window_s, prefix, watch)


def _template(current: str, previous: str) -> bytes:
    body = json.dumps(aodh_payload("@ID@", current, previous)).encode()
    assert body.count(b"@ID@") == 2, body
    return body


class _Conn:
    __slots__ = ("buf", "need", "sock", "t0")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.need = 0  # bytes of the whole response once its head is read; 0 while unknown
        self.t0 = 0.0


def generate(spec: dict[str, Any]) -> dict[str, Any]:  # noqa: PLR0912 - one event loop
    """Post alarm ids ``prefix``0 .. ``prefix``count-1 once each over ``clients`` keep-alive
    connections, one request in flight on each, and wait for every answer."""
    host, port, clients = spec["host"], int(spec["port"]), int(spec["clients"])
    prefix = spec["prefix"].encode()
    template = _template(spec["current"], spec["previous"])
    count = int(spec["count"])
    head = f"POST /v1/aodh HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    sel = selectors.DefaultSelector()
    conns = []
    for _ in range(clients):
        sock = socket.create_connection((host, port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conns.append(_Conn(sock))
    began = time.perf_counter()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    sent = 0
    errors = 0

    def send(conn: _Conn) -> bool:
        nonlocal sent
        if sent >= count:
            return False
        body = template.replace(b"@ID@", prefix + str(sent).encode())
        sent += 1
        conn.t0 = time.perf_counter()
        conn.sock.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        return True

    for conn in conns:
        if send(conn):
            sel.register(conn.sock, selectors.EVENT_READ, conn)
    active = len(sel.get_map())
    progress = time.perf_counter()
    while active:
        events = sel.select(0.05)
        now = time.perf_counter()
        if events:
            progress = now
        elif now - progress > 30:
            raise RuntimeError("no response for 30 s")
        for key, _ in events:
            conn = key.data
            data = conn.sock.recv(65536)
            if not data:
                raise RuntimeError("the bridge closed a keep-alive connection")
            conn.buf += data
            if not conn.need:
                end = conn.buf.find(b"\r\n\r\n")
                if end < 0:
                    continue
                length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", conn.buf[:end])
                conn.need = end + 4 + (int(length.group(1)) if length else 0)
            if len(conn.buf) < conn.need:
                continue
            status = conn.buf[9:12].decode()
            del conn.buf[: conn.need]
            conn.need = 0
            statuses[status] = statuses.get(status, 0) + 1
            if status == "202":
                latencies.append(time.perf_counter() - conn.t0)
            else:
                errors += 1
            if not send(conn):
                sel.unregister(conn.sock)
                active -= 1
    span = time.perf_counter() - began
    for conn in conns:
        conn.sock.close()
    return {
        "clients": clients,
        "generator": "python",
        "sent": sent,
        "window_s": round(span, 3),
        "statuses": statuses,
        "errors": errors,
        "accepted_per_s": round(len(latencies) / span, 1) if span > 0 else None,
        "latency": summary(latencies),
    }


def run_generator(spec: dict[str, Any], timeout: float = 1800.0) -> dict[str, Any]:
    """``generate`` in a child process, so that it does not share the bench's GIL."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.bench_bridge", "--generator", json.dumps(spec)],
            cwd=ROOT,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError("load generator overran") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"load generator failed (exit {done.returncode}): {done.stderr[-500:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# -- phases --------------------------------------------------------------------------------------


def phase_throughput(workdir: Path, plan: Plan) -> dict[str, Any]:
    """One bridge and Alertmanager for all levels, drained between levels."""
    am = start_alertmanager(workdir, "throughput")
    try:
        bridge = start_bridge(workdir, "throughput", f"http://127.0.0.1:{am.port}")
        try:
            watch = {"bridge": bridge.proc.pid, "alertmanager": am.pid}
            out: dict[str, Any] = {"levels": {}}
            for clients in plan.levels:
                cpu0 = cpu_seconds(bridge.proc.pid)
                g0 = bridge_gauges(bridge)
                hostport = (bridge.host, bridge.port)
                level = wrk_level(hostport, clients, plan, f"tp{clients}", watch)
                drained = wait_drained(bridge)
                posted = drained["accepted"] - g0["accepted"]
                used = cpu_seconds(bridge.proc.pid) - cpu0
                level["accepted_in_level"] = int(posted)
                # Every webhook must be news to the bridge: one for an alarm already in that
                # state changes nothing, sends nothing and costs far less (ids reused by
                # another run would flatter the figures).
                changed = drained["transitions"] - g0["transitions"]
                level["transitions_per_webhook"] = round(changed / posted, 3) if posted else None
                level["drain_after_s"] = drained["drain_s"]
                level["bridge_cpu_s_per_1000"] = round(used / posted * 1000, 3) if posted else None
                out["levels"][str(clients)] = level
                lat = level["latency"] or {}
                log(
                    f"{clients} clients: {level['accepted_per_s']}/s, p50 {lat.get('p50_ms')} ms,"
                    f" p99 {lat.get('p99_ms')} ms, bridge {level['bridge_cores']} cores,"
                    f" generator {level['generator_cores']}, drain {drained['drain_s']} s"
                )
            out["memory_after"] = smaps_mib(bridge.proc.pid)
            return out
        finally:
            bridge.stop()
    finally:
        am.stop()


def phase_e2e(workdir: Path, plan: Plan) -> dict[str, Any]:
    """POST one webhook, then poll Alertmanager for its alert every ``poll_s``."""
    am = start_alertmanager(workdir, "e2e")
    try:
        bridge = start_bridge(workdir, "e2e", f"http://127.0.0.1:{am.port}")
        try:
            return _e2e(bridge, am.port, plan)
        finally:
            bridge.stop()
    finally:
        am.stop()


def _e2e(bridge: BridgeProcess, am_port: int, plan: Plan) -> dict[str, Any]:
    template = _template("alarm", "ok")
    lock = threading.Lock()
    nxt = [0]
    e2e: list[float] = []
    accept: list[float] = []
    late: list[float] = []
    polls: list[int] = []
    failures: list[str] = []
    start = time.perf_counter() + 0.2

    def worker() -> None:
        post = http.client.HTTPConnection(bridge.host, bridge.port, timeout=10)
        query = http.client.HTTPConnection("127.0.0.1", am_port, timeout=10)
        try:
            while True:
                with lock:
                    i = nxt[0]
                    nxt[0] += 1
                if i >= plan.e2e_alarms:
                    return
                alarm_id = f"e2e-{i}"
                due = start + i / plan.e2e_rate
                time.sleep(max(0.0, due - time.perf_counter()))
                path = "/api/v2/alerts?filter=" + urllib.parse.quote(f'alarm_id="{alarm_id}"')
                t0 = time.perf_counter()
                body = template.replace(b"@ID@", alarm_id.encode())
                post.request("POST", "/v1/aodh", body, {"Content-Type": "application/json"})
                resp = post.getresponse()
                resp.read()
                t_acc = time.perf_counter()
                if resp.status != 202:
                    failures.append(f"{alarm_id}: HTTP {resp.status}")
                    continue
                n = 0
                while True:
                    query.request("GET", path)
                    answer = query.getresponse()
                    found = answer.status == 200 and json.loads(answer.read())
                    n += 1
                    if found:
                        t1 = time.perf_counter()
                        break
                    if time.perf_counter() - t0 > 10:
                        failures.append(f"{alarm_id}: not in Alertmanager after 10 s")
                        break
                    time.sleep(plan.poll_s)
                if found:
                    with lock:
                        e2e.append(t1 - t0)
                        accept.append(t_acc - t0)
                        late.append(t0 - due)
                        polls.append(n)
        finally:
            post.close()
            query.close()

    threads = [threading.Thread(target=worker) for _ in range(plan.e2e_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    e2e_summary = summary(e2e)
    out = {
        "alarms": plan.e2e_alarms,
        "rate_per_s": plan.e2e_rate,
        "poll_interval_ms": plan.poll_s * 1000,
        "end_to_end": e2e_summary,
        "accept": summary(accept),
        "max_schedule_lag_ms": round(max(late, default=0.0) * 1000, 1),
        "polls_per_alarm_mean": round(sum(polls) / len(polls), 1) if polls else None,
        "failures": failures[:10],
        "failed": len(failures),
    }
    lat = e2e_summary or {}
    log(f"end to end: p50 {lat.get('p50_ms')} ms, p99 {lat.get('p99_ms')} ms, {len(failures)} lost")
    return out


def phase_memory(workdir: Path, plan: Plan) -> dict[str, Any]:
    """Two rounds of ``memory_alarms`` distinct alarms firing then resolving."""
    am = start_alertmanager(workdir, "memory")
    try:
        bridge = start_bridge(workdir, "memory", f"http://127.0.0.1:{am.port}")
        state = workdir / "state-memory" / "state.db"
        try:
            pid = bridge.proc.pid
            steps: list[dict[str, Any]] = [
                {"step": "started", **smaps_mib(pid), **state_files_mib(state)}
            ]
            cpu0 = cpu_seconds(pid)
            t0 = time.monotonic()
            posted = 0
            for rnd in (1, 2):
                for current, previous, firing in (
                    ("alarm", "ok", plan.memory_alarms),
                    ("ok", "alarm", 0),
                ):
                    spec = {
                        "host": bridge.host,
                        "port": bridge.port,
                        "clients": plan.memory_clients,
                        "prefix": f"mem{rnd}-",
                        "current": current,
                        "previous": previous,
                        "count": plan.memory_alarms,
                    }
                    load = run_generator(spec)
                    drained = wait_drained(bridge, firing=firing)
                    posted += load["sent"]
                    verb = "fired" if current == "alarm" else "resolved"
                    step = {
                        "step": f"round {rnd}: {plan.memory_alarms} {verb}",
                        "posted_per_s": load["accepted_per_s"],
                        "drain_s": drained["drain_s"],
                        "errors": load["errors"],
                        **smaps_mib(pid),
                        **state_files_mib(state),
                    }
                    steps.append(step)
                    log(
                        f"memory {step['step']}: {load['accepted_per_s']}/s, RSS"
                        f" {step['rss_mib']} MiB, PSS {step['pss_mib']} MiB, db"
                        f" {step['db_mib']} MiB (+wal {step['db-wal_mib']})"
                    )
            used = cpu_seconds(pid) - cpu0
            wall = time.monotonic() - t0
            return {
                "alarms_per_round": plan.memory_alarms,
                "clients": plan.memory_clients,
                "steps": steps,
                "webhooks": posted,
                "wall_s": round(wall, 1),
                "bridge_cpu_s_per_1000": round(used / posted * 1000, 3) if posted else None,
                "sustained_per_s": round(posted / wall, 1),
                "alertmanager_memory": memory_mib(am.pid),
            }
        finally:
            bridge.stop()
    finally:
        am.stop()


# -- the HTTP stack alone ----------------------------------------------------------------------


def hello_server() -> None:
    """Flask on waitress as the bridge runs it, whose view only reads the body and says 202:
    the ceiling the HTTP stack puts on any Flask-on-waitress bridge on this machine."""
    from flask import Flask, Response, request  # noqa: PLC0415
    from waitress.server import create_server  # noqa: PLC0415

    app = Flask("hello")

    @app.post("/v1/aodh")
    def webhook() -> Response:
        request.get_data(cache=False)
        return Response(b'{"status":"accepted"}\n', status=202, mimetype="application/json")

    server = create_server(
        app, host="127.0.0.1", port=0, threads=32, connection_limit=1000, channel_timeout=60
    )
    print(f"port {server.effective_port}", flush=True)
    server.run()


def phase_baseline(_workdir: Path, plan: Plan) -> dict[str, Any]:
    """Each throughput level against ``hello_server``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "from bench.bench_bridge import hello_server; hello_server()"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # waitress warns of its task queue depth under load
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split()[1])
        levels = {}
        for clients in plan.levels:
            hostport = ("127.0.0.1", port)
            level = wrk_level(hostport, clients, plan, f"hello{clients}", {"server": proc.pid})
            levels[str(clients)] = level
            lat = level["latency"] or {}
            log(
                f"hello {clients} clients: {level['accepted_per_s']}/s, p50 {lat.get('p50_ms')}"
                f" ms, p99 {lat.get('p99_ms')} ms, server {level['server_cores']} cores"
            )
        return {"levels": levels}
    finally:
        proc.terminate()
        proc.wait(10)


# -- profile -------------------------------------------------------------------------------------


def profiled_main(out: str, argv: Sequence[str], threads_out: str = "") -> int:
    """``alerts.cli.main``, with cProfile on every thread it starts when ``out`` is set.

    With ``threads_out``, the name of every thread (by native id) is written there once the
    server listens, so /proc's per-thread CPU can be attributed (Python 3.11 does not name
    its threads for the kernel).
    """
    profiles: list[cProfile.Profile] = []

    def hook(_frame: object, _event: str, _arg: object) -> None:
        sys.setprofile(None)
        prof = cProfile.Profile()
        profiles.append(prof)
        prof.enable()

    if out:
        threading.setprofile(hook)
    if threads_out:

        def names() -> None:
            while not any(t.name == "http" for t in threading.enumerate()):
                time.sleep(0.05)
            known = {str(t.native_id): t.name for t in threading.enumerate()}
            Path(threads_out).write_text(json.dumps(known), encoding="utf-8")

        threading.Thread(target=names, name="bench-names", daemon=True).start()
    from alerts.cli import main  # noqa: PLC0415

    code = main(argv)
    if profiles:
        stats = pstats.Stats(profiles[0])
        for prof in profiles[1:]:
            stats.add(prof)
        stats.dump_stats(out)
    return code


def _wrapper(stats: Path | None, threads: Path | None) -> tuple[str, ...]:
    call = f"profiled_main({str(stats or '')!r}, sys.argv[1:], {str(threads or '')!r})"
    return (
        sys.executable,
        "-c",
        f"import sys; from bench.bench_bridge import profiled_main; sys.exit({call})",
    )


def _where(key: tuple[str, int, str]) -> str:
    path, line, func = key
    for base in (str(ROOT) + "/", sys.prefix + "/lib/python3.11/site-packages/"):
        if path.startswith(base):
            path = path[len(base) :]
    if path.startswith(sys.base_prefix):
        path = "stdlib:" + Path(path).name
    return f"{path}:{line}({func})" if line else func


def _thread_group(name: str) -> str:
    if name.startswith("waitress"):
        return "waitress workers (Flask app, parse, wait for commit)"
    if name == "http":
        return "http (waitress socket loop)"
    return {"MainThread": "main (idle)", "accept": "accept (group commit)"}.get(
        name, name.split(" ", 1)[0]
    )


def thread_breakdown(workdir: Path, plan: Plan, clients: int) -> dict[str, Any]:
    """CPU per bridge thread (no profiler) over a window at ``clients`` clients."""
    am = start_alertmanager(workdir, f"threads-{clients}")
    names = workdir / f"threads-{clients}.json"
    try:
        bridge = start_bridge(
            workdir, f"threads-{clients}", f"http://127.0.0.1:{am.port}", _wrapper(None, names)
        )
        try:
            deadline = time.monotonic() + 10
            while not names.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            known: dict[str, str] = json.loads(names.read_text(encoding="utf-8"))
            pid = bridge.proc.pid
            marks: dict[str, dict[int, int]] = {}

            before = thread_cpu_ns(pid)
            total0 = cpu_seconds(pid)
            g0 = bridge_gauges(bridge)
            load = run_wrk((bridge.host, bridge.port), clients, plan.profile_s, f"thr{clients}", {})
            posted = wait_drained(bridge)["accepted"] - g0["accepted"]
            marks["after"] = thread_cpu_ns(pid)
            total = cpu_seconds(pid) - total0
        finally:
            bridge.stop()
    finally:
        am.stop()
    groups: dict[str, float] = {}
    for tid, ns in marks["after"].items():
        name = _thread_group(known.get(str(tid), "other"))
        groups[name] = groups.get(name, 0.0) + (ns - before.get(tid, 0)) / 1e9
    return {
        "clients": clients,
        "accepted_per_s": load["accepted_per_s"],
        "webhooks": int(posted),
        "bridge_cpu_s": round(total, 3),
        "ms_per_webhook": {
            k: round(v / posted * 1000, 3) for k, v in sorted(groups.items(), key=lambda i: -i[1])
        },
    }


def phase_profile(workdir: Path, plan: Plan) -> dict[str, Any]:
    """Where the bridge's time goes: CPU per thread, then cProfile on every thread."""
    threads = {str(c): thread_breakdown(workdir, plan, c) for c in (1, plan.profile_clients)}
    am = start_alertmanager(workdir, "profile")
    stats_path = workdir / "bridge.prof"
    try:
        bridge = start_bridge(
            workdir, "profile", f"http://127.0.0.1:{am.port}", _wrapper(stats_path, None)
        )
        try:
            g0 = bridge_gauges(bridge)
            hostport = (bridge.host, bridge.port)
            load = run_wrk(hostport, plan.profile_clients, plan.profile_s, "prof", {})
            posted = wait_drained(bridge)["accepted"] - g0["accepted"]
        finally:
            bridge.stop()
    finally:
        am.stop()
    stats = pstats.Stats(str(stats_path))
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())

    def rows(key: Callable[[tuple[int, int, float, float, Any]], float], n: int,
             only: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
        chosen = [(k, v) for k, v in raw.items() if only is None or only in k[0]]
        chosen.sort(key=lambda kv: key(kv[1]), reverse=True)
        return [
            {
                "function": _where(k),
                "calls": v[1],
                "self_s": round(v[2], 3),
                "cumulative_s": round(v[3], 3),
            }
            for k, v in chosen[:n]
        ]

    return {
        "threads": threads,
        "clients": plan.profile_clients,
        "window_s": plan.profile_s,
        "accepted_per_s_under_profiler": load["accepted_per_s"],
        "webhooks": int(posted),
        "self_time_total_s": round(total, 2),
        "top_self_time": rows(lambda v: v[2], 30),
        "alerts_cumulative": rows(lambda v: v[3], 25, only=str(ROOT / "alerts")),
    }


# -- report ----------------------------------------------------------------------------------


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**PASS**" if ok else "**FAIL**")


def judge(result: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    levels = (result.get("throughput") or {}).get("levels", {})
    for clients, lv in levels.items():
        rate, p99 = lv.get("accepted_per_s"), (lv.get("latency") or {}).get("p99_ms")
        out.append(
            {
                "target": f"{clients} clients: >= 1,000 accepted/s",
                "value": rate,
                "shown": f"{_num(rate)} /s",
                "ok": None if rate is None else rate >= TARGETS["accepted_per_s"],
            }
        )
        out.append(
            {
                "target": f"{clients} clients: accept p99 < 50 ms",
                "value": p99,
                "shown": f"{_num(p99, 2)} ms",
                "ok": None if p99 is None else p99 < TARGETS["accept_p99_ms"],
            }
        )
    e2e = ((result.get("e2e") or {}).get("end_to_end") or {}).get("p99_ms")
    out.append(
        {
            "target": "end to end (POST -> listed by Alertmanager) p99 < 1 s",
            "value": e2e,
            "shown": f"{_num(e2e, 1)} ms",
            "ok": None if e2e is None else e2e < TARGETS["e2e_p99_ms"],
        }
    )
    steps = (result.get("memory") or {}).get("steps", [])
    if len(steps) == 5:
        first, second = steps[2]["rss_mib"], steps[4]["rss_mib"]
        grew = round(second - first, 1)
        out.append(
            {
                "target": "memory does not grow with resolved alarms "
                f"(RSS after round 2 - round 1, both resolved, <= {MEMORY_SLACK_MIB:.0f} MiB)",
                "value": grew,
                "shown": f"{grew:+.1f} MiB ({first} -> {second} MiB)",
                "ok": grew <= MEMORY_SLACK_MIB,
            }
        )
    return out


def _history() -> list[str]:
    return ["", HISTORY.read_text(encoding="utf-8").rstrip()] if HISTORY.exists() else []


def markdown(result: dict[str, Any]) -> str:
    host, v = result["host"], result["versions"]
    lines = [
        "# Bridge benchmark",
        "",
        f"{result['date']} · {host['cpu_model']} ({host['cpus']} CPUs, nproc {v['nproc']}) · "
        f"kernel {host['kernel']} · Python {v['python']} · Flask {v['flask']} · waitress "
        f"{v['waitress']} · SQLite {v['sqlite']} · Alertmanager {v['alertmanager']} · wrk "
        f"{v.get('wrk', 'unknown')} · bridge "
        f"{v['bridge']} ({v.get('git') or 'no git'}) · whole run {result['duration_s']:.0f} s",
        "",
        f"Reproduce: `{result['command']}`. State DB `synchronous={result['synchronous']}` "
        f"(WAL), `--resend-interval {RESEND}`, no `--os-cloud`, {result.get('threads')} server "
        "threads, log level info (transitions are logged at debug). Load average (1 min) at the "
        f"start {result['load_start']}, at the end {result['load_end']}.",
        "",
    ]
    if result.get("machine_note"):
        lines += [f"Machine: {result['machine_note']}", ""]
    lines += ["## Targets", "", "| target | value | verdict |", "|---|---:|---|"]
    lines += [f"| {t['target']} | {t['shown']} | {_verdict(t['ok'])} |" for t in result["targets"]]
    tp = result.get("throughput")
    if tp and "error" not in tp:
        lines += [
            "",
            "## Throughput and accept latency",
            "",
            f"Generator: wrk ({WRK_THREADS} thread, `bench/wrk_webhooks.lua`). Each level is "
            f"a {result['plan']['warmup_s']} s wrk run to warm up, then a "
            f"{result['plan']['window_s']} s wrk run that is measured; every client is a "
            "keep-alive connection with one webhook in flight, each webhook with its own alarm "
            "id. Latency is wrk's (1 µs resolution, from writing the request to the last byte "
            "of the answer); *errors* counts answers other than 2xx, socket errors and "
            "timeouts. *cores* = CPU seconds of the measured run / its length, read before and "
            "after it. *CPU s / 1,000* is the bridge's CPU from the level's start (warm-up "
            "included) until every webhook was applied and delivered, per webhook accepted in "
            "that time. *drain* is how long that took after the run (apply and delivery lag).",
            "",
            "| clients | accepted/s | p50 ms | p99 ms | max ms | errors | bridge cores "
            "| wrk cores | Alertmanager cores | bridge CPU s / 1,000 | drain s | load |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for clients, lv in tp["levels"].items():
            lat = lv.get("latency") or {}
            lines.append(
                f"| {clients} | {_num(lv['accepted_per_s'])} | {_num(lat.get('p50_ms'), 2)} "
                f"| {_num(lat.get('p99_ms'), 2)} | {_num(lat.get('max_ms'), 1)} "
                f"| {lv['errors']} | {_num(lv.get('bridge_cores'), 2)} "
                f"| {_num(lv.get('generator_cores'), 2)} "
                f"| {_num(lv.get('alertmanager_cores'), 2)} "
                f"| {_num(lv.get('bridge_cpu_s_per_1000'), 2)} | {_num(lv['drain_after_s'], 1)} "
                f"| {lv['load_before']} |"
            )
        shown = ", ".join(
            f"{c}: {_num(lv.get('transitions_per_webhook'), 2)}" for c, lv in tp["levels"].items()
        )
        lines += [
            "",
            f"Alarm transitions the bridge applied per webhook it accepted, by clients: {shown} "
            "(1.00: every webhook was news to the bridge; one for an alarm already in that "
            "state changes nothing, sends nothing and costs about 40 % less CPU).",
        ]
    e2e = result.get("e2e")
    if e2e and "error" not in e2e:
        ee, acc = e2e.get("end_to_end") or {}, e2e.get("accept") or {}
        lines += [
            "",
            "## End to end",
            "",
            f"{e2e['alarms']} alarms posted at {e2e['rate_per_s']:.0f}/s by "
            f"{result['plan']['e2e_threads']} threads; after its 202 each alarm's alert is "
            f"looked up every {e2e['poll_interval_ms']:.0f} ms with `GET /api/v2/alerts?filter="
            'alarm_id="…"` (so the figures are high by up to one poll interval plus one query).',
            "",
            "| | n | p50 ms | p99 ms | max ms |",
            "|---|---:|---:|---:|---:|",
            f"| POST -> listed by Alertmanager | {ee.get('n')} | {_num(ee.get('p50_ms'))} "
            f"| {_num(ee.get('p99_ms'))} | {_num(ee.get('max_ms'))} |",
            f"| POST -> 202 | {acc.get('n')} | {_num(acc.get('p50_ms'), 2)} "
            f"| {_num(acc.get('p99_ms'), 2)} | {_num(acc.get('max_ms'), 2)} |",
            "",
            f"Failed: {e2e['failed']}; mean polls per alarm {e2e['polls_per_alarm_mean']}; "
            f"latest post behind schedule {e2e['max_schedule_lag_ms']} ms.",
        ]
    mem = result.get("memory")
    if mem and "error" not in mem:
        lines += [
            "",
            "## Memory",
            "",
            f"{mem['alarms_per_round']:,} distinct alarms per round, posted by "
            f"{mem['clients']} clients as fast as the bridge accepts them; each step read "
            "after every webhook was applied and every alert delivered (inbox and queue "
            "empty, firing count as expected). Generator: a Python client (one event loop "
            "over raw sockets, in its own process), not wrk, because a round must post each "
            "of exactly N ids once and have every one answered, and a wrk run ends on a clock "
            "with requests in flight. *posted/s* is over a whole round, ramp-up and tail "
            "included, against a growing state; the throughput table is the rate. "
            "RSS/PSS/anonymous from `smaps_rollup`; the "
            "database keeps every alarm's row (resolved ones too) and, for 15 minutes, each "
            "resolution for re-sending.",
            "",
            "| step | posted/s | RSS MiB | PSS MiB | anon MiB | peak RSS MiB | DB MiB "
            "| WAL MiB | drain s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for s in mem["steps"]:
            lines.append(
                f"| {s['step']} | {_num(s.get('posted_per_s'))} | {s['rss_mib']} "
                f"| {s['pss_mib']} | {s['anonymous_mib']} | {_num(s['peak_rss_mib'])} "
                f"| {s['db_mib']} | {s['db-wal_mib']} | {_num(s.get('drain_s'))} |"
            )
        lines += [
            "",
            f"{mem['webhooks']:,} webhooks in {mem['wall_s']} s ({mem['sustained_per_s']}/s "
            "accepted, applied and delivered); bridge CPU "
            f"{mem['bridge_cpu_s_per_1000']} s per 1,000 webhooks. Alertmanager ended at "
            f"{mem['alertmanager_memory']['rss_mib']:.0f} MiB RSS.",
        ]
    base = result.get("baseline")
    if base and "error" not in base:
        lines += [
            "",
            "## The HTTP stack alone",
            "",
            "The same wrk load (same script, warm-up and window) against Flask on waitress "
            "(32 threads, as the bridge) whose only view reads the body and answers 202: no "
            "validation, no SQLite, no other thread. This is the ceiling of the stack on this "
            "machine at this load.",
            "",
            "| clients | answered/s | p50 ms | p99 ms | errors | server cores "
            "| wrk cores | server CPU ms / request |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for clients, lv in base["levels"].items():
            lat = lv.get("latency") or {}
            n = (lat.get("n") or 0) or 1
            lines.append(
                f"| {clients} | {_num(lv['accepted_per_s'])} | {_num(lat.get('p50_ms'), 2)} "
                f"| {_num(lat.get('p99_ms'), 2)} | {lv['errors']} "
                f"| {_num(lv.get('server_cores'), 2)} | {_num(lv.get('generator_cores'), 2)} "
                f"| {lv['server_cpu_s'] / n * 1000:.2f} |"
            )
    prof = result.get("profile")
    if prof and "error" not in prof:
        lines += [
            "",
            "## Bridge CPU by thread",
            "",
            "CPU of each thread from `/proc/PID/task/TID/schedstat` (no profiler), over a "
            f"{prof['window_s']} s wrk run plus the drain, divided by the webhooks accepted "
            "in it.",
            "",
            "| clients | accepted/s | thread | CPU ms / webhook |",
            "|---:|---:|---|---:|",
        ]
        for clients, th in prof["threads"].items():
            for name, ms in th["ms_per_webhook"].items():
                lines.append(f"| {clients} | {_num(th['accepted_per_s'])} | {name} | {ms} |")
        lines += [
            "",
            "## Profile",
            "",
            f"The bridge under cProfile on every thread, {prof['clients']} wrk clients for "
            f"{prof['window_s']} s ({prof['accepted_per_s_under_profiler']}/s under the "
            f"profiler, {prof['webhooks']} webhooks, {prof['self_time_total_s']} s of profiled "
            "time; waiting threads count their wait as self time of the wait call).",
            "",
            "| function | calls | self s | cumulative s |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| `{r['function']}` | {r['calls']} | {r['self_s']} | {r['cumulative_s']} |"
            for r in prof["top_self_time"]
        ]
        lines += ["", "In alerts/, by cumulative time:", "", "| function | calls | cumulative s |"]
        lines += ["|---|---:|---:|"]
        lines += [
            f"| `{r['function']}` | {r['calls']} | {r['cumulative_s']} |"
            for r in prof["alerts_cumulative"]
        ]
    failed = [
        k for k in ("throughput", "e2e", "memory", "profile") if "error" in (result.get(k) or {})
    ]
    for key in failed:
        lines += ["", f"**{key} failed**: {result[key]['error']}"]
    lines += _history()
    lines.append("")
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def versions() -> dict[str, Any]:
    import sqlite3  # noqa: PLC0415

    from alerts import __version__  # noqa: PLC0415

    def command(argv: list[str], *, check: bool = True) -> str | None:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=check)
        except (OSError, subprocess.SubprocessError):
            return None
        return (done.stdout or done.stderr).strip() or None

    am = command([str(AM_BINARY), "--version"]) or ""
    wrk = command([str(WRK), "--version"], check=False) or ""  # prints its usage, exits 1
    return {
        "python": platform.python_version(),
        "nproc": command(["nproc"]),
        "flask": _version("flask"),
        "waitress": _version("waitress"),
        "sqlite": sqlite3.sqlite_version,
        "alertmanager": am.split()[2] if am.startswith("alertmanager") else "unknown",
        "wrk": wrk.split()[1] if wrk.startswith("wrk ") else "unknown",
        "bridge": __version__,
        "git": command(["git", "-C", str(ROOT), "describe", "--always", "--dirty"]),
    }


def bridge_settings() -> dict[str, Any]:
    """What the bridge runs with, from its own config as the bench starts it."""
    from alerts.cli import parse_flags  # noqa: PLC0415
    from alerts.config import build_config  # noqa: PLC0415

    args = bridge_argv(Path(tempfile.gettempdir()) / "unused" / "state.db", "http://127.0.0.1:1")
    config = build_config(parse_flags(args))
    return {"synchronous": config.synchronous, "threads": config.threads}


def _guard(what: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One failed phase is reported as such; the rest of the run goes on."""
    t0 = time.monotonic()
    try:
        out = fn()
    except (RuntimeError, OSError, http.client.HTTPException, AssertionError) as exc:
        log(f"{what}: FAILED: {exc}")
        return {"error": str(exc)[:500]}
    out["phase_s"] = round(time.monotonic() - t0, 1)
    log(f"{what}: done in {out['phase_s']} s")
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.bench_bridge",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="smoke run: short windows, 2,000 alarms")
    p.add_argument("--alarms", type=int, help="distinct alarms per memory round (default 100000)")
    p.add_argument("--profile", action="store_true", help="also profile the bridge (cProfile)")
    p.add_argument(
        "--skip", default="", help="comma list of phases to skip: throughput,e2e,memory,baseline"
    )
    p.add_argument("--output-dir", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--note", default="", help="what else ran on the machine (into the report)")
    p.add_argument(
        "--bridge-config", type=Path, help="a --config.file for every bridge the bench starts"
    )
    p.add_argument("--generator", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.generator:
        print(json.dumps(generate(json.loads(args.generator))), flush=True)
        return 0
    if not AM_BINARY.exists():
        log(f"{AM_BINARY} not found (Debian prometheus-alertmanager)")
        return 2
    if not WRK.exists():
        log(f"{WRK} not found (Debian wrk; `make bench-bridge` installs it)")
        return 2
    # SIGTERM runs the finally blocks, which stop the bridge and Alertmanager by PID.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    if args.bridge_config:
        BRIDGE_EXTRA[:] = ["--config.file", str(args.bridge_config.resolve())]
    plan = QUICK if args.quick else Plan()
    if args.alarms:
        plan = Plan(**{**asdict(plan), "memory_alarms": args.alarms})
    skip = {s for s in args.skip.split(",") if s}
    stem = "bridge-quick" if args.quick else "bridge"
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="bench-bridge-"))
    command = "python -m bench.bench_bridge" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:])
    )
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command.replace(" --note " + args.note, "") if args.note else command,
        "host": host_info(),
        "versions": versions(),
        "plan": asdict(plan),
        **bridge_settings(),
        "targets_spec": TARGETS,
        "load_start": loadavg(),
        "machine_note": args.note,
    }
    try:
        phases: list[tuple[str, Callable[[Path, Plan], dict[str, Any]]]] = [
            ("throughput", phase_throughput),
            ("e2e", phase_e2e),
            ("memory", phase_memory),
            ("baseline", phase_baseline),
        ]
        if args.profile:
            phases.append(("profile", phase_profile))
        for name, fn in phases:
            if name in skip:
                continue
            log(f"{name} ...")
            result[name] = _guard(name, lambda fn=fn: fn(workdir, plan))  # type: ignore[misc]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["load_end"] = loadavg()
    result["duration_s"] = round(time.monotonic() - started, 1)
    result["targets"] = judge(result)
    text = markdown(result)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.output_dir / f"{stem}.md").write_text(text)
    print(text)
    failed = any("error" in (result.get(k) or {}) for k in ("throughput", "e2e", "memory"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
