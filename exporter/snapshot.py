"""The pre-rendered exposition served to scrapes.

Each collector's part is rendered to text once, when it changes; a scrape copies bytes. The
self-metrics are small and re-rendered with every change, then the whole body is gzipped once,
so ``Accept-Encoding: gzip`` costs nothing per scrape either. The plain body is the parts'
own chunks, written one after the other, never a joined copy: it would hold the exposition
twice, and three times while the next one is built.
"""

from __future__ import annotations

import platform
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from exporter import __version__
from exporter.exposition import RenderedFamily, family_chunks, render_families
from exporter.metric import MetricFamily, counter, gauge

GZIP_LEVEL = 5  # past 5 the body barely shrinks while the render CPU keeps growing
COALESCE_BELOW = 64 * 1024
GZIP_WBITS = 31  # zlib's gzip container (header and trailer), the same bytes gzip.decompress reads


@dataclass(frozen=True, slots=True)
class Body:
    """One exposition: its plain chunks in order, their length, and its gzip form."""

    chunks: tuple[bytes, ...]
    length: int
    gzipped: bytes

    def plain(self) -> bytes:
        """The plain body in one piece, for what is not a scrape (tests)."""
        return b"".join(self.chunks)


def build_body(chunks: list[bytes]) -> Body:
    """Gzipped chunk by chunk: no joined copy of the plain body exists, even for a moment."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS)
    gzipped = [compressor.compress(chunk) for chunk in chunks]
    gzipped.append(compressor.flush())
    return Body(_coalesced(chunks), sum(map(len, chunks)), b"".join(gzipped))


def _coalesced(chunks: list[bytes]) -> tuple[bytes, ...]:
    """Runs of small chunks (headers, small families) joined, so that a plain scrape is a few
    writes rather than one per header; the large sample blocks stay as they are."""
    out: list[bytes] = []
    run: list[bytes] = []
    for chunk in chunks:
        if len(chunk) < COALESCE_BELOW:
            run.append(chunk)
            continue
        if run:
            out.append(b"".join(run))
            run = []
        out.append(chunk)
    if run:
        out.append(b"".join(run))
    return tuple(out)


@dataclass(slots=True)
class CollectorStatus:
    success: bool = False
    duration: float = 0.0
    last_success: float | None = None
    timeouts: int = 0
    has_data: bool = False


class Snapshot:
    def __init__(self, collectors: Sequence[str]) -> None:
        self._names = tuple(collectors)
        self._parts: dict[str, list[RenderedFamily]] = {}
        self._status = {name: CollectorStatus() for name in self._names}
        self._lock = threading.Lock()
        self._body = build_body([])
        self._rebuild()

    def publish(
        self, name: str, status: CollectorStatus, part: list[RenderedFamily] | None
    ) -> None:
        """Replace one collector's status and, when ``part`` (its rendered families) is
        given, its part of the body."""
        with self._lock:
            if part is not None:
                self._parts[name] = part
            self._status[name] = status
            self._rebuild()

    def body(self) -> Body:
        """One attribute read, so a scrape never sees half an update."""
        return self._body

    def ready(self) -> bool:
        with self._lock:
            return all(s.has_data for s in self._status.values())

    def _rebuild(self) -> None:
        parts = [self._parts.get(n, []) for n in self._names]
        self._body = build_body(family_chunks([*parts, render_families(self._self_metrics())]))

    def _self_metrics(self) -> list[MetricFamily]:
        prefix = "openstack_exporter"
        success = gauge(
            f"{prefix}_collector_success",
            "Whether the collector's last cycle succeeded (1) or failed or timed out (0).",
            ["collector"],
        )
        duration = gauge(
            f"{prefix}_collector_duration_seconds",
            "How long the collector's last cycle took (while one is stuck: how long so far).",
            ["collector"],
        )
        last = gauge(
            f"{prefix}_collector_last_success_timestamp_seconds",
            "Unix time of the collector's last successful cycle.",
            ["collector"],
        )
        timeouts = counter(
            f"{prefix}_collector_timeouts_total",
            "Cycles abandoned at their deadline.",
            ["collector"],
        )
        for name, st in self._status.items():
            success.add([name], 1.0 if st.success else 0.0)
            duration.add([name], st.duration)
            if st.last_success is not None:
                last.add([name], st.last_success)
            timeouts.add([name], float(st.timeouts))
        build = gauge(
            f"{prefix}_build_info",
            "Version of the exporter and of the Python running it; always 1.",
            ["version", "pythonversion"],
        )
        build.add([__version__, platform.python_version()], 1.0)
        return [success, duration, last, timeouts, build]
