"""Discovery and the shard searches, on a fake Gnocchi replaying a real one's answers
(``tests/fixtures/gnocchi``): a group that mixes policies or granularities is refused by
Gnocchi whole, and a shard gap or overlap loses or doubles series."""

from __future__ import annotations

import itertools
from typing import Any
from uuid import UUID

import pytest

from exporter.collectors.gnocchi.client import Policy
from exporter.collectors.gnocchi.config import GnocchiConfig, read_config
from exporter.collectors.gnocchi.plan import Plan, auto_granularity, discover
from exporter.collectors.gnocchi.reader import LIVE, shard_search
from otb_common.section import Section
from tests.support.gnocchi_fake import FakeGnocchiClient, load, matches


def gnocchi_config(section: dict[str, Any] | None = None) -> GnocchiConfig:
    return read_config(Section(section or {}, "collectors.gnocchi"), "testbed", None, True)


def _plan(section: dict[str, Any] | None = None) -> tuple[Plan, FakeGnocchiClient]:
    client = FakeGnocchiClient()
    return discover(client, gnocchi_config(section)), client


def _series(plan: Plan) -> dict[str, tuple[str, Any]]:
    """Meter -> (group key, series)."""
    return {s.metric: (g.key, s) for g in plan.groups for s in g.series}


@pytest.mark.parametrize(
    ("granularities", "minimum", "expected"),
    [
        ((1.0, 60.0, 3600.0), 60.0, 60.0),
        ((1.0, 60.0, 3600.0), 30.0, 60.0),
        ((1.0, 60.0, 3600.0), 120.0, 3600.0),
        ((1.0, 60.0, 3600.0), 7200.0, 3600.0),
        ((1.0,), 60.0, 1.0),
        ((), 60.0, None),
    ],
)
def test_auto_granularity(
    granularities: tuple[float, ...], minimum: float, expected: float | None
) -> None:
    policy = Policy("p", granularities, frozenset({"mean"}))
    assert auto_granularity(policy, minimum) == expected


def test_defaults_on_the_recorded_gnocchi() -> None:
    """Default meters the testbed does not carry (latencies, perf) are skipped silently; the
    instance's meters split by archive policy, at the finest granularity of at least 60s."""
    plan, client = _plan()
    assert [g.key for g in plan.groups] == load("meta.json")["groups"]
    assert plan.problems == []
    series = _series(plan)
    assert series["cpu"][0] == "instance:ceilometer-high-rate:60"
    assert series["memory.usage"][0] == "instance:ceilometer-high:60"
    assert "disk.device.read.latency" not in series
    assert series["cpu"][1].family == "gnocchi_cpu_seconds_total"
    assert series["cpu"][1].factor == pytest.approx(1e-9)
    assert series["memory.usage"][1].factor == 2.0**20
    assert plan.reference is not None
    assert (plan.reference.metric, plan.reference.granularity) == ("cpu", 60.0)
    assert client.backend.searches
    assert all(s["query"] == LIVE for s in client.backend.searches)  # ended resources: never


def test_groups_split_by_granularity() -> None:
    plan, _ = _plan(
        {
            "default_resource_types": False,
            "resource_types": {
                "instance": {"metrics": {"cpu": {"granularity": "1h"}, "memory.swap.in": {}}}
            },
        }
    )
    keys = {metric: key for metric, (key, _) in _series(plan).items()}
    assert keys == {
        "cpu": "instance:ceilometer-high-rate:3600",
        "memory.swap.in": "instance:ceilometer-high-rate:60",
    }


def test_a_rate_is_per_second_and_not_a_counter() -> None:
    plan, _ = _plan(
        {
            "default_resource_types": False,
            "resource_types": {"instance": {"metrics": {"cpu": {"aggregation": "rate:mean"}}}},
        }
    )
    (group,) = plan.groups
    (series,) = group.series
    assert (series.family, series.counter, series.rate) == (
        "gnocchi_cpu_seconds_per_second",
        False,
        True,
    )
    assert series.factor == pytest.approx(1e-9 / 60)
    assert group.operations == "(metric (cpu rate:mean))"


@pytest.mark.parametrize(
    ("meter", "problem"),
    [
        ({"no.such": {"kind": "gauge"}}, "instance/no.such: no live resource"),
        ({"cpu": {"aggregation": "max"}}, "instance/cpu: archive policy ceilometer-high-rate "),
        ({"memory.usage": {"granularity": "7s"}}, "instance/memory.usage: archive policy "),
        ({"cpu": {"unit": "B"}}, "instance/cpu: stored in 'ns', expected 'B'"),
    ],
)
def test_a_configured_meter_that_cannot_be_read_is_named(
    meter: dict[str, Any], problem: str
) -> None:
    metrics = {"vcpus": {}, **meter}
    plan, _ = _plan(
        {"default_resource_types": False, "resource_types": {"instance": {"metrics": metrics}}}
    )
    named = [p for p in plan.problems if not p.startswith("reference ")]
    assert len(named) == 1, plan.problems
    assert named[0].startswith(problem), plan.problems
    assert set(_series(plan)) == {"vcpus"}  # the others are still read


def test_a_configured_type_gnocchi_lacks_is_named() -> None:
    plan, _ = _plan({"resource_types": {"my_type": {"metrics": {"x": {"kind": "gauge"}}}}})
    assert plan.problems == ["resource type 'my_type' does not exist in Gnocchi"]
    assert plan.groups


def test_one_shard_is_the_live_filter_only() -> None:
    assert shard_search(0, 1) == LIVE


def _bounds(search: dict[str, Any]) -> tuple[int | None, int | None]:
    parts = search["and"]
    assert parts[0] == LIVE
    low = next((UUID(p[">="]["id"]).int for p in parts if ">=" in p), None)
    high = next((UUID(p["<"]["id"]).int for p in parts if "<" in p), None)
    return low, high


@pytest.mark.parametrize("shards", [2, 3, 7, 256])
def test_shards_cover_the_uuid_space_without_gap_or_overlap(shards: int) -> None:
    bounds = [_bounds(shard_search(i, shards)) for i in range(shards)]
    assert bounds[0][0] is None
    assert bounds[-1][1] is None
    for (_, high), (low, _) in itertools.pairwise(bounds):
        assert high is not None
        assert high == low
    edges = [UUID(int=0), UUID(int=2**128 - 1), UUID(int=2**127), UUID(int=2**127 - 1)]
    ids = [str(u) for u in edges] + [
        f"{i:08x}-0000-4000-8000-000000000000" for i in range(0, 2**32, 2**26)
    ]
    for rid in ids:
        resource = {"id": rid, "ended_at": None}
        hits = [i for i in range(shards) if matches(resource, shard_search(i, shards))]
        assert len(hits) == 1, (rid, hits)
    ended = {"id": ids[0], "ended_at": "2026-01-01T00:00:00+00:00"}
    assert not any(matches(ended, shard_search(i, shards)) for i in range(shards))


def test_a_reference_that_is_not_read_is_named() -> None:
    plan, _ = _plan({"reference": "instance/no.such.meter"})
    assert plan.reference is None
    assert any(p.startswith("reference instance/no.such.meter: not read") for p in plan.problems)
