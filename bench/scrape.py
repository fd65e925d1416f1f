"""Scraping like Prometheus does, and the statistics of the results.

Prometheus keeps one HTTP/1.1 connection per target alive between scrapes and always asks for
gzip, so a scrape here is a GET on a persistent ``http.client`` connection with Prometheus'
request headers; the latency is from sending the request to having read the whole body.
"""

from __future__ import annotations

import gzip
import http.client
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

# What Prometheus 2.x sends (scrape.go); the Go peer negotiates its format from Accept.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
_LAST_SUCCESS = re.compile(
    rb'^openstack_exporter_collector_last_success_timestamp_seconds\{collector="libvirt"\} (\S+)',
    re.MULTILINE,
)
_DURATION = re.compile(
    rb'^openstack_exporter_collector_duration_seconds\{collector="libvirt"\} (\S+)', re.MULTILINE
)
_SUCCESS = re.compile(
    rb'^openstack_exporter_collector_success\{collector="libvirt"\} (\S+)', re.MULTILINE
)


class ScrapeError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Sample:
    start: float  # wall clock (time.time) when the request was sent
    latency: float  # seconds until the whole body was read
    wire_bytes: int
    plain_bytes: int | None  # decompressed size, when the body was parsed
    success: bool | None
    last_success: float | None  # the exporter's self-metrics in that body
    duration: float | None

    @property
    def end(self) -> float:
        return self.start + self.latency


def _self_metric(pattern: re.Pattern[bytes], text: bytes) -> float | None:
    # The self-metrics close the body; look at the tail first, the whole body only if moved.
    match = pattern.search(text, max(0, len(text) - 16384)) or pattern.search(text)
    return float(match.group(1)) if match else None


class Scraper:
    """One keep-alive connection to a target, reopened only if the server closed it."""

    def __init__(
        self, port: int, *, gzip_ok: bool = True, parse: bool = False, timeout: float = 300.0
    ) -> None:
        self._port = port
        self._timeout = timeout
        self._parse = parse
        self._headers = {
            "Accept": PROMETHEUS_ACCEPT,
            "Accept-Encoding": "gzip" if gzip_ok else "identity",
            "User-Agent": "Prometheus/2.42.0",
            "X-Prometheus-Scrape-Timeout-Seconds": "10",
        }
        self._conn = self._connect()
        self.reconnects = 0
        self._last: tuple[bytes, str | None] = (b"", None)

    def _connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=self._timeout)
        conn.connect()
        return conn

    def get(self, path: str = "/metrics") -> tuple[int, bytes, str | None, float, float]:
        """(status, body, Content-Encoding, wall start, latency) of one GET."""
        for attempt in (1, 2):
            wall = time.time()
            t0 = time.perf_counter()
            try:
                self._conn.request("GET", path, headers=self._headers)
                resp = self._conn.getresponse()
                body = resp.read()
            except (http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine):
                # The server dropped an idle keep-alive connection: reconnect, not a sample.
                if attempt == 2:
                    raise
                self._conn.close()
                self._conn = self._connect()
                self.reconnects += 1
                continue
            latency = time.perf_counter() - t0
            encoding = resp.getheader("Content-Encoding")
            self._last = (body, encoding)
            return resp.status, body, encoding, wall, latency
        raise ScrapeError("unreachable")

    def scrape(self) -> Sample:
        status, body, encoding, wall, latency = self.get()
        if status != 200:
            raise ScrapeError(f"GET /metrics answered {status}: {body[:200]!r}")
        if not self._parse:
            return Sample(wall, latency, len(body), None, None, None, None)
        plain = gzip.decompress(body) if encoding == "gzip" else body
        success = _self_metric(_SUCCESS, plain)
        return Sample(
            wall,
            latency,
            len(body),
            len(plain),
            None if success is None else success == 1.0,
            _self_metric(_LAST_SUCCESS, plain),
            _self_metric(_DURATION, plain),
        )

    def last_text(self) -> bytes:
        """The last body, decompressed."""
        body, encoding = self._last
        return gzip.decompress(body) if encoding == "gzip" else body

    def close(self) -> None:
        self._conn.close()


def exposition_facts(text: bytes, domains_metric: str) -> dict[str, int | None]:
    """How many samples a body holds and how many domains it covers."""
    series = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
    match = re.search(rb"^" + re.escape(domains_metric.encode()) + rb" (\S+)", text, re.MULTILINE)
    return {"series": series, "domains_exported": int(float(match.group(1))) if match else None}


def paced(
    scrapers: Sequence[tuple[Scraper, int]], ticks: int, window: float, hard_limit: float
) -> list[list[Sample]]:
    """Spread ``ticks`` evenly over ``window`` seconds; scraper i scrapes every n_i-th tick.

    Evenly spread scrapes land at every phase of the exporter's collection cycle, as
    Prometheus' do (its interval is not synchronised with the exporter's).
    """
    out: list[list[Sample]] = [[] for _ in scrapers]
    gap = window / max(1, ticks)
    t0 = time.perf_counter()
    for tick in range(ticks):
        now = time.perf_counter()
        if now - t0 > hard_limit:
            break
        delay = t0 + tick * gap - now
        if delay > 0:
            time.sleep(delay)
        for i, (scraper, every) in enumerate(scrapers):
            if tick % every == 0:
                out[i].append(scraper.scrape())
    return out


def burst(scraper: Scraper, count: int, budget: float, min_count: int) -> list[Sample]:
    """Back-to-back scrapes: ``count`` of them, or fewer (at least ``min_count``) in ``budget``."""
    out: list[Sample] = []
    t0 = time.perf_counter()
    while len(out) < count:
        if len(out) >= min_count and time.perf_counter() - t0 >= budget:
            break
        out.append(scraper.scrape())
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary(latencies: Sequence[float]) -> dict[str, float | int] | None:
    """n, p50, p99, max and mean in milliseconds."""
    if not latencies:
        return None
    return {
        "n": len(latencies),
        "p50_ms": round(percentile(latencies, 0.50) * 1e3, 3),
        "p99_ms": round(percentile(latencies, 0.99) * 1e3, 3),
        "max_ms": round(max(latencies) * 1e3, 3),
        "mean_ms": round(sum(latencies) / len(latencies) * 1e3, 3),
    }


def mixed_quantile(
    quiet: Sequence[float], busy: Sequence[float], busy_share: float, q: float
) -> float | None:
    """Quantile of a mix of two empirical distributions, ``busy_share`` of it from ``busy``.

    Used to predict the p99 Prometheus sees at another scrape interval: the share of its
    scrapes that land during a collection cycle is the cycle's wall time over the interval.
    """
    share = min(1.0, max(0.0, busy_share))
    if not quiet or (share > 0 and not busy):
        return None
    qs, bs = sorted(quiet), sorted(busy)

    def cdf(ordered: list[float], x: float) -> float:
        lo, hi = 0, len(ordered)
        while lo < hi:
            mid = (lo + hi) // 2
            if ordered[mid] <= x:
                lo = mid + 1
            else:
                hi = mid
        return lo / len(ordered) if ordered else 0.0

    for x in sorted(qs + bs):
        if (1 - share) * cdf(qs, x) + share * cdf(bs, x) >= q - 1e-12:
            return x
    return max(qs + bs)
