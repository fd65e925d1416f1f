"""Benchmark the central OpenStack collector against the testbed with 10, 100 and 1,000 servers.

For each size the testbed is seeded up to that many ACTIVE servers across a few dozen
projects (``testbed/scale.py``), then the exporter runs as a process with only the
openstack collector and short cycles, and is measured from the outside: cycle times and
self-reported API requests per cycle by service, Keystone logins (counted by the exporter and
by a proxy in front of Keystone's ``auth_url``), scrape latency between and during cycles,
CPU per cycle and peak RSS. Results: ``bench/results/openstack.{json,md}``.

    python -m bench.bench_openstack [--sizes 10,100,1000] [--quick] [--keep-testbed]

The testbed is the bench's own (``--testbed-dir``, default ``.testbed-bench`` in the
checkout): started when it does not run, with tokens of ``--token-lifetime`` seconds so
that renewals happen during the run, and stopped at the end when the bench started it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import itertools
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import report, runs
from bench.procfs import cpu_seconds, host_info, loadavg, memory_mib
from bench.scrape import Sample, Scraper, burst, paced, summary
from exporter import __version__
from testbed import scale, services
from testbed.bed import Bed, ServiceError
from testbed.up import is_up, up
from testbed.venv import default_venv, ensure_venv
from tests.support.proxy import Proxy, Seen, http_proxy

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("keystone", "placement", "nova", "glance", "neutron", "cinder")
FULL_SIZES = (10, 100, 1000)
QUICK_SIZES = (10,)
RENEW_MARGIN = 120.0
"""keystoneauth fetches a new token when the one it holds expires within two minutes."""
PUBLISH_SLACK = 0.25
"""After a cycle's timestamp the snapshot is rebuilt and gzipped: scrapes up to this long
after it still count as during the cycle."""
PEER_FIGURE = {
    "exporter": "openstack-exporter",
    "seconds_per_scrape": 30.0,
    "vms": 1000,
    "where": "https://github.com/openstack-exporter/openstack-exporter/issues/214",
    "setting": "~40 hosts, ~1,000 running VMs, ~1,800 ports; it collects inside each scrape",
}
TARGETS = {
    "inventory_s_at_1000": 10.0,
    "scrape_p99_ms": 5.0,
    "peak_rss_mb": 150.0,
}
MIB_PER_MB = 1e6 / 2**20


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- what a body says --------------------------------------------------------------------

_SELF = re.compile(
    rb"^openstack_exporter_collector_"
    rb"(success|duration_seconds|last_success_timestamp_seconds|timeouts_total)"
    rb'\{collector="([^"]+)"\} (\S+)$',
    re.MULTILINE,
)
_REQUESTS = re.compile(rb"^openstack_exporter_api_requests_total\{([^}]*)\} (\S+)$", re.MULTILINE)
_LABEL = re.compile(rb'(\w+)="((?:[^"\\]|\\.)*)"')
_TOKENS = re.compile(rb"^openstack_exporter_token_requests_total\{[^}]*\} (\S+)$", re.MULTILINE)
_VMS = re.compile(rb"^openstack_nova_total_vms\{[^}]*\} (\S+)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Status:
    """A collector's self-metrics in one body; a new value means a cycle ended."""

    success: bool
    duration: float
    last_success: float | None
    timeouts: float


@dataclass(frozen=True, slots=True)
class Cycle:
    collector: str
    end: float  # wall clock when the cycle (collect + render) ended
    duration: float
    ok: bool

    @property
    def start(self) -> float:
        return self.end - self.duration


@dataclass(frozen=True, slots=True)
class Body:
    """One scrape: when, and what the exporter reported in it."""

    at: float
    latency: float
    status: dict[str, Status]  # by collector name
    requests: dict[tuple[str, str], float]  # (service_type, code) -> answered requests
    tokens: float | None
    servers: float | None
    series: int


def read_body(text: bytes, at: float, latency: float) -> Body:
    fields: dict[str, dict[str, float]] = {}
    for what, name, value in _SELF.findall(text):
        fields.setdefault(name.decode(), {})[what.decode()] = float(value)
    status = {
        name: Status(
            f.get("success") == 1.0,
            f.get("duration_seconds", 0.0),
            f.get("last_success_timestamp_seconds"),
            f.get("timeouts_total", 0.0),
        )
        for name, f in fields.items()
    }
    requests: dict[tuple[str, str], float] = {}
    for labels, value in _REQUESTS.findall(text):
        got = {k.decode(): v.decode() for k, v in _LABEL.findall(labels)}
        key = (got.get("service_type", ""), got.get("code", ""))
        requests[key] = requests.get(key, 0.0) + float(value)
    tokens = _TOKENS.search(text)
    vms = _VMS.search(text)
    return Body(
        at,
        latency,
        status,
        requests,
        float(tokens.group(1)) if tokens else None,
        float(vms.group(1)) if vms else None,
        sum(1 for line in text.splitlines() if line and not line.startswith(b"#")),
    )


class ParsingScraper(Scraper):
    """A Prometheus-like scraper that also keeps what every body said (parsed after the
    latency is taken, so parsing never counts as scrape time)."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.bodies: list[Body] = []

    def scrape(self) -> Sample:
        sample = super().scrape()
        self.bodies.append(read_body(self.last_text(), sample.start, sample.latency))
        return sample


# -- the cycles and the counters, from the bodies -----------------------------------------


def _ends(bodies: Sequence[Body], collector: str) -> list[tuple[Cycle, Body]]:
    """Every cycle of ``collector`` the bodies saw, oldest first, with the first body that
    showed it. A successful cycle's end is its timestamp; a failed one has none, so the
    first scrape that saw it stands for its end (an upper bound)."""
    out: list[tuple[Cycle, Body]] = []
    previous: Status | None = None
    for b in bodies:
        st = b.status.get(collector)
        if st is None or st.duration == 0.0 or st == previous:
            continue
        previous = st
        end = st.last_success if st.success and st.last_success is not None else b.at
        out.append((Cycle(collector, end, st.duration, st.success), b))
    return out


def cycles_of(bodies: Sequence[Body], collector: str) -> list[Cycle]:
    return [c for c, _ in _ends(bodies, collector)]


def health_snapshots(bodies: Sequence[Body], health: str) -> list[tuple[float, Counter[str]]]:
    """(cycle end, request counts by ``service code``) per health cycle: the request counter
    is part of the health cycle's output, so it changes exactly when a health cycle ends."""
    return [
        (c.end, Counter({f"{s} {code}": v for (s, code), v in b.requests.items()}))
        for c, b in _ends(bodies, health)
    ]


