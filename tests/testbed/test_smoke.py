"""Smoke suite of the testbed: every service answers a real client as the ``testbed`` cloud.

One session-wide testbed (the whole OpenStack default set); each test reads one service
through openstacksdk, gnocchiclient or aodhclient, the way the exporter and the bridge will.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack import connection
from openstack import exceptions as os_exc

from testbed.__main__ import DEFAULT_SERVICES
from tests.support.testbed import Testbed, identity, poll

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

CATALOG_TYPES = {
    "identity",
    "image",
    "placement",
    "network",
    "compute",
    "block-storage",
    "metric",
    "alarming",
    "orchestration",
}


@pytest.fixture(scope="module")
def bed(testbed: Testbed) -> Testbed:
    return testbed.need(*DEFAULT_SERVICES)


@pytest.fixture(scope="module")
def cloud(bed: Testbed) -> Iterator[connection.Connection]:
    conn = bed.connect("testbed")
    yield conn
    conn.close()


def test_catalog_lists_every_service_in_one_region(cloud: connection.Connection) -> None:
    services = {s.id: s.type for s in identity(cloud).services()}
    assert set(services.values()) >= CATALOG_TYPES
    endpoints = list(identity(cloud).endpoints())
    assert {e.region_id for e in endpoints} == {"RegionOne"}
    for service_id, service_type in services.items():
        interfaces = sorted(e.interface for e in endpoints if e.service_id == service_id)
        assert interfaces == ["admin", "internal", "public"], service_type


def test_every_endpoint_answers(cloud: connection.Connection) -> None:
    """Each API root answers (version documents may be 200 or 300) from its catalog URL."""
    for endpoint in identity(cloud).endpoints(interface="public"):
        response = cloud.session.get(endpoint.url, authenticated=False, raise_exc=False)
        assert response.status_code in (200, 300, 401), (endpoint.url, response.status_code)


def test_compute_services_are_up(cloud: connection.Connection, bed: Testbed) -> None:
    host = bed.info("nova")["compute_host"]

    def states() -> dict[str, str] | None:
        found = {s.binary: s.state for s in cloud.compute.services()}
        wanted = {"nova-conductor", "nova-scheduler", "nova-compute"}
        return found if wanted <= set(found) and all(found[b] == "up" for b in wanted) else None

    poll("nova services up", states)
    compute = [s for s in cloud.compute.services() if s.binary == "nova-compute"]
    assert [s.host for s in compute] == [host]
    assert compute[0].status == "enabled"


def test_hypervisor_is_listed(cloud: connection.Connection, bed: Testbed) -> None:
    hypervisors = list(cloud.compute.hypervisors(details=True))
    assert len(hypervisors) == 1
    assert hypervisors[0].state == "up"
    assert hypervisors[0].name == bed.info("nova")["compute_host"]


def test_server_is_active(cloud: connection.Connection, bed: Testbed) -> None:
    info = bed.info("nova")
    server = cloud.compute.get_server(info["server_id"])
    assert server.status == "ACTIVE"
    assert server.name == info["server_name"]
    assert server.compute_host == info["compute_host"]
    assert server.image["id"] == bed.info("glance")["image_id"]


def test_cinder_services_are_up(cloud: connection.Connection) -> None:
    wanted = {"cinder-scheduler", "cinder-volume"}

    def binaries() -> set[str] | None:
        found = {s.binary for s in cloud.block_storage.services() if s.state == "up"}
        return found if wanted <= found else None

    assert poll("cinder services up", binaries) >= wanted


def test_volume_is_available(cloud: connection.Connection, bed: Testbed) -> None:
    volume = cloud.block_storage.get_volume(bed.info("cinder")["volume_id"])
    assert volume.status == "available"
    assert volume.size == 1


def test_image_is_active(cloud: connection.Connection, bed: Testbed) -> None:
    image = cloud.image.get_image(bed.info("glance")["image_id"])
    assert image.status == "active"
    assert image.name == "testbed-image"
    assert (image.size or 0) > 0


def test_network_and_subnet(cloud: connection.Connection, bed: Testbed) -> None:
    info = bed.info("neutron")
    network = cloud.network.get_network(info["network_id"])
    subnet = cloud.network.get_subnet(info["subnet_id"])
    assert subnet.network_id == network.id
    assert network.status == "ACTIVE"


def test_server_has_a_bound_port(cloud: connection.Connection, bed: Testbed) -> None:
    info = bed.info("nova")
    ports = list(cloud.network.ports(device_id=info["server_id"]))
    assert [p.id for p in ports] == [info["port_id"]]
    assert ports[0].binding_host_id == info["compute_host"]
    assert ports[0].binding_vif_type not in ("binding_failed", "unbound")


def test_neutron_agents_are_alive(cloud: connection.Connection, bed: Testbed) -> None:
    def agents() -> list[Any] | None:
        found = list(cloud.network.agents())
        return found if found and all(a.is_alive for a in found) else None

    found = poll("neutron agents alive", agents)
    hosts = {a.host for a in found}
    assert bed.info("nova")["compute_host"] in hosts


def test_gnocchi_has_measures_for_the_server(bed: Testbed, cloud: connection.Connection) -> None:
    from gnocchiclient.v1 import client as gnocchi_client  # noqa: PLC0415 - optional client

    gnocchi = gnocchi_client.Client(
        session=cloud.session, adapter_options={"region_name": "RegionOne"}
    )
    server_id = bed.info("nova")["server_id"]
    resource = gnocchi.resource.get("instance", server_id)
    assert resource["id"] == server_id
    assert resource["metrics"], "instance resource has no metrics"
    for name, metric_id in resource["metrics"].items():
        measures = gnocchi.metric.get_measures(metric_id, refresh=True)
        assert measures, f"no measures for {name}"


def test_measures_stay_live_and_keep_the_alarm_firing(
    bed: Testbed, cloud: connection.Connection
) -> None:
    """The feeder pushes a sample per interval: the newest ``cpu`` point advances within
    2.5 intervals, the counter never goes back, and the last three minutes still breach the
    Aodh alarm's threshold, which stays in ``alarm``."""
    from aodhclient.v2 import client as aodh_client  # noqa: PLC0415 - optional client
    from gnocchiclient.v1 import client as gnocchi_client  # noqa: PLC0415

    gnocchi = gnocchi_client.Client(
        session=cloud.session, adapter_options={"region_name": "RegionOne"}
    )
    info = bed.info("measures")
    interval = int(info["interval"])
    cpu = gnocchi.resource.get("instance", info["server_id"])["metrics"]["cpu"]

    def points() -> list[tuple[datetime.datetime, float, float]]:
        since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=30)
        found: list[tuple[datetime.datetime, float, float]] = gnocchi.metric.get_measures(
            cpu, granularity=1, start=since.isoformat(), refresh=True
        )
        return found

    first = points()[-1][0]
    newer = poll(
        "a newer cpu sample",
        lambda: [p for p in points() if p[0] > first],
        timeout=2.5 * interval,
        interval=1,
    )
    values = [value for _, _, value in points()]
    assert values == sorted(values), "the cpu counter went back"
    state = json.loads(Path(info["state_file"]).read_text())
    assert state["interval"] == interval
    assert datetime.datetime.fromisoformat(state["last_sample"]) >= newer[-1][0]

    rule = bed.info("aodh")["rule"]
    rates = gnocchi.metric.get_measures(cpu, aggregation="rate:mean", granularity=60, refresh=True)
    assert [r[2] > rule["threshold"] for r in rates[-3:]] == [True] * 3, rates[-3:]
    aodh = aodh_client.Client(session=cloud.session)
    assert aodh.alarm.get(bed.info("aodh")["alarm_id"])["state"] == "alarm"


