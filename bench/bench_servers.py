"""The bridge's HTTP server, plain and TLS, under wrk: webhooks per second, and whether a
request still gets through while silent connections are open.

Every variant is the real bridge (``python -m alerts``, no ``--os-cloud``) posting to one
private single-node Alertmanager, loaded by ``wrk`` with ``bench/wrk_webhooks.lua``: POSTs of
Aodh-shaped webhooks, each with an alarm id never sent before (so each is committed).

* ``before``: the bridge at ``--baseline`` (a git revision, extracted with ``git archive``):
  waitress for plain HTTP, cheroot with its defaults for TLS;
* ``after``: the bridge of this checkout;
* ``cheroot``: this checkout with cheroot serving both modes, given the same limits as far as
  cheroot has them (the "one cheroot server" option).

Variants alternate within each round, so a busy neighbour on the host hits them alike. After
each wrk run, ``threads + 8`` TCP connections that never send a byte are opened and one
``GET /healthz`` is timed (bounded): a server whose workers or accept loop wait on silent
clients shows it there. Results: ``bench/results/bridge-servers.{json,md}``.

    python -m bench.bench_servers [--rounds 1] [--duration 10] [--baseline REV]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bench_bridge import AM_BINARY, log, start_alertmanager, versions
from bench.procfs import cpu_seconds, host_info, loadavg
from bench.runs import Process, spawn_bridge
from tests.support.tls import self_signed

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "wrk_webhooks.lua"
VARIANTS = ("before", "after", "cheroot")
MODES = ("plain", "tls")
DEFAULT_BASELINE = "1558457"  # the last revision with waitress + cheroot (issue 9)
PROBE_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Plan:
    rounds: int
    duration_s: int
    connections: int
    wrk_threads: int
    threads: int  # the bridge's server.threads (its default)


@dataclass(frozen=True, slots=True)
class Setup:
    """What every run shares: the plan, the files, the Alertmanager, the client's trust."""

    plan: Plan
    workdir: Path
    baseline: Path
    am_port: int
    tls: ssl.SSLContext


# -- the "cheroot for both modes" variant ------------------------------------------------------


def serve_with_cheroot(argv: Sequence[str]) -> int:
    """``python -m bench.bench_servers --serve-cheroot BRIDGE-ARGS``:
    ``alerts.cli.main`` with cheroot in place of waitress, plain and TLS, with the limits
    the bridge documents where cheroot has a setting for them (it has no connection limit)."""
    from cheroot import wsgi  # noqa: PLC0415
    from cheroot.ssl.builtin import BuiltinSSLAdapter  # noqa: PLC0415

    import alerts.server  # noqa: PLC0415
    from alerts.cli import main  # noqa: PLC0415

    class CherootServer:
        def __init__(self, app: Any, host: str, port: int, limits: Any, web: Any) -> None:
            self._server: Any = wsgi.Server(
                (host or "::", port),  # cheroot makes "::" dual-stack
                app,
                numthreads=limits.threads,
                server_name="aodh-alertmanager-bridge",
                timeout=limits.idle_timeout,
            )
            self._server.max_request_header_size = alerts.server.MAX_HEADER_BYTES
            self._server.max_request_body_size = alerts.server.HARD_MAX_BODY
            self._server.keep_alive_conn_limit = limits.max_connections
            if web.tls is not None:
                adapter = BuiltinSSLAdapter(web.tls.cert_file, web.tls.key_file)
                adapter.context = web.ssl_context()
                self._server.ssl_adapter = adapter
            self._server.prepare()
            self.port = int(self._server.bind_addr[1])

        def serve(self) -> None:
            self._server.serve()

        def close(self) -> None:
            self._server.stop()

    alerts.server.make_server = CherootServer
    return main(argv)


# -- one run -------------------------------------------------------------------------------------


def baseline_tree(workdir: Path, rev: str) -> Path:
    """The bridge's packages at ``rev``, extracted (no checkout, no change to this one)."""
    out = workdir / "baseline"
    out.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "alerts", "exporter"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(out, filter="data")
    return out


def command(variant: str, baseline: Path) -> tuple[list[str], Path]:
    """argv prefix and working directory of a variant (``python -m`` imports from cwd)."""
    if variant == "before":
        return [sys.executable, "-m", "alerts"], baseline
    if variant == "cheroot":
        return [sys.executable, "-m", "bench.bench_servers", "--serve-cheroot"], ROOT
    return [sys.executable, "-m", "alerts"], ROOT


def start(setup: Setup, variant: str, mode: str) -> Process:
    workdir = setup.workdir
    tag = f"{variant}-{mode}-{time.monotonic_ns()}"
    state = workdir / tag / "state.db"
    state.parent.mkdir()
    argv, cwd = command(variant, setup.baseline)
    argv += [
        "--web.listen-address",
        "127.0.0.1:0",
        "--state.path",
        str(state),
        "--alertmanager.url",
        f"http://127.0.0.1:{setup.am_port}",
        "--resend-interval",
        "10m",
    ]
    if mode == "tls":
        argv += ["--web.config.file", str(workdir / "web.yml")]
    log_path = workdir / f"{tag}.log"
    proc, port = spawn_bridge(argv, cwd, log_path)
    return Process(tag, proc, port, log_path, argv)