def _overlaps(a: float, b: float, windows: Sequence[Cycle]) -> list[Cycle]:
    return [w for w in windows if w.start < b and w.end > a]


def _by_service(counts: Counter[str]) -> dict[str, int]:
    """``service code`` counts folded by service, rounded; zeros dropped."""
    out: Counter[str] = Counter()
    for key, value in counts.items():
        out[key.split(" ")[0]] += round(value)
    return {k: v for k, v in sorted(out.items()) if v}


def _codes(counts: Counter[str] | None) -> dict[str, int] | None:
    return None if counts is None else {k: round(v) for k, v in sorted(counts.items()) if v}


def _mode(deltas: list[Counter[str]]) -> Counter[str] | None:
    if not deltas:
        return None
    keyed = Counter(json.dumps(sorted(d.items())) for d in deltas)
    best = keyed.most_common(1)[0][0]
    return Counter({k: v for k, v in json.loads(best)})


def requests_per_cycle(
    bodies: Sequence[Body], health: str, inventory: str, since: float
) -> dict[str, Any]:
    """API requests of one health cycle and of one inventory cycle, by service.

    Health: the counter's change between two consecutive health cycles with no inventory
    cycle in between. Inventory: the change across one inventory cycle (from the last
    health cycle before it began to the first after it ended) less the health cycles that
    ended meanwhile. Only cycles that ended after ``since`` (steady state) count.
    """
    snaps = [s for s in health_snapshots(bodies, health) if s[0] > since]
    every = cycles_of(bodies, inventory)  # all of them count as overlaps
    health_deltas: list[Counter[str]] = []
    for (t0, c0), (t1, c1) in itertools.pairwise(snaps):
        if not _overlaps(t0, t1, every):
            health_deltas.append(Counter({k: c1[k] - c0.get(k, 0) for k in c1}))
    per_health = _mode(health_deltas)
    inv_deltas: dict[bool, list[Counter[str]]] = {True: [], False: []}
    for cycle in [c for c in every if c.start >= since] if per_health is not None else []:
        before = [s for s in snaps if s[0] <= cycle.start]
        after = [s for s in snaps if s[0] >= cycle.end]
        if not before or not after:
            continue
        (t0, c0), (t1, c1) = before[-1], after[0]
        if _overlaps(t0, t1, every) != [cycle]:
            continue
        n_health = sum(1 for t, _ in snaps if t0 < t <= t1)
        delta = Counter({k: c1[k] - c0.get(k, 0) for k in c1})
        for key, value in (per_health or {}).items():
            delta[key] -= n_health * value
        inv_deltas[cycle.ok].append(delta)
    per_inventory = _mode(inv_deltas[True])
    failed = _mode(inv_deltas[False])

    def totals(deltas: list[Counter[str]]) -> list[int]:
        return sorted(round(sum(d.values())) for d in deltas)

    return {
        "health": None if per_health is None else _by_service(per_health),
        "health_codes": _codes(per_health),
        "health_samples": len(health_deltas),
        "health_totals": totals(health_deltas),
        "inventory": None if per_inventory is None else _by_service(per_inventory),
        "inventory_codes": _codes(per_inventory),
        "inventory_samples": len(inv_deltas[True]),
        "inventory_totals": totals(inv_deltas[True]),
        "failed_inventory": None if failed is None else _by_service(failed),
        "failed_inventory_totals": totals(inv_deltas[False]),
    }


# -- CPU per cycle -------------------------------------------------------------------------


@dataclass
class CpuTrace:
    """The exporter's utime + stime sampled every few hundred ms, with wall times."""

    pid: int
    points: list[tuple[float, float]] = field(default_factory=list)

    def sample(self) -> None:
        self.points.append((time.time(), cpu_seconds(self.pid)))

    def at_or_before(self, t: float) -> tuple[float, float] | None:
        found = [p for p in self.points if p[0] <= t]
        return found[-1] if found else None

    def at_or_after(self, t: float) -> tuple[float, float] | None:
        found = [p for p in self.points if p[0] >= t]
        return found[0] if found else None


def cpu_per_cycle(
    trace: CpuTrace, health: list[Cycle], inventory: list[Cycle], window: tuple[float, float]
) -> dict[str, Any]:
    """CPU seconds of a health and of an inventory cycle.

    Background (scrapes, idle threads): the rate over sample intervals that touch no cycle.
    Health: the CPU from just before to just after each health cycle that no inventory
    cycle overlaps, less background. Inventory: the window's CPU (it holds whole inventory
    cycles: it opens and closes right after one ended) less the health cycles that ended
    in it and background, per inventory cycle.
    """
    t_a, t_b = window
    every = [*health, *inventory]
    spans = [(c.start - 0.05, c.end + PUBLISH_SLACK) for c in every]
    bg_cpu = bg_time = 0.0
    points = [p for p in trace.points if t_a <= p[0] <= t_b]
    for (w0, c0), (w1, c1) in itertools.pairwise(points):
        if not any(s < w1 and e > w0 for s, e in spans):
            bg_cpu += c1 - c0
            bg_time += w1 - w0
    background = bg_cpu / bg_time if bg_time > 0 else 0.0
    per_health: list[float] = []
    for c in health:
        if not (t_a <= c.start and c.end <= t_b):
            continue
        if any(i.start < c.end + PUBLISH_SLACK and i.end > c.start - 0.05 for i in inventory):
            continue
        p0, p1 = trace.at_or_before(c.start - 0.05), trace.at_or_after(c.end + PUBLISH_SLACK)
        if p0 is None or p1 is None:
            continue
        per_health.append(max(0.0, (p1[1] - p0[1]) - background * (p1[0] - p0[0])))
    health_cpu = statistics.median(per_health) if per_health else None
    inside = [c for c in inventory if t_a < c.end <= t_b]
    n_health = sum(1 for c in health if t_a < c.end <= t_b)
    p0, p1 = trace.at_or_before(t_a), trace.at_or_after(t_b)
    inventory_cpu = None
    total = None
    if p0 is not None and p1 is not None:
        total = p1[1] - p0[1]
        if inside and health_cpu is not None:
            rest = total - n_health * health_cpu - background * (p1[0] - p0[0])
            inventory_cpu = rest / len(inside)
    return {
        "health_cpu_s": None if health_cpu is None else round(health_cpu, 4),
        "health_cpu_samples": len(per_health),
        "inventory_cpu_s": None if inventory_cpu is None else round(inventory_cpu, 4),
        "window": [t_a, t_b],
        "window_s": round(t_b - t_a, 2),
        "window_cpu_s": None if total is None else round(total, 3),
        "window_health_cycles": n_health,
        "window_inventory_cycles": len(inside),
        "background_cpu_per_s": round(background, 5),
    }


