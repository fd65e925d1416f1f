"""Runs each collector on its own interval, in its own thread, with a deadline.

A cycle that misses its deadline is abandoned: the last good part stays in the snapshot, the
collector is marked failed, and no new cycle starts until the stuck call returns, so a wedged
backend costs one blocked thread, never a pile of them. A cycle that raises is a failed cycle
whose part is what the collector's ``fallback`` still knows (its connection state).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from exporter.collectors.base import Collection, Collector
from exporter.exposition import render_families
from exporter.metric import MetricFamily
from exporter.snapshot import CollectorStatus, Snapshot
from otb_common import allocator

log = logging.getLogger(__name__)


class _Cycle:
    """One collect() call on a daemon thread (a stuck one must never block process exit)."""

    def __init__(self, collector: Collector) -> None:
        self.result: Collection | None = None
        self.done = threading.Event()
        self.started = time.monotonic()
        self._collector = collector
        self._thread = threading.Thread(
            target=self._run, name=f"collect-{collector.name}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self._collector.collect()
        except Exception as exc:
            log.exception("collector crashed", extra={"collector": self._collector.name})
            self.result = Collection(
                self._fallback(), error=f"internal error: {type(exc).__name__}"
            )
        finally:
            self.done.set()

    def _fallback(self) -> list[MetricFamily]:
        """The collector's connection-level families, or nothing if even that fails."""
        try:
            return list(self._collector.fallback())
        except Exception:
            log.exception("collector fallback crashed", extra={"collector": self._collector.name})
            return []


class CollectorRunner:
    def __init__(
        self,
        collector: Collector,
        interval: float,
        timeout: float,
        snapshot: Snapshot,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.collector = collector
        self.interval = interval
        self.timeout = timeout
        self._snapshot = snapshot
        self._wall_clock = wall_clock
        self._status = CollectorStatus()
        self._inflight: _Cycle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> bool:
        """Run (or, while the last one is stuck, skip) one cycle and publish its outcome."""
        name = self.collector.name
        if self._inflight is not None and not self._inflight.done.is_set():
            log.warning(
                "previous cycle still blocked; not starting another", extra={"collector": name}
            )
            self._publish_failure(time.monotonic() - self._inflight.started)
            return False
        cycle = self._inflight = _Cycle(self.collector)
        if not cycle.done.wait(self.timeout):
            self._status.timeouts += 1
            log.error(
                "cycle abandoned at its deadline; serving last values",
                extra={"collector": name, "timeout": self.timeout},
            )
            self._publish_failure(self.timeout)
            return False
        result = cycle.result or Collection(error="no result")
        cycle.result = None  # the snapshot keeps the rendered text; let the families go
        part = render_families(result.families)  # rendering is part of what a cycle costs
        duration = time.monotonic() - cycle.started
        st = self._status
        st.duration = duration
        st.success = result.success
        if result.success:
            st.last_success = self._wall_clock()
            st.has_data = True
            log.debug("cycle done", extra={"collector": name, "duration": round(duration, 4)})
        else:
            log.error("cycle failed", extra={"collector": name, "error": result.error})
        self._snapshot.publish(name, replace(self._status), part)
        success = result.success
        del result, part  # the last references to this cycle's families and the old part
        allocator.trim()
        return success

    def _publish_failure(self, duration: float) -> None:
        self._status.success = False
        self._status.duration = duration
        self._snapshot.publish(self.collector.name, replace(self._status), None)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._loop, name=f"schedule-{self.collector.name}", daemon=True
        )
        self._thread.start()

    def _loop(self) -> None:
        next_start = time.monotonic()
        while not self._stop.is_set():
            self.run_once()
            next_start += self.interval
            now = time.monotonic()
            next_start = max(next_start, now)  # overran: realign, do not burst to catch up
            self._stop.wait(next_start - now)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)

    @property
    def blocked(self) -> bool:
        """A cycle is still stuck in a call; closing its client now could block too."""
        return self._inflight is not None and not self._inflight.done.is_set()


class Scheduler:
    def __init__(self, runners: Sequence[CollectorRunner]) -> None:
        self.runners = list(runners)

    def start(self) -> None:
        for runner in self.runners:
            runner.start()

    def run_once(self) -> bool:
        """Every collector once, in turn; True when all succeeded (``--once``)."""
        return all([runner.run_once() for runner in self.runners])

    def stop(self) -> None:
        for runner in self.runners:
            runner.stop()
        for runner in self.runners:
            if not runner.blocked:
                runner.collector.close()