def _request(port: int, tls: ssl.SSLContext | None, timeout: float) -> bytes:
    """One ``GET /healthz`` with ``Connection: close``; the raw answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname="127.0.0.1")
    with sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def wait_ready(port: int, tls: ssl.SSLContext | None) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if _request(port, tls, 5).startswith(b"HTTP/1.1 200"):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("bridge never became ready")
        time.sleep(0.1)


def wrk_argv(plan: Plan, url: str, prefix: str) -> list[str]:
    return [
        "wrk",
        f"-t{plan.wrk_threads}",
        f"-c{plan.connections}",
        f"-d{plan.duration_s}s",
        "--latency",
        "-s",
        str(LUA.relative_to(ROOT)),
        url,
        "--",
        prefix,
    ]


def _millis(text: str) -> float:
    """wrk's durations (``812.00us``, ``7.41ms``, ``1.02s``) in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        return float("nan")
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]


def parse_wrk(out: str) -> dict[str, Any]:
    """Requests/sec, latency percentiles, non-2xx answers and socket errors from wrk's text."""

    def find(pattern: str) -> str | None:
        match = re.search(pattern, out, re.MULTILINE)
        return match.group(1) if match else None

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests_per_s": float(find(r"Requests/sec:\s+([\d.]+)") or 0),
        "requests": int(find(r"(\d+) requests in") or 0),
        "p50_ms": _millis(find(r"^\s+50%\s+(\S+)") or "0ms"),
        "p99_ms": _millis(find(r"^\s+99%\s+(\S+)") or "0ms"),
        "non_2xx": int(find(r"Non-2xx or 3xx responses: (\d+)") or 0),
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


def probe_silent(port: int, tls: ssl.SSLContext | None, silent: int) -> dict[str, Any]:
    """``silent`` connections that never send a byte, then one request: its time, bounded.
    A server whose accept loop is stuck leaves connections unaccepted: with a short listen
    backlog even the TCP connect of the later ones then times out (counted)."""
    held: list[socket.socket] = []
    unconnected = 0
    for _ in range(silent):
        try:
            held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        except OSError:
            unconnected += 1
    out: dict[str, Any] = {"silent": silent, "connect_timeouts": unconnected}
    try:
        time.sleep(0.5)  # let the server accept them all
        t0 = time.perf_counter()
        try:
            ok = _request(port, tls, PROBE_TIMEOUT).startswith(b"HTTP/1.1 200")
        except OSError as exc:
            return {**out, "answered": False, "error": str(exc)[:200]}
        return {**out, "answered": ok, "seconds": round(time.perf_counter() - t0, 3)}
    finally:
        for sock in held:
            sock.close()


def run_one(setup: Setup, variant: str, mode: str) -> dict[str, Any]:
    plan = setup.plan
    context = setup.tls if mode == "tls" else None
    bridge = start(setup, variant, mode)
    try:
        wait_ready(bridge.port, context)
        scheme = "https" if mode == "tls" else "http"
        argv = wrk_argv(plan, f"{scheme}://127.0.0.1:{bridge.port}", bridge.name)
        load, cpu0 = loadavg(), cpu_seconds(bridge.pid)
        done = subprocess.run(
            argv,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=plan.duration_s + 60,
            check=False,
        )
        cores = (cpu_seconds(bridge.pid) - cpu0) / plan.duration_s
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed: {done.stderr[-500:]}")
        result = parse_wrk(done.stdout)
        result.update(
            variant=variant,
            mode=mode,
            bridge_cores=round(cores, 2),
            load=load,
            wrk=" ".join(argv),
            probe=probe_silent(bridge.port, context, plan.threads + 8),
        )
    finally:
        bridge.proc.send_signal(signal.SIGTERM)
        try:
            code = bridge.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            bridge.proc.kill()
            code = bridge.proc.wait(timeout=10)
    result["sigterm_exit"] = code
    log(
        f"{variant} {mode}: {result['requests_per_s']:.1f}/s p99 {result['p99_ms']} ms,"
        f" non-2xx {result['non_2xx']}, silent probe {result['probe']}, exit {code}"
    )
    return result


# -- report ----------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _probe_text(probe: dict[str, Any]) -> str:
    if probe.get("answered") and "seconds" in probe:
        text = f"{probe['seconds']:.2f} s"
    elif "error" in probe:
        text = f"not answered within {PROBE_TIMEOUT:.0f} s"
    else:
        text = "failed"
    if probe.get("connect_timeouts"):
        text += f" ({probe['connect_timeouts']} of {probe['silent']} could not even connect)"
    return text


SERVERS = {
    "before": {"plain": "waitress", "tls": "cheroot (defaults)"},
    "after": {"plain": "waitress", "tls": "waitress + TLS layer"},
    "cheroot": {"plain": "cheroot", "tls": "cheroot"},
}


