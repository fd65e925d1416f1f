"""A collector that raises: the cycle fails, but what the collector still knows is served."""

from __future__ import annotations

from exporter.collectors.base import Collection
from exporter.metric import MetricFamily, gauge
from exporter.scheduler import CollectorRunner
from exporter.snapshot import Snapshot


class FlakyCollector:
    """Succeeds on the first cycle, raises on the next ones; knows it is still connected."""

    name = "flaky"

    def __init__(self, fallback_raises: bool = False) -> None:
        self.calls = 0
        self.fallback_raises = fallback_raises

    def collect(self) -> Collection:
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("bug with a secret=hunter2 inside")
        return Collection(
            [gauge("flaky_up", "Connected.", value=1.0), gauge("flaky_items", "Items.", value=7.0)]
        )

    def fallback(self) -> list[MetricFamily]:
        if self.fallback_raises:
            raise RuntimeError("the fallback is broken too")
        return [gauge("flaky_up", "Connected.", value=1.0)]

    def close(self) -> None:
        pass


def _body(snapshot: Snapshot) -> str:
    return snapshot.body().plain().decode()


def test_a_crashed_cycle_keeps_what_the_collector_still_knows() -> None:
    snapshot = Snapshot(["flaky"])
    runner = CollectorRunner(FlakyCollector(), interval=1.0, timeout=5.0, snapshot=snapshot)
    assert runner.run_once()
    assert "flaky_items 7.0" in _body(snapshot)

    assert not runner.run_once()
    body = _body(snapshot)
    assert "flaky_up 1.0" in body  # the connection-level series survives the crash
    assert "flaky_items" not in body  # nothing stale from the last good cycle
    assert 'openstack_exporter_collector_success{collector="flaky"} 0.0' in body
    assert "hunter2" not in body


def test_a_broken_fallback_still_fails_the_cycle_cleanly() -> None:
    snapshot = Snapshot(["flaky"])
    collector = FlakyCollector(fallback_raises=True)
    runner = CollectorRunner(collector, interval=1.0, timeout=5.0, snapshot=snapshot)
    assert runner.run_once()
    assert not runner.run_once()
    body = _body(snapshot)
    assert "flaky_" not in body.replace('collector="flaky"', "")
    assert 'openstack_exporter_collector_success{collector="flaky"} 0.0' in body
