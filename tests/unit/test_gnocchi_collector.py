"""The gnocchi collector's cycle on a fake Gnocchi replaying a real one's answers
(``tests/fixtures/gnocchi``): values in base units, nothing stale served as current, a
refused group costing only its own families, and the backlog's admin-only status."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from exporter.collectors.base import Collection
from exporter.collectors.gnocchi import collector as gnocchi_collector
from exporter.collectors.gnocchi.collector import REFERENCE_WINDOW, GnocchiCollector
from exporter.collectors.gnocchi.reader import LIVE
from exporter.metric import MetricFamily
from tests.support.gnocchi_fake import FakeClock, FakeGnocchiClient, load
from tests.unit.test_gnocchi_plan import gnocchi_config

INSTANCE = load("resources.json")["instance"][0]
RECORDED_AT: float = load("meta.json")["recorded_at"]
BASE = ("testbed", "RegionOne")


def _stamp(text: str) -> float:
    return datetime.datetime.fromisoformat(text).timestamp()


def _last(kind: str, metric: str, agg: str = "mean") -> tuple[float, float]:
    """The newest recorded point of ``metric`` on the type's first resource: (time, value)."""
    for answer in load("aggregates.json"):
        if answer["resource_type"] != kind:
            continue
        for by_metric in answer["response"]["measures"].values():
            points = (by_metric.get(metric) or {}).get(agg)
            if points:
                return _stamp(points[-1][0]), float(points[-1][2])
    raise AssertionError(f"{kind}/{metric} {agg} was not recorded")


def _collector(
    section: dict[str, Any] | None = None, at: float = RECORDED_AT
) -> tuple[GnocchiCollector, FakeGnocchiClient, FakeClock]:
    fake = FakeGnocchiClient()
    clock = FakeClock(at)
    collector = GnocchiCollector(gnocchi_config(section), fake.session, clock=clock)
    collector.client = fake
    return collector, fake, clock


def _families(collection: Collection) -> dict[str, MetricFamily]:
    return {f.name: f for f in collection.families}


def _value(collection: Collection, name: str, **labels: str) -> float | None:
    family = _families(collection).get(name)
    if family is None:
        return None
    found = [
        v
        for values, v in family.rows
        if all(dict(zip(family.labelnames, values, strict=True))[k] == w for k, w in labels.items())
    ]
    assert len(found) <= 1, found
    return found[0] if found else None


def test_a_cycle_exports_the_latest_points_in_base_units() -> None:
    collector, fake, clock = _collector()
    collection = collector.collect()
    assert collection.error is None
    rid = INSTANCE["id"]
    _, cpu = _last("instance", "cpu")
    _, memory = _last("instance", "memory.usage")
    assert _value(collection, "gnocchi_cpu_seconds_total", resource_id=rid) == pytest.approx(
        cpu * 1e-9
    )
    assert _value(collection, "gnocchi_memory_usage_bytes", instance_id=rid) == memory * 2**20
    family = _families(collection)["gnocchi_network_incoming_packets_total"]
    assert family.type == "counter"
    assert family.rows
    fresh = _value(
        collection, "gnocchi_exporter_series", metric="cpu", state="fresh", resource_type="instance"
    )
    assert fresh == 1.0
    assert _value(collection, "gnocchi_exporter_resources", resource_type="instance") == 1.0
    stamp, _ = _last("instance", "cpu")
    assert _value(collection, "gnocchi_newest_point_age_seconds") == clock.now - stamp
    assert not fake.backend.measure_requests  # a fresh point: no fallback request
    for request in fake.backend.aggregate_requests:
        assert request["search"] == LIVE  # ended resources are never asked for


def test_stale_points_are_counted_not_exported() -> None:
    """An hour after the recording, no point is within stale_after granularities: the
    answer is the one Gnocchi gave for an empty window, and the reference's age comes from
    one measures request over the last day."""
    collector, fake, clock = _collector(at=RECORDED_AT + 3600)
    collection = collector.collect()
    assert collection.error is None
    first = load("aggregates_empty_window.json")
    sent = next(
        r for r in fake.backend.aggregate_requests if r["operations"] == first["operations"]
    )
    query = urlencode({"granularity": "60", "start": sent["start"], "details": "true"})
    body = {k: sent[k] for k in ("resource_type", "operations", "search")}
    assert fake.backend.http_post(f"v1/aggregates?{query}", body) == first["response"]
    assert not _families(collection)["gnocchi_cpu_seconds_total"].rows
    assert not _families(collection)["gnocchi_memory_usage_bytes"].rows
    labels = {"resource_type": "instance", "metric": "cpu"}
    assert _value(collection, "gnocchi_exporter_series", state="stale", **labels) == 1.0
    assert _value(collection, "gnocchi_exporter_series", state="fresh", **labels) == 0.0
    (request,) = fake.backend.measure_requests
    assert request["metric_id"] == INSTANCE["metrics"]["cpu"]
    assert _stamp(request["start"]) == pytest.approx(clock.now - REFERENCE_WINDOW, abs=1)
    newest = _stamp(load("measures.json")["response"][-1][0])
    assert _value(collection, "gnocchi_newest_point_age_seconds") == clock.now - newest


def test_a_rate_is_divided_by_its_granularity() -> None:
    collector, _, _ = _collector(
        {
            "default_resource_types": False,
            "resource_types": {"instance": {"metrics": {"cpu": {"aggregation": "rate:mean"}}}},
        }
    )
    collection = collector.collect()
    assert collection.error is None
    _, rate = _last("instance", "cpu", "rate:mean")
    value = _value(collection, "gnocchi_cpu_seconds_per_second")
    assert value == pytest.approx(rate * 1e-9 / 60)


