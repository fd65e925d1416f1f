"""The gnocchi collector's values against gnocchiclient's own ``aggregates``, on the
testbed's real Gnocchi.

The collector is built from a ``collectors.gnocchi`` section, as the exporter builds it, and
run in this process. The measures service pushes the testbed server's samples every polling
interval, so a comparison that differs (a new point landed in between) is retried a few times.
Resources a test creates carry a run tag in their name and are deleted at the end.
"""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gnocchiclient import client as gnocchi_client
from openstack import connection

from exporter.collectors.gnocchi.collector import GnocchiCollector
from exporter.collectors.gnocchi.config import read_config
from exporter.collectors.gnocchi.plugin import session_for
from exporter.exposition import render
from otb_common.section import Section
from tests.support.metrics import Samples, parse_samples
from tests.support.testbed import Testbed

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

BASE = {"cloud": "testbed", "region": "RegionOne"}
ATTEMPTS = 4
GRANULARITY = 60.0
MIB, GIB = 2.0**20, 2.0**30
# Meter -> (family, factor to the base unit, Prometheus type), as the docs promise.
SERVER: dict[str, dict[str, tuple[str, float, str]]] = {
    "instance": {
        "cpu": ("gnocchi_cpu_seconds_total", 1e-9, "counter"),
        "vcpus": ("gnocchi_vcpus", 1.0, "gauge"),
        "memory": ("gnocchi_memory_bytes", MIB, "gauge"),
        "memory.usage": ("gnocchi_memory_usage_bytes", MIB, "gauge"),
        "memory.resident": ("gnocchi_memory_resident_bytes", MIB, "gauge"),
        "disk.root.size": ("gnocchi_disk_root_size_bytes", GIB, "gauge"),
    },
    "instance_disk": {
        "disk.device.read.bytes": ("gnocchi_disk_device_read_bytes_total", 1.0, "counter"),
        "disk.device.write.requests": (
            "gnocchi_disk_device_write_requests_total",
            1.0,
            "counter",
        ),
        "disk.device.capacity": ("gnocchi_disk_device_capacity_bytes", 1.0, "gauge"),
    },
    "instance_network_interface": {
        "network.incoming.bytes": ("gnocchi_network_incoming_bytes_total", 1.0, "counter"),
        "network.outgoing.packets": (
            "gnocchi_network_outgoing_packets_total",
            1.0,
            "counter",
        ),
    },
}


@pytest.fixture(scope="module")
def bed(testbed: Testbed) -> Testbed:
    return testbed.need("gnocchi", "measures")


@pytest.fixture(scope="module")
def sdk(bed: Testbed) -> Iterator[connection.Connection]:
    conn = bed.connect("testbed")
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def gnocchi(sdk: connection.Connection) -> Any:
    options = {"interface": sdk.config.get_interface() or "public"}
    return gnocchi_client.Client("1", session=sdk.session, adapter_options=options)


@pytest.fixture
def make_collector(
    bed: Testbed, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[dict[str, Any]], GnocchiCollector]]:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(bed.clouds_yaml))
    made: list[GnocchiCollector] = []

    def make(section: dict[str, Any]) -> GnocchiCollector:
        config = read_config(Section(section, "collectors.gnocchi"), "testbed", None, True)
        collector = GnocchiCollector(config, session_for(config))
        made.append(collector)
        return collector

    yield make
    for collector in made:
        collector.close()


def _cycle(collector: GnocchiCollector) -> tuple[Samples, str]:
    collection = collector.collect()
    assert collection.error is None, collection.error
    text = render(collection.families).decode()
    return parse_samples(text), text


def _types(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            out[name] = kind
    return out


def _latest(gnocchi: Any, kind: str, rid: str, metrics: list[str]) -> dict[str, float]:
    """Each metric's newest 60 s mean in the last three minutes, as gnocchiclient reads it."""
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=3 * GRANULARITY)
    refs = " ".join(f"({m} mean)" for m in metrics)
    answer = gnocchi.aggregates.fetch(
        f"(metric {refs})",
        resource_type=kind,
        search={"=": {"id": rid}},
        granularity=GRANULARITY,
        start=start,
    )
    out = {}
    for metric, by_agg in answer["measures"].get(rid, {}).items():
        if by_agg.get("mean"):
            out[metric] = float(by_agg["mean"][-1][2])
    return out


