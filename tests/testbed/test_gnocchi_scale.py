"""testbed/gnocchi_scale.py against the real Gnocchi: what it creates is what a Gnocchi reader
of a Ceilometer cloud finds, and ``remove`` takes away exactly that."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest

from testbed import gnocchi_scale
from tests.support.testbed import Testbed

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

COUNT = 12


def gnocchi_client(bed: Testbed) -> Any:
    from gnocchiclient.v1 import client  # noqa: PLC0415 - optional client

    conn = bed.connect("testbed")
    return client.Client(session=conn.session, adapter_options={"region_name": "RegionOne"})


def test_seed_push_end_and_remove(testbed: Testbed) -> None:
    bed = testbed.need("gnocchi")
    gnocchi = gnocchi_client(bed)
    tag = f"t{uuid.uuid4().hex[:8]}"
    mine = {"=": {"user_id": None}}
    try:
        record = gnocchi_scale.seed(bed.bed, COUNT, tag, projects=3)
        mine = {"=": {"user_id": record["user_id"]}}
        assert record["created"] == 3 * COUNT
        assert len(set(record["projects"])) == 3
        found = gnocchi.resource.search(resource_type="instance", query=mine, limit=1000)
        assert sorted(r["display_name"] for r in found) == sorted(
            f"scale-{tag}-{n}" for n in range(COUNT)
        )
        assert {r["project_id"] for r in found} == set(record["projects"])
        disks = gnocchi.resource.search(resource_type="instance_disk", query=mine, limit=1000)
        assert sorted(d["original_resource_id"] for d in disks) == sorted(record["disks"])
        cpu = found[0]["metrics"]["cpu"]
        metric = gnocchi.metric.get(cpu)
        assert (metric["unit"], metric["archive_policy"]["name"]) == ("ns", "ceilometer-high-rate")
        stamp = datetime.datetime.fromisoformat(record["timestamp"])
        assert stamp.second == 0

        pushed = gnocchi_scale.push(bed.bed, record)
        later = datetime.datetime.fromisoformat(pushed["timestamp"])
        assert later >= stamp + datetime.timedelta(minutes=1)
        points = gnocchi.metric.get_measures(cpu, granularity=60, start=stamp.isoformat())
        assert [p[0] for p in points] == [stamp, later]
        assert points[1][2] > points[0][2]

        ended = gnocchi_scale.end(bed.bed, pushed, 2)
        assert ended == record["instances"][:2]
        for rid in ended:
            assert gnocchi.resource.get("instance", rid)["ended_at"]
            assert gnocchi.resource.get("instance_disk", f"{rid}-vda")["ended_at"]
    finally:
        removed = gnocchi_scale.remove(bed.bed, tag=tag)
    assert removed == {"deleted": 3 * COUNT}
    assert gnocchi.resource.search(resource_type="generic", query=mine) == []
    if "measures" in bed.bed.started_services():
        server = bed.info("measures")["server_id"]
        assert gnocchi.resource.get("instance", server)["id"] == server