# -- one size ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    sizes: tuple[int, ...]
    projects: int
    hosts: int
    health_interval: float
    inventory_interval: float
    inventory_cycles: int  # whole inventory cycles in the CPU and request window
    scrapes: int
    scrape_window: float
    token_lifetime: int
    api_timeout: float | None  # None: the collector's default


def write_config(path: Path, plan: Plan) -> Path:
    h, i = round(plan.health_interval), round(plan.inventory_interval)
    api = "" if plan.api_timeout is None else f"    api_timeout: {round(plan.api_timeout)}s\n"
    path.write_text(
        "collectors:\n"
        "  openstack:\n"
        f"{api}"
        f"    health: {{interval: {h}s, timeout: {h}s}}\n"
        f"    inventory: {{interval: {i}s, timeout: {i}s}}\n",
        encoding="utf-8",
    )
    return path


def proxied_clouds(bed: Bed, proxy: Proxy, path: Path) -> Path:
    """The testbed's clouds.yaml with Keystone's auth_url pointing at the counting proxy;
    the catalog still sends every other request straight to the services."""
    url = bed.info("keystone")["url"]
    text = (bed.root / "clouds.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace(url, f"{proxy.url}/v3"), encoding="utf-8")
    path.chmod(0o600)
    return path


def _names(body: Body) -> tuple[str, str]:
    health = next((n for n in body.status if n.endswith(":health")), None)
    inventory = next((n for n in body.status if n.endswith(":inventory")), None)
    if health is None or inventory is None:
        raise RuntimeError(f"no openstack health and inventory collectors in {list(body.status)}")
    return health, inventory


def _wait_cycles(
    scraper: ParsingScraper, trace: CpuTrace, collector: str, count: int, timeout: float
) -> None:
    """Poll (scrape twice a second, CPU four times) until ``count`` cycles were seen."""
    deadline = time.monotonic() + timeout
    tick = 0
    while len(cycles_of(scraper.bodies, collector)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{collector}: fewer than {count} cycles in {timeout:.0f} s")
        trace.sample()
        if tick % 2 == 0:
            scraper.scrape()
        tick += 1
        time.sleep(0.25)


def _quiet_burst(
    scraper: ParsingScraper, trace: CpuTrace, health: str, inventory: str, plan: Plan
) -> dict[str, Any]:
    """Back-to-back scrapes right after a health cycle, with no inventory cycle running:
    the latency of serving the snapshot alone, and its CPU per scrape."""
    for _ in range(10):
        seen = len(cycles_of(scraper.bodies, health))
        _wait_cycles(scraper, trace, health, seen + 1, plan.health_interval * 3)
        last_inv = cycles_of(scraper.bodies, inventory)[-1]
        next_inv = last_inv.start + plan.inventory_interval
        if time.time() + 2.0 < next_inv:
            break
    c0 = cpu_seconds(trace.pid)
    samples = burst(scraper, 200, 2.0, 20)
    cpu = cpu_seconds(trace.pid) - c0
    return {
        "latency": summary([s.latency for s in samples]),
        "cpu_ms_per_scrape": round(cpu / len(samples) * 1e3, 3),
    }


def save_observations(path: Path, bodies: list[Body], trace: CpuTrace, proxy: Proxy) -> None:
    """Everything the figures are computed from, for a second look (kept in the work dir)."""
    raw = {
        "bodies": [
            {
                "at": b.at,
                "latency": b.latency,
                "status": {k: asdict(v) for k, v in b.status.items()},
                "requests": [[s, c, v] for (s, c), v in b.requests.items()],
                "tokens": b.tokens,
                "servers": b.servers,
                "series": b.series,
            }
            for b in bodies
        ],
        "cpu": trace.points,
        "proxy": [asdict(s) for s in proxy.seen],
    }
    path.write_text(json.dumps(raw), encoding="utf-8")


def measure(
    proc: runs.Process, proxy: Proxy, plan: Plan, started: float, *, raw: Path, logs: Path
) -> dict[str, Any]:
    load_before = loadavg()
    runs.wait_ready(proc, timeout=plan.inventory_interval * 3 + 180)
    ready_s = time.time() - started
    scraper = ParsingScraper(proc.port)
    trace = CpuTrace(proc.pid)
    try:
        scraper.scrape()
        health, inventory = _names(scraper.bodies[-1])
        first = {
            "health_s": scraper.bodies[-1].status[health].duration,
            "inventory_s": scraper.bodies[-1].status[inventory].duration,
        }
        # The first inventory cycle is cold (the SDK discovers each service's versions).
        _wait_cycles(scraper, trace, inventory, 2, plan.inventory_interval * 2 + 120)
        log("steady state; CPU and request window")
        window_open = time.time()
        n = len(cycles_of(scraper.bodies, inventory))
        _wait_cycles(
            scraper,
            trace,
            inventory,
            n + plan.inventory_cycles,
            plan.inventory_interval * (plan.inventory_cycles + 2) + 120,
        )
        window = (window_open, time.time())
        trace.sample()
        quiet = _quiet_burst(scraper, trace, health, inventory, plan)
        log(f"{plan.scrapes} paced scrapes over {plan.scrape_window:.0f} s")
        before = len(scraper.bodies)
        (paced_samples,) = paced(
            [(scraper, 1)], plan.scrapes, plan.scrape_window, plan.scrape_window * 1.5 + 30
        )
        proc.check_alive()
        scraper.scrape()
        lifetime_s = time.time() - started
        memory = memory_mib(proc.pid)
    finally:
        scraper.close()
        save_observations(raw, scraper.bodies, trace, proxy)
    bodies = scraper.bodies
    h_cycles = cycles_of(bodies, health)
    i_cycles = cycles_of(bodies, inventory)
    windows = [
        (c.start, c.end + PUBLISH_SLACK)
        for c in [*h_cycles, *i_cycles]
        if c.end > paced_samples[0].start - 60
    ]
    quiet_l, busy_l = runs.split_by_windows(paced_samples, windows)
    inv_windows = [(c.start, c.end + PUBLISH_SLACK) for c in i_cycles]
    _, during_inv = runs.split_by_windows(paced_samples, inv_windows)
    paced_bodies = bodies[before : before + len(paced_samples)]
    last = bodies[-1]
    tokens = [s for s in proxy.seen if s.method == "POST" and s.path.endswith("/auth/tokens")]
    log_text = proc.log_path.read_text(encoding="utf-8", errors="replace")
    return {
        **analyze(bodies),
        "ready_after_s": round(ready_s, 2),
        "first_cycle_s": {k: round(v, 3) for k, v in first.items()},
        "failures": failures(log_text),
        "abandoned_cycles": log_text.count("cycle abandoned"),
        "cpu": cpu_per_cycle(trace, h_cycles, i_cycles, window),
        "server_side": server_side(logs, window),
        "scrape": {
            "all": summary([s.latency for s in paced_samples]),
            "quiet": summary(quiet_l),
            "during_cycle": summary(busy_l),
            "during_inventory": summary(during_inv),
            "quiet_burst": quiet["latency"],
            "cpu_ms_per_scrape": quiet["cpu_ms_per_scrape"],
            "window_s": plan.scrape_window,
            "wire_bytes": paced_samples[-1].wire_bytes,
            "bodies_changed": len({b.status.get(health) for b in paced_bodies}),
        },
        "tokens": token_figures(tokens, last.tokens, lifetime_s, plan.token_lifetime),
        "lifetime_s": round(lifetime_s, 1),
        "loadavg": [load_before, loadavg()],
        **memory,
    }


def analyze(bodies: Sequence[Body]) -> dict[str, Any]:
    """What the bodies alone tell: cycle times, failures, requests per cycle, servers.
    The first inventory cycle is cold; steady state starts with the second."""
    health, inventory = _names(bodies[-1])
    h_cycles = cycles_of(bodies, health)
    i_cycles = cycles_of(bodies, inventory)
    since = i_cycles[1].start if len(i_cycles) > 1 else math.inf
    servers = [b.servers for b in bodies if b.servers is not None]
    return {
        "collectors": {"health": health, "inventory": inventory},
        "health_s": runs.spread([c.duration for c in h_cycles[1:]]),
        "inventory_s": runs.spread([c.duration for c in i_cycles[1:]]),
        "inventory_ok_s": runs.spread([c.duration for c in i_cycles[1:] if c.ok]),
        "failed_cycles": {
            "health": sum(1 for c in h_cycles if not c.ok),
            "inventory": sum(1 for c in i_cycles if not c.ok),
        },
        "cycles_seen": {"health": len(h_cycles), "inventory": len(i_cycles)},
        "requests_per_cycle": requests_per_cycle(bodies, health, inventory, since),
        "servers_exported": max(servers) if servers else None,
        "series": max(b.series for b in bodies),
    }


def load_observations(path: Path) -> list[Body]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [
        Body(
            b["at"],
            b["latency"],
            {k: Status(**v) for k, v in b["status"].items()},
            {(svc, code): v for svc, code, v in b["requests"]},
            b["tokens"],
            b["servers"],
            b["series"],
        )
        for b in raw["bodies"]
    ]


_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) ")
_NOVA_REQUEST = re.compile(r'"(\w+) ([^"]+)" status: (\d+) .* time: ([\d.]+)')
_CINDER_REQUEST = re.compile(
    r"INFO cinder\.api\.openstack\.wsgi .* http://[^/]+(\S*) returned with HTTP (\d+)"
)
_ID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")


def _template(path: str) -> str:
    """``/v2.1/limits?tenant_id=ab12...`` as ``/v2.1/limits?tenant_id=*``: ids and query
    values out, so that requests of one kind count together."""
    base, _, query = path.partition("?")
    base = _ID.sub("{id}", base)
    names = [part.split("=", 1)[0] for part in query.split("&") if part]
    return base + ("?" + "&".join(f"{n}=*" for n in names) if names else "")


def server_side(logs: Path, window: tuple[float, float]) -> dict[str, Any]:
    """The requests Nova's and Cinder's APIs logged in ``window`` (wall clock), by kind,
    with Nova's own time to answer. Only the exporter calls these APIs while it is measured
    (the seed is done; Nova's services talk over the broker)."""
    t0, t1 = window
    out: dict[str, Any] = {}
    for service, name, pattern in (
        ("compute", "nova-api.log", _NOVA_REQUEST),
        ("block-storage", "cinder-api.log", _CINDER_REQUEST),
    ):
        kinds: dict[str, dict[str, float]] = {}
        try:
            text = (logs / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            stamp = _LOG_TIME.match(line)
            found = pattern.search(line)
            if stamp is None or found is None:
                continue
            at = dt.datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            if not t0 <= at <= t1:
                continue
            if service == "compute":
                kind = f"{found.group(1)} {_template(found.group(2))}"
                seconds = float(found.group(4))
            else:
                kind, seconds = f"GET? {_template(found.group(1))}", 0.0
            entry = kinds.setdefault(kind, {"n": 0, "max_s": 0.0, "total_s": 0.0})
            entry["n"] += 1
            entry["max_s"] = round(max(entry["max_s"], seconds), 3)
            entry["total_s"] = round(entry["total_s"] + seconds, 3)
        out[service] = dict(sorted(kinds.items(), key=lambda kv: -kv[1]["n"]))
    return out


def failures(log_text: str) -> dict[str, int]:
    """The exporter's warnings by what failed (part and error), counted."""
    out: Counter[str] = Counter()
    for line in log_text.splitlines():
        if "level=warn" not in line and "level=error" not in line:
            continue
        found = [
            re.search(r'msg="([^"]*)"', line),
            re.search(r"(?:part|check)=(\S+)", line),
            re.search(r'error="([^"]{0,80})', line),
        ]
        key = " ".join(m.group(1) for m in found if m)
        out[key] += 1
    return dict(out.most_common(10))


def token_figures(
    posts: list[Seen], counted: float | None, lifetime_s: float, token_lifetime: int
) -> dict[str, Any]:
    """Logins seen by the proxy (with the gaps between them) and by the exporter itself.

    One login per token lifetime: every login after the first comes no sooner than the
    lifetime less keystoneauth's two-minute renewal margin after the one before.
    """
    times = [s.at for s in posts]
    gaps = [round(b - a, 1) for a, b in itertools.pairwise(times)]
    floor = max(0.0, token_lifetime - RENEW_MARGIN)
    allowed = 1 + math.floor(lifetime_s / floor) if floor > 0 else None
    return {
        "proxy_logins": len(posts),
        "proxy_statuses": dict(Counter(str(s.status) for s in posts)),
        "exporter_counter": counted,
        "gaps_s": gaps,
        "token_lifetime_s": token_lifetime,
        "allowed": allowed,
        "per_hour_observed": round(len(posts) * 3600 / lifetime_s, 2) if lifetime_s else None,
        "per_hour_steady": round(3600 / floor, 2) if floor > 0 else None,
        "ok": bool(posts)
        and all(g >= floor - 5 for g in gaps)
        and (counted is None or round(counted) == len(posts)),
    }


def run_size(bed: Bed, size: int, plan: Plan, workdir: Path) -> dict[str, Any]:
    log(f"{size} servers: seeding")
    t0 = time.monotonic()
    seeded = scale.seed(bed, size, projects=plan.projects, hosts=plan.hosts)
    seed_wall = time.monotonic() - t0
    if seeded["active"] > size:
        raise RuntimeError(
            f"the testbed already has {seeded['active']} servers in the bench projects: "
            "sizes grow one set of servers, so start from a new testbed (--testbed-dir)"
        )
    log(
        f"{size} servers: {seeded['active']} ACTIVE, {seeded['error']} ERROR, "
        f"{seeded['requested']} booted in {seed_wall:.0f} s"
    )
    seed = {k: v for k, v in seeded.items() if k not in ("requests", "capacity")}
    seed["create_requests"] = len(seeded["requests"])
    seed["wall_s"] = round(seed_wall, 1)
    seed["ratios"] = {h: c["ratios"] for h, c in seeded["capacity"].items()}
    upstream = bed.info("keystone")["url"].removesuffix("/v3")
    with http_proxy(upstream=upstream) as proxy:
        clouds = proxied_clouds(bed, proxy, workdir / f"clouds-{size}.yaml")
        config = write_config(workdir / f"exporter-{size}.yml", plan)
        port = runs.free_port()
        argv = [
            sys.executable, "-m", "exporter",
            "--no-collector.libvirt", "--collector.openstack", "--os-cloud", "testbed",
            "--web.listen-address", f"127.0.0.1:{port}",
            "--config.file", str(config),
            "--log.level", "warn",
        ]  # fmt: skip
        started = time.time()
        proc = runs.spawn(
            "ours",
            argv,
            port,
            workdir / f"exporter-{size}.log",
            env={"OS_CLIENT_CONFIG_FILE": str(clouds)},
        )
        try:
            result = measure(
                proc, proxy, plan, started, raw=workdir / f"observations-{size}.json", logs=bed.logs
            )
        finally:
            proc.stop()
    result["seed"] = seed
    result["exporter_log_tail"] = proc.log_tail(5)
    return result


# -- the testbed -----------------------------------------------------------------------------


def ensure_testbed(root: Path, token_lifetime: int) -> tuple[Bed, bool]:
    """The bench's testbed; True when this run started it (and so stops it)."""
    venv = ensure_venv(default_venv(), log=log)
    bed = Bed(root, venv)
    if all(is_up(bed, name) for name in services.closure(list(SERVICES))):
        return bed, False
    log(f"starting the testbed in {root} (tokens of {token_lifetime} s)")
    os.environ["TESTBED_TOKEN_EXPIRATION"] = str(token_lifetime)
    up(bed, list(SERVICES), report=lambda n, s, t: log(f"testbed: {n} {s} in {t:.1f} s"))
    return bed, True


def _dist(venv: Path, name: str) -> str:
    found = sorted(venv.glob(f"lib/python*/site-packages/{name}-*.dist-info"))
    return found[-1].name.removesuffix(".dist-info").split("-", 1)[1] if found else "unknown"


def versions(bed: Bed) -> dict[str, Any]:
    git = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "exporter": __version__,
        "git": git.stdout.strip() or None,
        "python": platform.python_version(),
        "openstacksdk": importlib.metadata.version("openstacksdk"),
        "keystoneauth1": importlib.metadata.version("keystoneauth1"),
        "nova": _dist(bed.venv, "nova"),
        "keystone": _dist(bed.venv, "keystone"),
        "placement": _dist(bed.venv, "openstack_placement"),
        "neutron": _dist(bed.venv, "neutron"),
        "cinder": _dist(bed.venv, "cinder"),
    }


# -- the report ------------------------------------------------------------------------------


def pages(servers: float | None, page: int = 1000) -> int | None:
    """Requests of an openstacksdk listing of ``servers`` at ``page`` a page: one per page,
    and one more, since with a ``limit`` it asks again after the last page even when that
    one came back short (``Resource._get_next_link``: "try once more")."""
    return None if servers is None else math.ceil(int(servers) / page) + 1


def judge(result: dict[str, Any]) -> list[dict[str, Any]]:
    sizes = {int(k): v for k, v in result["sizes"].items() if "error" not in v}
    out: list[dict[str, Any]] = []

    def add(target: str, reading: str, shown: str, ok: bool | None) -> None:
        out.append({"target": target, "reading": reading, "shown": shown,
                    "verdict": report.verdict(ok)})  # fmt: skip

    health = {n: report.dig(r, "requests_per_cycle", "health") for n, r in sizes.items()}
    known = {n: h for n, h in health.items() if h}
    same = len({json.dumps(h, sort_keys=True) for h in known.values()}) == 1
    add(
        "health requests per cycle independent of the number of servers",
        "by service, at " + ", ".join(f"{n:,}" for n in known),
        "; ".join(f"{n:,}: {sum(h.values())}" for n, h in known.items()) or "—",
        same if len(known) == len(sizes) and len(known) > 1 else None,
    )
    big = max(sizes) if sizes else None
    if big is not None:
        inv = report.dig(sizes[big], "inventory_s", "median")
        failed = report.dig(sizes[big], "failed_cycles", "inventory") or 0
        seen = report.dig(sizes[big], "cycles_seen", "inventory")
        add(
            f"inventory cycle at {big:,} servers < {TARGETS['inventory_s_at_1000']:.0f} s",
            "collector duration, median of steady cycles; none failed",
            "—"
            if inv is None
            else f"{inv:.2f} s" + (f"; {failed} of {seen} cycles failed" if failed else ""),
            None if inv is None else inv < TARGETS["inventory_s_at_1000"] and not failed,
        )
        small = min(sizes)
        compute: dict[int, int | None] = {
            n: (report.dig(r, "requests_per_cycle", "inventory") or {}).get("compute")
            for n, r in sizes.items()
        }
        extra = None
        want = None
        c_big, c_small = compute.get(big), compute.get(small)
        if c_big is not None and c_small is not None:
            extra = c_big - c_small
            p_big, p_small = (pages(sizes[n].get("servers_exported")) for n in (big, small))
            want = None if p_big is None or p_small is None else p_big - p_small
        others_same = _others_same(sizes, small, big)
        per_project = _per_project(sizes[big])
        total = sum((report.dig(sizes[big], "requests_per_cycle", "inventory") or {}).values())
        add(
            "inventory requests equal to pages",
            "every request a page of a listing (Nova's and Cinder's logs)",
            "—"
            if per_project is None
            else f"{per_project:.0f}" + (f" of {total}" if total else "") + " are one per project",
            None if per_project is None else per_project == 0,
        )
        add(
            "inventory requests equal to pages",
            f"growth only: compute requests at {big:,} less at {small:,} = extra server "
            "pages; other services unchanged",
            "—"
            if extra is None
            else f"{extra} more (pages: {want} more)"
            + ("" if others_same else "; other services changed"),
            None if extra is None or want is None else extra == want and others_same,
        )
    for which, reading in (
        ("all", "all paced scrapes (between and during cycles)"),
        ("quiet", "scrapes between cycles"),
    ):
        p99 = {n: report.dig(r, "scrape", which, "p99_ms") for n, r in sizes.items()}
        add(
            f"scrape p99 < {TARGETS['scrape_p99_ms']:.0f} ms at every size",
            reading,
            "; ".join(f"{n:,}: {report.num(v)} ms" for n, v in p99.items()),
            None
            if None in p99.values()
            else all(v < TARGETS["scrape_p99_ms"] for v in p99.values()),
        )
    tokens = {n: r.get("tokens") or {} for n, r in sizes.items()}
    add(
        "at most one token request per token lifetime",
        f"logins at the proxy; gaps ≥ lifetime less the {RENEW_MARGIN:.0f} s renewal margin; "
        "exporter's counter agrees",
        "; ".join(
            f"{n:,}: {t.get('proxy_logins')} in {sizes[n].get('lifetime_s')} s "
            f"(gaps {t.get('gaps_s')})"
            for n, t in tokens.items()
        ),
        None if not tokens else all(t.get("ok") for t in tokens.values()),
    )
    rss = {n: r.get("peak_rss_mib") for n, r in sizes.items()}
    add(
        f"RSS < {TARGETS['peak_rss_mb']:.0f} MB",
        "VmHWM (peak) at each size",
        "; ".join(f"{n:,}: {report.num(v, 1)} MiB" for n, v in rss.items()),
        None
        if None in rss.values()
        else all(v < TARGETS["peak_rss_mb"] * MIB_PER_MB for v in rss.values()),
    )
    return out


def _per_project(r: dict[str, Any]) -> float | None:
    """Requests per inventory cycle that Nova and Cinder logged once per project."""
    logged = r.get("server_side") or {}
    cycles = (r.get("server_side_cycles") or {}).get("inventory") or report.dig(
        r, "cpu", "window_inventory_cycles"
    )
    if not logged or not cycles:
        return None
    count = sum(
        e["n"]
        for kinds in logged.values()
        for kind, e in kinds.items()
        if "tenant_id=" in kind or "os-quota-sets/{id}" in kind
    )
    return float(count / cycles)


def _others_same(sizes: dict[int, Any], small: int, big: int) -> bool:
    a = dict(report.dig(sizes[small], "requests_per_cycle", "inventory") or {})
    b = dict(report.dig(sizes[big], "requests_per_cycle", "inventory") or {})
    a.pop("compute", None)
    b.pop("compute", None)
    return a == b


def server_side_section(sizes: dict[int, Any]) -> list[str]:
    """Nova's and Cinder's own logs of the exporter's requests at the largest size."""
    found = {n: r for n, r in sizes.items() if r.get("server_side")}
    if not found:
        return []
    n = max(found)
    r = found[n]
    cycles = r.get("server_side_cycles") or {
        "health": report.dig(r, "cpu", "window_health_cycles"),
        "inventory": report.dig(r, "cpu", "window_inventory_cycles"),
    }
    lines = [
        "",
        f"### Requests as Nova and Cinder logged them, {n:,} servers",
        "",
        f"Over a window of {cycles['health']} health and {cycles['inventory']} inventory "
        "cycles; `/os-services` and the root (`/`) are the health cycle's, the rest the "
        "inventory's. Cinder's log has no method or time.",
        "",
        "| API | request | count | per inventory cycle | max s | total s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    per = cycles["inventory"] or 1
    for service, kinds in r["server_side"].items():
        for kind, e in kinds.items():
            lines.append(
                f"| {service} | `{kind}` | {e['n']} | {e['n'] / per:.1f} | "
                f"{report.num(e['max_s'], 2) if service == 'compute' else '—'} | "
                f"{report.num(e['total_s'], 1) if service == 'compute' else '—'} |"
            )
    return lines


def _services(rows: dict[int, dict[str, int] | None]) -> list[str]:
    return sorted({s for r in rows.values() if r for s in r})


def markdown(result: dict[str, Any]) -> str:
    host, v, plan = result["host"], result["versions"], result["plan"]
    sizes = {int(k): r for k, r in result["sizes"].items()}
    ok = {n: r for n, r in sizes.items() if "error" not in r}
    lines = [
        "# OpenStack collector benchmark",
        "",
        f"{result['date']} · {host['cpu_model']} ({host['cpus']} CPUs) · kernel {host['kernel']}"
        f" · exporter {v['exporter']} ({v.get('git') or 'no git'}) · Python {v['python']} · "
        f"openstacksdk {v['openstacksdk']} · keystoneauth1 {v['keystoneauth1']} · testbed: "
        f"Nova {v['nova']}, Keystone {v['keystone']}, Placement {v['placement']}, Neutron "
        f"{v['neutron']}, Cinder {v['cinder']} · whole run {result['duration_s']:.0f} s",
        "",
        f"Testbed: {plan['projects']} projects `bench-NN`, {plan['hosts']} fake compute hosts, "
        f"Keystone tokens of {plan['token_lifetime']} s. Exporter: only the openstack "
        f"collector, health every {plan['health_interval']:.0f} s, inventory every "
        f"{plan['inventory_interval']:.0f} s (timeouts equal to the intervals), api_timeout "
        f"{report.num(plan.get('api_timeout'), 0) if plan.get('api_timeout') else '10 (default)'}"
        " s. Per size: "
        f"{plan['inventory_cycles']} steady inventory cycles for CPU and requests (the first, "
        f"cold cycle left out), then {plan['scrapes']} gzip scrapes paced over "
        f"{plan['scrape_window']:.0f} s on one keep-alive connection.",
        "",
        "## Figures",
        "",
        "| servers | health s | inventory s | inventory cycles failed | first inventory s "
        "| health requests / cycle "
        "| inventory requests / cycle | CPU s / health | CPU s / inventory | scrape p50 / p99 ms "
        "| p99 quiet ms | p99 during a cycle ms | peak RSS MiB | logins (proxy / counter) "
        "| samples | gzip KiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, r in sizes.items():
        if "error" in r:
            lines.append(f"| {n:,} | failed: {r['error']} |" + " |" * 14)
            continue
        rq = r["requests_per_cycle"]
        tok = r["tokens"]
        lines.append(
            "| "
            + " | ".join(
                [
                    f"{n:,}",
                    report.num(report.dig(r, "health_s", "median"), 3),
                    report.num(report.dig(r, "inventory_s", "median"), 2),
                    f"{r['failed_cycles']['inventory']} of {r['cycles_seen']['inventory']}",
                    report.num(r["first_cycle_s"]["inventory_s"], 2),
                    report.num(sum(rq["health"].values()) if rq["health"] else None),
                    report.num(sum(rq["inventory"].values()) if rq["inventory"] else None),
                    report.num(r["cpu"]["health_cpu_s"], 3),
                    report.num(r["cpu"]["inventory_cpu_s"], 2),
                    f"{report.num(report.dig(r, 'scrape', 'all', 'p50_ms'))} / "
                    f"{report.num(report.dig(r, 'scrape', 'all', 'p99_ms'))}",
                    report.num(report.dig(r, "scrape", "quiet", "p99_ms")),
                    report.num(report.dig(r, "scrape", "during_cycle", "p99_ms")),
                    report.num(r.get("peak_rss_mib"), 1),
                    f"{tok['proxy_logins']} / {report.num(tok['exporter_counter'], 0)}",
                    report.num(r.get("series")),
                    report.num((report.dig(r, "scrape", "wire_bytes") or 0) / 1024, 0),
                ]
            )
            + " |"
        )
    for kind in ("health", "inventory"):
        rows = {n: report.dig(r, "requests_per_cycle", kind) for n, r in ok.items()}
        names = _services(rows)
        if not names:
            lines += [
                "",
                f"API requests per {kind} cycle: not measured. The counter is published by "
                "the health cycle, so it needs two health cycles with no inventory cycle "
                "between them: pick intervals that allow it (10 s and 30 s do).",
            ]
            continue
        lines += [
            "",
            f"### API requests per {kind} cycle, by service",
            "",
            "| servers | " + " | ".join(names) + " | total | cycles measured |",
            "|---:|" + "---:|" * (len(names) + 2),
        ]
        for n, row in rows.items():
            samples = report.dig(ok[n], "requests_per_cycle", f"{kind}_samples")
            totals = report.dig(ok[n], "requests_per_cycle", f"{kind}_totals")
            cells = [report.num((row or {}).get(s, 0)) for s in names]
            lines.append(
                f"| {n:,} | "
                + " | ".join(cells)
                + f" | {sum((row or {}).values())} | {samples} (totals {totals}) |"
            )
            failed = report.dig(ok[n], "requests_per_cycle", f"failed_{kind}_totals")
            if failed:
                blank = " | ".join("" for _ in names)
                lines.append(
                    f"| {n:,}, failed cycles | {blank} | | {len(failed)} (totals {failed}) |"
                )
    lines += ["", "## Targets", "", report.targets_table(result["targets"])]
    lines += server_side_section(ok)
    peer = result["peer"]
    big = max(ok) if ok else None
    if big is not None:
        r = ok[big]
        lines += [
            "",
            f"For comparison, {peer['exporter']} ([issue #214]({peer['where']}): "
            f"{peer['setting']}) takes about {peer['seconds_per_scrape']:.0f} s per scrape. "
            f"Here at {big:,} servers a scrape takes "
            f"{report.num(report.dig(r, 'scrape', 'all', 'p50_ms'))} ms (p50) and the "
            f"inventory cycle behind it {report.num(report.dig(r, 'inventory_s', 'median'))} "
            "s, in the background.",
        ]
    lines += ["", "## Seeding", "", "| servers | ACTIVE | ERROR | booted | create requests "
              "| seed wall s | boot s |", "|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for n, r in ok.items():
        s = r["seed"]
        lines.append(
            f"| {n:,} | {s['active']} | {s['error']} | {s['requested']} | "
            f"{s['create_requests']} | {s['wall_s']} | {s['boot_s']} |"
        )
    if result.get("notes"):
        lines += ["", "## Notes", "", *[f"- {note}" for note in result["notes"]]]
    return "\n".join(lines) + "\n"


# -- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.bench_openstack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--sizes", type=runs.size_list, help="server counts (default 10,100,1000)")
    p.add_argument("--quick", action="store_true", help="10 servers, short phases")
    p.add_argument("--projects", type=int, default=scale.PROJECTS)
    p.add_argument("--hosts", type=int, default=scale.HOSTS, help="fake compute hosts")
    p.add_argument("--health-interval", type=float, default=10.0, metavar="SECONDS")
    p.add_argument("--inventory-interval", type=float, default=30.0, metavar="SECONDS")
    p.add_argument("--inventory-cycles", type=int, default=5, help="in the CPU window")
    p.add_argument(
        "--api-timeout",
        type=float,
        metavar="SECONDS",
        help="collectors.openstack.api_timeout (default: the collector's own, 10 s); "
        "at most the health interval",
    )
    p.add_argument("--scrapes", type=int, default=2000)
    p.add_argument("--scrape-window", type=float, default=120.0, metavar="SECONDS")
    p.add_argument(
        "--token-lifetime",
        type=int,
        default=300,
        metavar="SECONDS",
        help="Keystone's token expiration when the bench starts the testbed",
    )
    p.add_argument("--testbed-dir", type=Path, default=ROOT / ".testbed-bench")
    p.add_argument("--keep-testbed", action="store_true", help="leave a testbed it started")
    p.add_argument("--output-dir", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--from-json", type=Path, metavar="FILE", help="only re-render FILE's report")
    p.add_argument(
        "--observations",
        type=Path,
        metavar="DIR",
        help="with --from-json: the run's work dir, to recompute from its saved bodies",
    )
    p.add_argument("--stem", help="results file name (default openstack, openstack-quick)")
    return p.parse_args(argv)


def notes(result: dict[str, Any]) -> list[str]:
    out = [
        "Requests per cycle come from the exporter's own counter "
        "`openstack_exporter_api_requests_total`, which the health cycle publishes: health, "
        "its change between two health cycles with no inventory cycle between them (the "
        "most common value); inventory, its change across one inventory cycle less the "
        "health cycles that ended meanwhile. Logins are also counted by a reverse proxy in "
        "front of Keystone's `auth_url` (a copy of clouds.yaml points at it); the catalog "
        "still sends every other request straight to the services.",
        "CPU: utime + stime of the exporter sampled every 250 ms. Health: the CPU across each "
        "health cycle that no inventory cycle overlaps; inventory: a window of whole inventory "
        "cycles less its health cycles; both less the background rate (scrapes, idle).",
        "Scrapes count as during a cycle from the cycle's start to 0.25 s after its end "
        "(the snapshot is rebuilt and gzipped then).",
        "The testbed runs on the same two cores: its Nova, Neutron and Placement answer the "
        "exporter's requests, and each compute host's periodic audit reads every allocation "
        "of its node from Placement, so the load grows with the servers. The load average "
        "before and after each size is in the JSON.",
    ]
    for n, r in sorted((int(k), v) for k, v in result["sizes"].items()):
        if "error" in r:
            continue
        failed = report.dig(r, "failed_cycles", "inventory")
        if failed:
            why = "; ".join(f"{k} ({v}x)" for k, v in (r.get("failures") or {}).items())
            out.append(
                f"{n:,} servers: {failed} of {r['cycles_seen']['inventory']} inventory cycles "
                f"failed. The exporter logged, over its whole run (cycles before it was first "
                f"ready included): {why}."
            )
        out += _server_side_notes(n, r)
        load = r.get("loadavg")
        if load:
            out.append(f"{n:,} servers: load average {load[0]:.2f} before, {load[1]:.2f} after.")
    return out


def _server_side_notes(n: int, r: dict[str, Any]) -> list[str]:
    """What Nova's and Cinder's logs say about the inventory's requests."""
    logged = r.get("server_side") or {}
    cycles = (r.get("server_side_cycles") or {}).get("inventory") or report.dig(
        r, "cpu", "window_inventory_cycles"
    )
    per_project = _per_project(r)
    if not logged or not cycles or per_project is None:
        return []
    total = report.dig(r, "requests_per_cycle", "inventory") or {}
    of = f" of the {sum(total.values())}" if total else ""
    out = [
        f"{n:,} servers: {per_project:.0f}{of} requests of an inventory cycle are "
        "one per project (Nova `/limits?tenant_id=`, Cinder `os-quota-sets/{id}?usage=true`): "
        "they grow with projects, not with pages."
    ]
    compute = logged.get("compute") or {}
    if compute:
        kind, e = max(compute.items(), key=lambda kv: kv[1]["max_s"])
        limits = next((v for k, v in compute.items() if "tenant_id=" in k), None)
        out.append(
            f"{n:,} servers: Nova's slowest answer was `{kind}`, {e['max_s']:.2f} s at most "
            f"({e['total_s'] / max(1, e['n']):.2f} s on average)"
            + (
                f"; the per-project `/limits` took {limits['total_s'] / cycles:.1f} s of Nova's "
                "time per inventory cycle, on the same API workers."
                if limits
                else "."
            )
        )
    return out


def rewrite_report(path: Path, observations: Path | None, logs: Path) -> int:
    """Judge and render an earlier run again; with its work dir, recompute what the saved
    bodies tell (``analyze``) first."""
    result = json.loads(path.read_text(encoding="utf-8"))
    for size, entry in result["sizes"].items():
        raw = observations / f"observations-{size}.json" if observations else None
        if raw is not None and raw.exists() and "error" not in entry:
            bodies = load_observations(raw)
            entry.update(analyze(bodies))
            window = report.dig(entry, "cpu", "window")
            if "server_side" not in entry:
                # Runs before the CPU window was kept: the steady span (second inventory
                # cycle to the last scrape) stands in for it.
                inv = cycles_of(bodies, entry["collectors"]["inventory"])
                span = (inv[1].start, bodies[-1].at) if len(inv) > 1 else None
                if span and logs.exists():
                    entry["server_side"] = server_side(logs, span)
                    entry["server_side_cycles"] = {
                        kind: sum(
                            1
                            for c in cycles_of(bodies, entry["collectors"][kind])
                            if span[0] <= c.start and c.end <= span[1]
                        )
                        for kind in ("health", "inventory")
                    }
            if window:
                names = entry["collectors"]
                points = json.loads(raw.read_text(encoding="utf-8"))["cpu"]
                entry["cpu"] = cpu_per_cycle(
                    CpuTrace(0, [(a, b) for a, b in points]),
                    cycles_of(bodies, names["health"]),
                    cycles_of(bodies, names["inventory"]),
                    (window[0], window[1]),
                )
    result["targets"] = judge(result)
    result["notes"] = notes(result)
    report.save(path, result, markdown(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json is not None:
        return rewrite_report(args.from_json, args.observations, args.testbed_dir / "logs")
    quick = args.quick
    plan = Plan(
        sizes=tuple(args.sizes or (QUICK_SIZES if quick else FULL_SIZES)),
        projects=args.projects,
        hosts=args.hosts,
        health_interval=args.health_interval,
        inventory_interval=args.inventory_interval,
        inventory_cycles=2 if quick else args.inventory_cycles,
        scrapes=200 if quick else args.scrapes,
        scrape_window=20.0 if quick else args.scrape_window,
        token_lifetime=args.token_lifetime,
        api_timeout=args.api_timeout,
    )
    stem = args.stem or ("openstack-quick" if quick else "openstack")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    try:
        bed, started = ensure_testbed(args.testbed_dir.resolve(), plan.token_lifetime)
    except ServiceError as exc:
        log(f"testbed failed: {exc}")
        return 1
    plan = replace(plan, token_lifetime=int(bed.info("keystone")["token_expiration"]))
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": host_info(),
        "versions": versions(bed),
        "plan": asdict(plan),
        "peer": PEER_FIGURE,
        "sizes": {},
    }
    workdir = Path(tempfile.mkdtemp(prefix="bench-openstack-"))
    log(f"work dir (configs, exporter logs, raw observations): {workdir}")
    try:
        for size in plan.sizes:
            try:
                result["sizes"][str(size)] = run_size(bed, size, plan, workdir)
            except (RuntimeError, OSError, ServiceError, KeyError) as exc:
                log(f"{size} servers: FAILED: {exc}")
                result["sizes"][str(size)] = {"error": str(exc)[:500]}
            log(f"{size} servers: done")
    finally:
        if started and not args.keep_testbed:
            log(f"stopping the testbed in {bed.root}")
            bed.stop()
    result["duration_s"] = round(time.monotonic() - began, 1)
    result["targets"] = judge(result)
    result["notes"] = notes(result)
    report.save(args.output_dir / f"{stem}.json", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