def test_aodh_alarm_fires_its_webhook(bed: Testbed, cloud: connection.Connection) -> None:
    from aodhclient.v2 import client as aodh_client  # noqa: PLC0415 - optional client

    aodh = aodh_client.Client(session=cloud.session)
    info = bed.info("aodh")
    alarm = aodh.alarm.get(info["alarm_id"])
    assert alarm["type"] == "gnocchi_resources_threshold"
    sink = Path(bed.info("alarm_sink")["file"])

    def fired() -> list[dict[str, Any]] | None:
        if not sink.exists():
            return None
        posts = [json.loads(line) for line in sink.read_text().splitlines() if line.strip()]
        hits = [p for p in posts if (p.get("body") or {}).get("alarm_id") == info["alarm_id"]]
        return hits or None

    hits = poll("alarm webhook in the sink", fired, timeout=120)
    body = hits[-1]["body"]
    assert set(body) >= {"alarm_name", "alarm_id", "severity", "previous", "current", "reason"}
    assert body["current"] == "alarm"
    assert aodh.alarm.get(info["alarm_id"])["state"] == "alarm"


def test_heat_lists_stacks_and_its_engine(cloud: connection.Connection) -> None:
    """Stacks through the SDK; the engines through ``GET /services`` (no SDK resource)."""
    assert isinstance(list(cloud.orchestration.stacks()), list)
    response = cloud.orchestration.get("/services")
    assert response.status_code == 200
    engines = response.json()["services"]
    assert {e["binary"] for e in engines} == {"heat-engine"}
    assert "up" in {e["status"] for e in engines}


def test_demo_cloud_is_not_admin(bed: Testbed) -> None:
    demo = bed.connect("testbed-demo")
    try:
        assert list(demo.compute.servers()) == []
        with pytest.raises(os_exc.ForbiddenException):
            list(demo.compute.services())
    finally:
        demo.close()


def test_no_credential_reaches_a_log(bed: Testbed) -> None:
    """Every log of every process and command, against every credential of the testbed."""
    state = json.loads((bed.bed.root / "state.json").read_text())
    secrets = [s for s in state["secrets"].values() if len(s) >= 8]
    assert secrets
    leaks = [
        f"{log.name}: {secret[:3]}..."
        for log in sorted(bed.bed.logs.iterdir())
        for secret in secrets
        if secret in log.read_text(errors="replace")
    ]
    assert leaks == []