def _value(samples: Samples, family: str, **labels: str) -> float | None:
    want = set(labels.items())
    found = [v for (name, lbls), v in samples.items() if name == family and want <= lbls]
    assert len(found) <= 1, f"{family}{labels}: {len(found)} series"
    return found[0] if found else None


def test_values_equal_gnocchiclients_aggregates_in_base_units(
    bed: Testbed, gnocchi: Any, make_collector: Callable[[dict[str, Any]], GnocchiCollector]
) -> None:
    server_id = bed.info("measures")["server_id"]
    collector = make_collector({})
    resources = {
        kind: gnocchi.resource.search(
            resource_type=kind, query={"=": {"original_resource_id": rid}}
        )[0]
        for kind, rid in (
            ("instance", server_id),
            ("instance_disk", f"{server_id}-vda"),
        )
    }
    [nic] = gnocchi.resource.search(
        resource_type="instance_network_interface", query={"=": {"instance_id": server_id}}
    )
    resources["instance_network_interface"] = nic
    mismatches: list[str] = []
    for _ in range(ATTEMPTS):
        samples, text = _cycle(collector)
        types = _types(text)
        mismatches = []
        for kind, meters in SERVER.items():
            resource = resources[kind]
            expected = _latest(gnocchi, kind, resource["id"], sorted(meters))
            for metric, (family, factor, prom_type) in meters.items():
                assert types.get(family) == prom_type, family
                labels = {
                    **BASE,
                    "resource_type": kind,
                    "resource_id": resource["original_resource_id"],
                    "instance_id": server_id,
                    "project_id": resource["project_id"],
                    "user_id": resource["user_id"],
                }
                if kind != "instance":
                    labels["device"] = resource["name"]
                got = _value(samples, family, **labels)
                want = expected[metric] * factor
                if got is None or abs(got - want) > abs(want) * 1e-9:
                    mismatches.append(f"{family}: {got} != {want}")
        if not mismatches:
            break
        time.sleep(2)
    assert not mismatches, mismatches
    assert _value(samples, "gnocchi_exporter_status_success", **BASE) == 1.0
    assert _value(samples, "openstack_gnocchi_status_measures_to_process", **BASE) is not None
    age = _value(samples, "gnocchi_newest_point_age_seconds", **BASE, metric="cpu")
    assert age is not None
    assert age < 3 * GRANULARITY


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:8]