def test_an_empty_shard_is_an_empty_read() -> None:
    """Gnocchi answers 404 "Metric [...] does not exist" to a shard matching no resource."""
    collector, fake, _ = _collector({"resource_types": {"instance": {"shards": 4}}})
    collection = collector.collect()
    assert collection.error is None
    shards = [r for r in fake.backend.aggregate_requests if r["resource_type"] == "instance"]
    assert len(shards) == 2 * 4
    assert _value(collection, "gnocchi_exporter_resources", resource_type="instance") == 1.0
    assert _value(collection, "gnocchi_cpu_seconds_total") is not None


def test_an_answer_keeps_its_slot_until_it_is_reduced_to_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The slots bound the parsed answers alive at once, so an answer being reduced holds
    one: with a single slot, no other request can start meanwhile."""
    collector, fake, _ = _collector({"resource_types": {"instance": {"shards": 4}}})
    fake._in_flight = threading.BoundedSemaphore(1)
    real = fake.aggregates
    held: list[bool] = []

    def spy(*args: Any, reduce: Callable[[Any], Any]) -> Any:
        def reducing(answer: Any) -> Any:
            free = fake._in_flight.acquire(blocking=False)
            if free:
                fake._in_flight.release()
            held.append(not free)
            return reduce(answer)

        return real(*args, reduce=reducing)

    monkeypatch.setattr(fake, "aggregates", spy)
    collection = collector.collect()
    assert collection.error is None
    assert held
    assert all(held)
    assert _value(collection, "gnocchi_cpu_seconds_total") is not None


@pytest.mark.parametrize(
    ("refusal", "reason"),
    [
        ("error_granularity.json", "Granularities are missing"),
        ("error_aggregation.json", "Metrics with unknown aggregation"),
    ],
)
def test_a_refused_group_fails_alone_and_brings_rediscovery(
    refusal: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gnocchi_collector, "REDISCOVER_AFTER", 0.0)
    collector, fake, _ = _collector()
    bad = "(metric (vcpus mean)"

    def refuse(request: dict[str, Any]) -> str | None:
        return refusal if request["operations"].startswith(bad) else None

    fake.backend.refuse = refuse
    collection = collector.collect()
    assert collection.error is not None
    assert "instance:ceilometer-high:60: HTTP 4" in collection.error
    assert reason in collection.error
    families = _families(collection)
    assert "gnocchi_memory_usage_bytes" not in families
    assert "gnocchi_vcpus" not in families
    assert families["gnocchi_cpu_seconds_total"].rows
    success = "gnocchi_exporter_read_success"
    assert (
        _value(collection, success, archive_policy="ceilometer-high", resource_type="instance") == 0
    )
    assert (
        _value(collection, success, archive_policy="ceilometer-high-rate", resource_type="instance")
        == 1
    )
    searches = len(fake.backend.searches)
    fake.backend.refuse = lambda _request: None
    again = collector.collect()
    assert len(fake.backend.searches) > searches  # discovered again, long before the interval
    assert again.error is None
    assert _families(again)["gnocchi_memory_usage_bytes"].rows


def test_a_refusal_soon_after_discovery_waits_before_discovering_again() -> None:
    """A group Gnocchi keeps refusing does not cost a discovery every cycle."""
    collector, fake, _ = _collector()
    fake.backend.refuse = lambda request: (
        "error_aggregation.json"
        if request["operations"].startswith("(metric (vcpus mean)")
        else None
    )
    assert collector.collect().error is not None
    searches = len(fake.backend.searches)
    assert collector.collect().error is not None
    assert len(fake.backend.searches) == searches


def test_no_rediscovery_while_reads_succeed() -> None:
    collector, fake, _ = _collector()
    collector.collect()
    searches = len(fake.backend.searches)
    collector.collect()
    assert len(fake.backend.searches) == searches


def test_status_is_read_without_details() -> None:
    collector, fake, _ = _collector()
    collection = collector.collect()
    assert fake.backend.status_requests == [False]
    assert _value(collection, "gnocchi_exporter_status_success") == 1.0
    summary = load("status.json")["storage"]["summary"]
    measures = _value(collection, "openstack_gnocchi_status_measures_to_process")
    assert measures == summary["measures"]
    metrics = _value(collection, "openstack_gnocchi_status_metric_having_measures_to_process")
    assert metrics == summary["metrics"]
    # metricd's processors are null in the recording: the coordinator cannot tell
    assert "openstack_gnocchi_status_metricd_processors" not in _families(collection)


def test_status_forbidden_says_admin() -> None:
    collector, fake, _ = _collector()
    fake.backend.status_refusal = "error_status_forbidden.json"
    collection = collector.collect()
    assert _value(collection, "gnocchi_exporter_status_success") == 0.0
    assert collection.error is not None
    assert "status: 403" in collection.error
    assert "admin" in collection.error
    assert "openstack_gnocchi_status_measures_to_process" not in _families(collection)
    assert _families(collection)["gnocchi_cpu_seconds_total"].rows  # the measures still publish


def test_status_families_absent_when_gnocchi_leaves_the_field_out() -> None:
    collector, fake, _ = _collector()
    fake.backend.status_answer = {"storage": {"summary": {"metrics": 3}}, "metricd": {}}
    families = _families(collector.collect())
    assert "openstack_gnocchi_status_measures_to_process" not in families
    assert families["openstack_gnocchi_status_metric_having_measures_to_process"].rows == [
        (BASE, 3.0)
    ]
    assert "openstack_gnocchi_status_metricd_processors" not in families
