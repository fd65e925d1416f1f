"""A collector stuck in a call: the scrape is served, threads do not pile up, it recovers."""

from __future__ import annotations

import threading

from exporter.collectors.base import Collection
from exporter.metric import MetricFamily, gauge
from exporter.scheduler import CollectorRunner, Scheduler
from exporter.snapshot import Snapshot


class GatedCollector:
    """Answers at once, except for the calls whose number is in ``block_on``."""

    def __init__(self, name: str, block_on: set[int]) -> None:
        self.name = name
        self.calls = 0
        self.gate = threading.Event()
        self.block_on = block_on

    def collect(self) -> Collection:
        self.calls += 1
        if self.calls in self.block_on:
            self.gate.wait(30)
        return Collection([gauge(f"{self.name}_value", "test", value=self.calls)])

    def fallback(self) -> list[MetricFamily]:
        return []

    def close(self) -> None:
        pass


class CrashingCollector:
    name = "crashy"

    def collect(self) -> Collection:
        raise RuntimeError("boom with a secret=hunter2 inside")

    def fallback(self) -> list[MetricFamily]:
        return []

    def close(self) -> None:
        pass


def _collect_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("collect-gated"))


def test_stuck_cycle_keeps_last_values_and_starts_no_new_cycle() -> None:
    snapshot = Snapshot(["gated"])
    collector = GatedCollector("gated", block_on={2})
    runner = CollectorRunner(collector, interval=1.0, timeout=0.2, snapshot=snapshot)

    assert runner.run_once()
    body = snapshot.body().plain().decode()
    assert "gated_value 1.0" in body
    assert 'openstack_exporter_collector_success{collector="gated"} 1.0' in body

    assert not runner.run_once()  # call 2 blocks past the deadline
    body = snapshot.body().plain().decode()
    assert "gated_value 1.0" in body  # last good values still served
    assert 'openstack_exporter_collector_success{collector="gated"} 0.0' in body
    assert 'openstack_exporter_collector_timeouts_total{collector="gated"} 1.0' in body
    assert 'openstack_exporter_collector_duration_seconds{collector="gated"} 0.2' in body
    assert snapshot.ready()  # it has produced data once

    for _ in range(5):  # while stuck: no new cycle, no new thread
        assert not runner.run_once()
    assert collector.calls == 2
    assert _collect_threads() == 1
    assert runner.blocked

    collector.gate.set()
    for thread in threading.enumerate():
        if thread.name.startswith("collect-gated"):
            thread.join(5)
    assert runner.run_once()
    assert collector.calls == 3
    body = snapshot.body().plain().decode()
    assert "gated_value 3.0" in body
    assert 'openstack_exporter_collector_success{collector="gated"} 1.0' in body


def test_one_crashing_collector_does_not_hide_the_others() -> None:
    snapshot = Snapshot(["gated", "crashy"])
    good = GatedCollector("gated", block_on=set())
    scheduler = Scheduler(
        [
            CollectorRunner(good, 1.0, 1.0, snapshot),
            CollectorRunner(CrashingCollector(), 1.0, 1.0, snapshot),
        ]
    )
    assert not scheduler.run_once()
    body = snapshot.body().plain().decode()
    assert "gated_value 1.0" in body
    assert 'openstack_exporter_collector_success{collector="gated"} 1.0' in body
    assert 'openstack_exporter_collector_success{collector="crashy"} 0.0' in body
    assert "hunter2" not in body
    assert not snapshot.ready()  # crashy never produced data
    scheduler.stop()


def test_snapshot_gzip_matches_plain() -> None:
    import gzip  # noqa: PLC0415 - only this test needs it

    snapshot = Snapshot(["gated"])
    runner = CollectorRunner(GatedCollector("gated", set()), 1.0, 1.0, snapshot)
    runner.run_once()
    body = snapshot.body()
    assert gzip.decompress(body.gzipped) == body.plain()
    assert body.length == len(body.plain())