def _push_and_wait(gnocchi: Any, batch: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    """Push, then have Gnocchi process each metric's measures before answering."""
    gnocchi.metric.batch_resources_metrics_measures(batch)
    for rid, metrics in batch.items():
        resource = gnocchi.resource.get("generic", rid)
        for name in metrics:
            gnocchi.metric.get_measures(resource["metrics"][name], refresh=True)


def _minute(offset_minutes: int = 0) -> str:
    now = datetime.datetime.now(datetime.UTC).replace(second=0, microsecond=0)
    return (now + datetime.timedelta(minutes=offset_minutes)).isoformat()


def test_stale_and_ended_resources_are_not_exported(
    bed: Testbed,
    gnocchi: Any,
    tag: str,
    make_collector: Callable[[dict[str, Any]], GnocchiCollector],
) -> None:
    server = gnocchi.resource.get("instance", bed.info("measures")["server_id"])
    policies = {
        name: gnocchi.metric.get(mid)["archive_policy"]["name"]
        for name, mid in server["metrics"].items()
        if name in ("cpu", "memory.usage")
    }
    made = {}
    for role in ("fresh", "stopped", "ended"):
        made[role] = gnocchi.resource.create(
            "instance",
            {
                "id": str(uuid.uuid4()),
                "project_id": server["project_id"],
                "user_id": server["user_id"],
                "flavor_id": server["flavor_id"],
                "flavor_name": server["flavor_name"],
                "host": server["host"],
                "display_name": f"gnocchi-it-{tag}-{role}",
                "metrics": {
                    name: {"archive_policy_name": policy, "unit": unit}
                    for (name, policy), unit in zip(
                        sorted(policies.items()), ("ns", "MB"), strict=True
                    )
                },
            },
        )
    try:
        when = {"fresh": _minute(), "stopped": _minute(-30), "ended": _minute()}
        batch = {
            made[role]["id"]: {
                "cpu": [{"timestamp": when[role], "value": 4.2e12}],
                "memory.usage": [{"timestamp": when[role], "value": 321.0}],
            }
            for role in made
        }
        _push_and_wait(gnocchi, batch)
        ended = datetime.datetime.now(datetime.UTC).isoformat()
        gnocchi.resource.update("instance", made["ended"]["id"], {"ended_at": ended})
        samples, _ = _cycle(make_collector({}))
        fresh = {"resource_id": made["fresh"]["id"]}
        assert _value(samples, "gnocchi_cpu_seconds_total", **fresh) == pytest.approx(4200.0)
        assert _value(samples, "gnocchi_memory_usage_bytes", **fresh) == 321.0 * MIB
        for role in ("stopped", "ended"):
            rid = made[role]["id"]
            assert not [key for key in samples if ("resource_id", rid) in key[1]], role
        stale = _value(
            samples,
            "gnocchi_exporter_series",
            **BASE,
            resource_type="instance",
            metric="cpu",
            state="stale",
        )
        assert stale is not None
        assert stale >= 1
    finally:
        for resource in made.values():
            gnocchi.resource.delete(resource["id"])


def test_a_type_on_two_policies_and_granularities_yields_every_meter(
    gnocchi: Any, tag: str, make_collector: Callable[[dict[str, Any]], GnocchiCollector]
) -> None:
    """One meter on a 5-minute policy, another on a one-minute rate policy: two requests,
    both meters exported; ``MiB`` and ``ns`` converted by the unit Gnocchi stores."""
    kind = f"otb_it_{tag}"
    gnocchi.resource_type.create({"name": kind, "attributes": {}})
    resource = None
    try:
        resource = gnocchi.resource.create(
            kind,
            {
                "id": str(uuid.uuid4()),
                "metrics": {
                    "pool.level": {"archive_policy_name": "ceilometer-low", "unit": "MiB"},
                    "work.done": {"archive_policy_name": "ceilometer-high-rate", "unit": "ns"},
                },
            },
        )
        now = _minute()
        _push_and_wait(
            gnocchi,
            {
                resource["id"]: {
                    "pool.level": [{"timestamp": now, "value": 3.0}],
                    "work.done": [{"timestamp": now, "value": 5e9}],
                }
            },
        )
        section = {
            "default_resource_types": False,
            "resource_types": {
                kind: {
                    "metrics": {
                        "pool.level": {"kind": "gauge"},
                        "work.done": {"kind": "counter"},
                    }
                }
            },
        }
        samples, _ = _cycle(make_collector(section))
        rid = {"resource_id": resource["id"], "resource_type": kind}
        assert _value(samples, "gnocchi_pool_level_bytes", **rid) == 3.0 * MIB
        assert _value(samples, "gnocchi_work_done_seconds_total", **rid) == pytest.approx(5.0)
        groups = {
            (lbls_dict["archive_policy"], lbls_dict["granularity"])
            for (name, lbls), value in samples.items()
            if name == "gnocchi_exporter_read_success" and value == 1.0
            for lbls_dict in [dict(lbls)]
        }
        assert groups == {("ceilometer-low", "300"), ("ceilometer-high-rate", "60")}
    finally:
        if resource is not None:
            gnocchi.resource.delete(resource["id"])
        gnocchi.resource_type.delete(kind)


def test_a_sharded_read_finds_what_one_request_finds(
    make_collector: Callable[[dict[str, Any]], GnocchiCollector],
) -> None:
    """Slices of the id space (Gnocchi compares the UUID column) cover every resource once."""
    section = {"default_resource_types": False, "status": False}
    for _ in range(ATTEMPTS):
        whole, _ = _cycle(make_collector({**section, "resource_types": {"instance": {}}}))
        sliced, _ = _cycle(
            make_collector({**section, "resource_types": {"instance": {"shards": 7}}})
        )
        measures = {
            key: value
            for key, value in whole.items()
            if not key[0].startswith(("gnocchi_exporter_", "gnocchi_newest"))
        }
        if measures and measures.items() <= sliced.items():
            break
        time.sleep(2)
    assert measures
    assert measures.items() <= sliced.items()
    assert _value(sliced, "gnocchi_exporter_resources", **BASE, resource_type="instance") == (
        _value(whole, "gnocchi_exporter_resources", **BASE, resource_type="instance")
    )
