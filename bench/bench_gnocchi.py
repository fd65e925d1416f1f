"""Benchmark the gnocchi collector against the testbed's Gnocchi with 100, 1,000 and 5,000
instance resources (each with its disk and NIC, Ceilometer's default meters).

For each size the bench's Gnocchi is seeded up to that many instances through Gnocchi's
batch measures API (``testbed/gnocchi_scale.py``), then the exporter runs as a process with
only the gnocchi collector, reaching Gnocchi through a counting reverse proxy
(``metric_endpoint_override`` in a copy of clouds.yaml), and is measured from the outside:
cycle time, HTTP requests per cycle and bytes received (counted at the proxy, in front of the
server), Gnocchi's own time to answer, CPU per cycle, peak RSS and scrape latency.
Results: ``bench/results/gnocchi.{json,md}``.

    python -m bench.bench_gnocchi [--sizes 100,1000,5000] [--shards 1] [--testbed-dir DIR]

The testbed is the bench's own (``--testbed-dir``, default ``.testbed-bench``): started
when it does not run (Keystone, PostgreSQL, Gnocchi), stopped at the end when the bench
started it. The seeded points stay fresh for the run: the bench's ``stale_after`` is long.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from bench import report
from bench.procfs import cpu_seconds, host_info, memory_mib
from bench.scrape import Sample, Scraper, summary
from testbed import gnocchi_scale, services
from testbed.bed import Bed
from testbed.up import is_up, up
from testbed.venv import default_venv, ensure_venv
from tests.support.exporter import run_exporter
from tests.support.gnocchi import proxied_clouds
from tests.support.metrics import parse_samples
from tests.support.proxy import Seen, http_proxy

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("gnocchi",)
FULL_SIZES = (100, 1000, 5000)
TARGETS = {"cycle_s_at_5000": 10.0, "scrape_p99_ms": 5.0, "peak_rss_mb": 200.0}
COLLECTOR = "gnocchi:bench"
SEEDED_TYPES = ("instance", "instance_disk", "instance_network_interface")
MIB_PER_MB = 1e6 / 2**20


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ensure_testbed(root: Path) -> tuple[Bed, bool]:
    bed = Bed(root, ensure_venv(default_venv(), log=log))
    if all(is_up(bed, name) for name in services.closure(list(SERVICES))):
        return bed, False
    log(f"starting the testbed in {root}")
    up(bed, list(SERVICES), report=lambda n, s, t: log(f"testbed: {n} {s} in {t:.1f} s"))
    return bed, True


def write_config(path: Path, shards: int, interval: float) -> Path:
    """Short cycles, points fresh for two hours, the big types sharded as asked."""
    big = {name: {"shards": shards} for name in SEEDED_TYPES}
    config = {
        "collectors": {
            "gnocchi": {
                "interval": f"{interval:g}s",
                "timeout": f"{interval - 1:g}s",
                "api_timeout": f"{min(interval - 2, 300):g}s",
                "stale_after": 120,
                "resource_types": big,
            }
        }
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _self(samples: Any, name: str) -> float | None:
    value = samples.get(
        (f"openstack_exporter_collector_{name}", frozenset({("collector", COLLECTOR)}))
    )
    return None if value is None else float(value)


def cycle_ends(
    scraper: Scraper, count: int, timeout: float
) -> tuple[list[tuple[float, float]], list[Sample]]:
    """(end, duration) of the next ``count`` cycles, as the exporter reports them, and every
    scrape taken meanwhile (five a second, so at every phase of the cycles)."""
    seen: list[tuple[float, float]] = []
    scrapes: list[Sample] = []
    last = None
    deadline = time.monotonic() + timeout
    while len(seen) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(seen)} of {count} cycles within {timeout:g} s")
        sample = scraper.scrape()
        samples = parse_samples(scraper.last_text().decode())
        end = _self(samples, "last_success_timestamp_seconds")
        took = _self(samples, "duration_seconds")
        if last is not None:
            scrapes.append(sample)
        if end is not None and took is not None and end != last:
            if last is not None:
                seen.append((end, took))
            last = end
        time.sleep(0.2)
    return seen, scrapes


def schedule(size: int) -> tuple[float, int]:
    """Interval and steady cycles measured: a cycle must fit its interval on this Gnocchi."""
    if size <= 100:
        return 30.0, 4
    if size <= 1000:
        return 120.0, 3
    return 300.0, 2


def in_cycle(seen: Sequence[Seen], end: float, took: float) -> list[Seen]:
    return [s for s in seen if end - took - 0.05 <= s.at <= end]


def measure(bed: Bed, size: int, shards: int, workdir: Path) -> dict[str, Any]:
    gnocchi_url = bed.info("gnocchi")["url"]
    interval, count = schedule(size)
    with http_proxy(upstream=gnocchi_url, timeout=interval) as proxy:
        clouds = proxied_clouds(
            bed.root / "clouds.yaml", proxy.url, workdir / "clouds.yaml", "bench"
        )
        config = write_config(workdir / "exporter.yml", shards, interval)
        args = ["--no-collector.libvirt", "--collector.gnocchi", "--os-cloud", "bench"]
        env = {"OS_CLIENT_CONFIG_FILE": str(clouds)}
        with run_exporter(
            [*args, "--config.file", str(config)], env=env, start_timeout=interval
        ) as exp:
            scraper = Scraper(exp.port, parse=True)
            pid = exp.proc.pid
            cpu0 = cpu_seconds(pid)
            cycles, scrapes = cycle_ends(scraper, count, timeout=interval * (count + 2))
            cpu = (cpu_seconds(pid) - cpu0) / count
            samples = parse_samples(scraper.last_text().decode())
            memory = memory_mib(pid)
            scraper.close()
        per_cycle = [in_cycle(proxy.seen, end, took) for end, took in cycles]
    reads = [[s for s in c if s.path.endswith("/v1/aggregates")] for c in per_cycle]
    resources = {
        dict(labels)["resource_type"]: value
        for (name, labels), value in samples.items()
        if name == "gnocchi_exporter_resources"
    }
    fresh = sum(
        value
        for (name, labels), value in samples.items()
        if name == "gnocchi_exporter_series" and ("state", "fresh") in labels
    )
    durations = [took for _, took in cycles]
    return {
        "instances": size,
        "shards": shards,
        "interval_s": interval,
        "resources_read": resources,
        "series_exported": fresh,
        "cycle_s": {
            "median": round(statistics.median(durations), 3),
            "max": round(max(durations), 3),
        },
        "requests_per_cycle": sorted({len(c) for c in per_cycle}),
        "aggregates_per_cycle": sorted({len(r) for r in reads}),
        "bytes_per_cycle": round(statistics.median(sum(s.bytes for s in c) for c in per_cycle)),
        "gnocchi_seconds": {
            "slowest_request_median": round(
                statistics.median(max((s.seconds for s in r), default=0.0) for r in reads), 3
            ),
            "sum_median": round(statistics.median(sum(s.seconds for s in r) for r in reads), 3),
        },
        "cpu_s_per_cycle": round(cpu, 3),
        "peak_rss_mb": round(memory["peak_rss_mib"] / MIB_PER_MB, 1),
        "scrape": summary([s.latency for s in scrapes]),
        "scrape_bytes": scrapes[-1].wire_bytes if scrapes else None,
    }


def judge(sizes: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    requests = {n: r["requests_per_cycle"] for n, r in sizes.items()}
    flat = {tuple(v) for v in requests.values()}
    rows.append(
        {
            "target": "requests per cycle independent of the number of resources",
            "got": "; ".join(f"{n:,}: {v}" for n, v in requests.items()),
            "ok": len(flat) == 1,
        }
    )
    big = sizes.get(max(sizes))
    if big is not None and max(sizes) >= 5000:
        took = big["cycle_s"]["max"]
        rows.append(
            {
                "target": f"5,000 instances: cycle under {TARGETS['cycle_s_at_5000']:g} s",
                "got": f"{took:g} s (median {big['cycle_s']['median']:g} s)",
                "ok": took < TARGETS["cycle_s_at_5000"],
            }
        )
    worst_p99 = max((r["scrape"] or {}).get("p99_ms", 0.0) for r in sizes.values())
    rows.append(
        {
            "target": f"scrape p99 under {TARGETS['scrape_p99_ms']:g} ms",
            "got": f"{worst_p99:g} ms (worst size)",
            "ok": worst_p99 < TARGETS["scrape_p99_ms"],
        }
    )
    rss = max(r["peak_rss_mb"] for r in sizes.values())
    rows.append(
        {
            "target": f"peak RSS under {TARGETS['peak_rss_mb']:g} MB",
            "got": f"{rss:g} MB",
            "ok": rss < TARGETS["peak_rss_mb"],
        }
    )
    return rows


def markdown(result: dict[str, Any]) -> str:
    sizes: dict[int, dict[str, Any]] = {int(k): v for k, v in result["sizes"].items()}
    lines = [
        "# Gnocchi collector benchmark",
        "",
        f"Run {result['when']} on {result['host'].get('cpu_model', platform.processor())}, "
        f"{result['host'].get('cpus', '?')} CPUs; `{result['command']}`.",
        "Gnocchi 4.7 in the testbed (PostgreSQL indexer, file storage, one API worker with four "
        "threads); each instance has a disk and a NIC, 24 metrics in all, Ceilometer's units.",
        "Requests and bytes are counted at a reverse proxy in front of Gnocchi; Gnocchi's time "
        "is the proxy's wait for each answer.",
        "",
        "| instances | resources read | series | cycle median / max (s) | requests per cycle | "
        "aggregates | MB received | Gnocchi slowest / sum (s) | CPU per cycle (s) | "
        "peak RSS (MB) | scrape p50 / p99 (ms) |",
        "|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for n, r in sorted(sizes.items()):
        scrape = r["scrape"] or {}
        server = r["gnocchi_seconds"]
        cells = [
            f"{n:,} (shards {r['shards']})",
            f"{int(sum(r['resources_read'].values())):,}",
            f"{int(r['series_exported']):,}",
            f"{r['cycle_s']['median']:g} / {r['cycle_s']['max']:g}",
            str(r["requests_per_cycle"]),
            str(r["aggregates_per_cycle"]),
            f"{r['bytes_per_cycle'] / 1e6:.2f}",
            f"{server['slowest_request_median']:g} / {server['sum_median']:g}",
            f"{r['cpu_s_per_cycle']:g}",
            f"{r['peak_rss_mb']:g}",
            f"{scrape.get('p50_ms', '-')} / {scrape.get('p99_ms', '-')}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    lines += [
        f"| {t['target']} | {t['got']} | {'yes' if t['ok'] else '**no**'} |"
        for t in result["targets"]
    ]
    lines.append("")
    lines += ["## Notes", "", *(f"- {note}" for note in result.get("notes", [])), ""]
    return "\n".join(lines)


def notes(sizes: dict[int, dict[str, Any]]) -> list[str]:
    out = []
    for n, r in sorted(sizes.items()):
        ours = r["cycle_s"]["median"] - r["gnocchi_seconds"]["slowest_request_median"]
        out.append(
            f"{n:,} instances: Gnocchi's slowest answer took "
            f"{r['gnocchi_seconds']['slowest_request_median']:g} s of a "
            f"{r['cycle_s']['median']:g} s cycle (requests run side by side); the rest, "
            f"{ours:.2f} s, is ours (JSON parsing, building the families) and waiting; "
            f"CPU {r['cpu_s_per_cycle']:g} s per cycle."
        )
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(n) for n in FULL_SIZES))
    parser.add_argument("--shards", type=int, default=1, help="shards of each big type")
    parser.add_argument("--testbed-dir", type=Path, default=ROOT / ".testbed-bench")
    parser.add_argument("--stem", default="gnocchi", help="results file name")
    parser.add_argument("--keep", action="store_true", help="leave seeded data and testbed")
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="seed nothing: the bench testbed already holds the largest size (--keep before)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sorted(int(n) for n in args.sizes.split(","))
    bed, started = ensure_testbed(args.testbed_dir)
    records: list[Any] = []
    result: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench.bench_gnocchi " + " ".join(argv or sys.argv[1:]),
        "host": host_info(),
        "sizes": {},
    }
    try:
        have = 0
        for size in sizes:
            if not args.measure_only:
                t0 = time.monotonic()
                records.append(gnocchi_scale.seed(bed, size - have, f"bench{size}"))
                log(
                    f"{size:,} instances seeded (+{size - have:,} in {time.monotonic() - t0:.0f} s)"
                )
            have = size
            with tempfile.TemporaryDirectory(prefix="bench-gnocchi-") as tmp:
                try:
                    result["sizes"][size] = measure(bed, size, args.shards, Path(tmp))
                except (AssertionError, RuntimeError) as exc:
                    log(f"{size:,} instances: not measured: {str(exc)[:2000]}")
                    result.setdefault("failed", {})[size] = str(exc).splitlines()[0][:300]
                    continue
            log(json.dumps(result["sizes"][size]))
    finally:
        # A testbed the bench started goes with its data; on one it found, the seed is
        # taken away again unless --keep.
        if started and not args.keep:
            bed.stop()
        elif not args.keep:
            for record in records:
                gnocchi_scale.remove(bed, record)
    result["targets"] = judge(result["sizes"])
    result["notes"] = notes(result["sizes"])
    out = ROOT / "bench" / "results" / f"{args.stem}.json"
    report.save(out, result, markdown(result))
    log(f"results in {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