def render(result: dict[str, Any]) -> str:
    v, h = result["versions"], result["host"]
    lines = [
        "# Bridge HTTP servers: plain and TLS under wrk",
        "",
        f"{result['date']} · {h['cpu_model']} ({h['cpus']} CPUs) · kernel {h['kernel']} ·"
        f" Python {v['python']} · waitress {v['waitress']} · cheroot {result['cheroot']} ·"
        f" Alertmanager {v['alertmanager']} · bridge {v['git']} · baseline"
        f" {result['baseline']}",
        "",
        f"Reproduce: `{result['command']}` (needs `wrk`, Debian package, and"
        " `prometheus-alertmanager`). Load average (1 min) at the start"
        f" {result['load_start']}, at the end {result['load_end']}.",
        "",
        "Each run: a new bridge (32 server threads, state `synchronous=FULL`, no `--os-cloud`)"
        " posting to one private Alertmanager; wrk with `bench/wrk_webhooks.lua` (every request a"
        " new alarm, so every one is committed); then the silent-connection probe:"
        f" {result['plan']['threads'] + 8} TCP connections that never send a byte (not even a"
        " TLS ClientHello), and the time one `GET /healthz` then takes (bounded at"
        f" {PROBE_TIMEOUT:.0f} s); then SIGTERM (exit status shown). Variants alternate within"
        " every round.",
        "",
        "| variant | mode | server | webhooks/s | p50 ms | p99 ms | non-2xx | socket errors"
        " | bridge cores | silent probe | SIGTERM exit | load |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for run in result["runs"]:
        if "error" in run:
            lines.append(f"| {run['variant']} | {run['mode']} | | failed: {run['error']} |")
            continue
        lines.append(
            f"| {run['variant']} | {run['mode']} | {SERVERS[run['variant']][run['mode']]} |"
            f" {run['requests_per_s']:.1f} | {run['p50_ms']:.2f} | {run['p99_ms']:.2f} |"
            f" {run['non_2xx']} | {run['socket_errors']} | {run['bridge_cores']} |"
            f" {_probe_text(run['probe'])} | {run['sigterm_exit']} | {run['load']} |"
        )
    lines += ["", "Median webhooks/s over the rounds:", ""]
    lines += ["| variant | plain | TLS |", "|---|---:|---:|"]
    for variant in result["variants"]:
        cells = []
        for mode in MODES:
            rates = [
                r["requests_per_s"]
                for r in result["runs"]
                if r.get("variant") == variant and r.get("mode") == mode and "error" not in r
            ]
            cells.append(f"{_median(rates):.1f}" if rates else "—")
        lines.append(f"| {variant} | {cells[0]} | {cells[1]} |")
    lines += ["", "wrk command lines (URL port and run prefix vary per run):", ""]
    for mode in MODES:
        shown = [r["wrk"] for r in result["runs"] if r.get("mode") == mode and "wrk" in r]
        lines += [f"    {shown[0]}"] if shown else []
    lines.append("")
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.bench_servers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision of 'before'")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--output-dir", type=Path, default=ROOT / "bench" / "results")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw[:1] == ["--serve-cheroot"]:
        return serve_with_cheroot(raw[1:])
    args = parse_args(raw)
    if shutil.which("wrk") is None or not AM_BINARY.exists():
        log("needs wrk and prometheus-alertmanager (Debian packages)")
        return 2
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    variants = [v for v in args.variants.split(",") if v]
    modes = [m for m in args.modes.split(",") if m]
    plan = Plan(args.rounds, args.duration, args.connections, args.wrk_threads, threads=32)
    workdir = Path(tempfile.mkdtemp(prefix="bench-servers-"))
    cert, _ = self_signed(workdir)
    (workdir / "web.yml").write_text(
        "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n", encoding="utf-8"
    )
    tls = ssl.create_default_context(cafile=str(cert))
    baseline = baseline_tree(workdir, args.baseline)
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.bench_servers" + "".join(f" {a}" for a in raw),
        "host": host_info(),
        "versions": versions(),
        "cheroot": _cheroot_version(),
        "baseline": args.baseline,
        "plan": {
            "rounds": plan.rounds,
            "duration_s": plan.duration_s,
            "connections": plan.connections,
            "wrk_threads": plan.wrk_threads,
            "threads": plan.threads,
        },
        "variants": variants,
        "load_start": loadavg(),
        "runs": [],
    }
    am = start_alertmanager(workdir, "servers")
    setup = Setup(plan, workdir, baseline, am.port, tls)
    try:
        for _ in range(plan.rounds):
            for mode in modes:
                for variant in variants:
                    try:
                        run = run_one(setup, variant, mode)
                    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                        log(f"{variant} {mode}: FAILED: {exc}")
                        run = {"variant": variant, "mode": mode, "error": str(exc)[:300]}
                    result["runs"].append(run)
    finally:
        am.stop()
    result["load_end"] = loadavg()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "bridge-servers.json").write_text(
        json.dumps(result, indent=2) + "\n", encoding="utf-8"
    )
    text = render(result)
    (args.output_dir / "bridge-servers.md").write_text(text, encoding="utf-8")
    print(text)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _cheroot_version() -> str:
    import importlib.metadata  # noqa: PLC0415

    try:
        return importlib.metadata.version("cheroot")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    sys.exit(main())
