"""The collector run inside the bench process: cost estimates, a cycle breakdown, a profile.

The exporter's duration self-metric covers ``collect()`` and rendering its families to text;
gzipping the whole body happens afterwards, when the snapshot is published. Timing the three
parts apart shows where a cycle's time goes.
"""

from __future__ import annotations

import cProfile
import gzip
import io
import pstats
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libvirt

from exporter.collectors.libvirt.collector import LibvirtCollector
from exporter.exposition import render, render_families
from exporter.snapshot import GZIP_LEVEL, CollectorStatus, Snapshot


def open_seconds(uri: str) -> float:
    """Opening a connection: for the test driver, reading and parsing the node file."""
    t0 = time.perf_counter()
    libvirt.openReadOnly(uri).close()
    return time.perf_counter() - t0


@dataclass(frozen=True, slots=True)
class Cost:
    """Seconds of a first and of a steady cycle on a small node, render and gzip included.

    The first cycle also opens the connection and reads every domain's XML once.
    """

    domains: int
    open: float
    first: float
    steady: float

    def first_cycle(self, domains: int, open_s: float) -> float:
        """``open_s`` is measured on the real node: the file parse does not scale linearly."""
        return open_s + max(0.0, self.first - self.open) / self.domains * domains

    def steady_cycle(self, domains: int) -> float:
        return self.steady / self.domains * domains


def _timed_cycle(collector: LibvirtCollector) -> dict[str, Any]:
    t0 = time.perf_counter()
    result = collector.collect()
    t1 = time.perf_counter()
    if not result.success:
        raise RuntimeError(f"cycle failed: {result.error}")
    body = render(result.families)
    t2 = time.perf_counter()
    packed = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
    t3 = time.perf_counter()
    return {
        "collect_s": t1 - t0,
        "render_s": t2 - t1,
        "gzip_s": t3 - t2,
        "total_s": t3 - t0,
        "families": len(result.families),
        "samples": sum(1 for line in body.splitlines() if line and not line.startswith(b"#")),
        "plain_bytes": len(body),
        "gzip_bytes": len(packed),
    }


def calibrate(uri: str, domains: int) -> Cost:
    """One first and one steady cycle on a small node, to size the intervals of the runs."""
    opened = open_seconds(uri)
    collector = LibvirtCollector(uri)
    try:
        first = _timed_cycle(collector)
        steady = _timed_cycle(collector)
    finally:
        collector.close()
    return Cost(domains, opened, first["total_s"], steady["total_s"])


def breakdown(uri: str, cycles: int, profile_to: Path | None = None) -> dict[str, Any]:
    """Median collect / render / gzip of ``cycles`` steady cycles; optionally profile one more.

    The profiled cycle runs exactly what the exporter runs: ``collect()`` then
    ``Snapshot.publish`` (render, self-metrics, gzip).
    """
    collector = LibvirtCollector(uri)
    try:
        first = _timed_cycle(collector)
        runs = [_timed_cycle(collector) for _ in range(cycles)]
        out: dict[str, Any] = {
            "mode": collector.mode,
            "first_collect_s": round(first["collect_s"], 4),
            **{
                key: round(statistics.median(r[key] for r in runs), 4)
                for key in ("collect_s", "render_s", "gzip_s", "total_s")
            },
            **{key: runs[-1][key] for key in ("families", "samples", "plain_bytes", "gzip_bytes")},
        }
        if profile_to is not None:
            out["profile"] = _profile(collector, profile_to)
    finally:
        collector.close()
    return out


_PHASES = {
    # label: (file suffix, function name) whose cumulative time is reported
    "collect()": ("collectors/libvirt/collector.py", "collect"),
    "per-domain libvirt reads (_per_domain)": ("collectors/libvirt/collector.py", "_per_domain"),
    "building families (domain_families)": ("collectors/libvirt/families.py", "domain_families"),
    "Snapshot.publish": ("exporter/snapshot.py", "publish"),
    "text rendering (exposition.render_families)": ("exporter/exposition.py", "render_families"),
    "gzip (gzip.compress)": ("gzip.py", "compress"),
}


def _profile(collector: LibvirtCollector, text_out: Path) -> dict[str, Any]:
    snapshot = Snapshot(("libvirt",))
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    result = collector.collect()
    snapshot.publish(
        "libvirt",
        CollectorStatus(success=result.success, has_data=True),
        render_families(result.families),
    )
    profiler.disable()
    wall = time.perf_counter() - t0
    entries = profiler.getstats()

    def where(code: object) -> tuple[str, str]:
        if isinstance(code, str):
            return "", code
        filename = str(getattr(code, "co_filename", ""))
        return (
            filename,
            f"{Path(filename).name}:{getattr(code, 'co_firstlineno', 0)}"
            f"({getattr(code, 'co_name', '?')})",
        )

    phases: dict[str, float | None] = {}
    for label, (suffix, name) in _PHASES.items():
        matches = [
            e.totaltime
            for e in entries
            if not isinstance(e.code, str)
            and e.code.co_name == name
            and e.code.co_filename.endswith(suffix)
        ]
        phases[label] = round(max(matches), 4) if matches else None
    top = sorted(entries, key=lambda e: e.inlinetime, reverse=True)[:15]
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(25)
    text_out.write_text(stream.getvalue(), encoding="utf-8")
    return {
        "wall_s_profiled": round(wall, 4),
        "cumulative_s": phases,
        "top_self_time": [
            {
                "function": where(e.code)[1],
                "calls": e.callcount,
                "self_s": round(e.inlinetime, 4),
                "cumulative_s": round(e.totaltime, 4),
            }
            for e in top
        ],
    }
