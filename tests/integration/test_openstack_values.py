"""The openstack collector's values against openstacksdk's own answers, on the testbed.

The health and inventory collectors are built through the plug-in, as the exporter builds
them, and run in this process; each family is compared with what openstacksdk returns for the
same cloud in the same test. The testbed is shared, so a comparison that differs is retried a
few times before it fails (another test may have changed the cloud in between). The last test
runs the real process on two clouds, one of them without the admin role.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack import connection

from exporter.collectors.base import Collector
from exporter.collectors.openstack.inventory.nova import SERVER_STATUS
from exporter.collectors.openstack.plugin import PLUGIN
from exporter.config import Flags, build_config
from exporter.exposition import render
from tests.support.exporter import run_exporter
from tests.support.metrics import Samples, parse_samples
from tests.support.promtool import OPENSTACK_EXPORTER_NAMES, promtool_complaints
from tests.support.testbed import Testbed, identity

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

SERVICES = ("nova", "neutron", "cinder", "glance", "placement", "heat", "server")
BASE = {"cloud": "testbed", "region": "RegionOne"}
ATTEMPTS = 5

Expected = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def bed(testbed: Testbed) -> Testbed:
    return testbed.need(*SERVICES)


@pytest.fixture(scope="module")
def sdk(bed: Testbed) -> Iterator[connection.Connection]:
    conn = bed.connect("testbed")
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def collectors(bed: Testbed) -> Iterator[dict[str, Collector]]:
    """The health and inventory collectors of the ``testbed`` cloud, by kind."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OS_CLIENT_CONFIG_FILE", str(bed.clouds_yaml))
        env.delenv("OS_CLOUD", raising=False)
        config = build_config(
            Flags(options={"os_cloud": "testbed"}, collectors={"openstack": True, "libvirt": False})
        )
        specs = PLUGIN.runners(config.of(PLUGIN))
        by_kind = {spec.collector.name.rsplit(":", 1)[1]: spec.collector for spec in specs}
        assert sorted(by_kind) == ["health", "inventory"]
        yield by_kind
        for collector in by_kind.values():
            collector.close()


def _cycle(collector: Collector) -> Samples:
    collection = collector.collect()
    assert collection.error is None, collection.error
    samples = parse_samples(render(collection.families).decode())
    for name, labels in samples:
        assert set(BASE.items()) <= labels, f"{name} lacks the cloud labels: {dict(labels)}"
    return samples


def _series(family: str, value: float, /, **labels: Any) -> Expected:
    text = {k: "" if v is None else str(v) for k, v in labels.items()}
    return {(family, frozenset({**BASE, **text}.items())): float(value)}


def _only(samples: Samples, names: set[str]) -> Expected:
    return {key: value for key, value in samples.items() if key[0] in names}


def _agrees(collector: Collector, expect: Callable[[], Expected]) -> Samples:
    """Run a cycle and compare its families (those ``expect`` names) with ``expect()``,
    read right after; retried while the shared testbed moves under the comparison."""
    for attempt in range(ATTEMPTS):
        samples = _cycle(collector)
        want = expect()
        names = {name for name, _ in want}
        got = _only(samples, names)
        if got == want or attempt == ATTEMPTS - 1:
            break
        time.sleep(3)
    missing = {k: v for k, v in want.items() if got.get(k) != v}
    extra = {k: v for k, v in got.items() if k not in want}
    assert got == want, f"differs from openstacksdk: want {missing}\nnot expected {extra}"
    return samples


def _service_states(family: str, services: Any, with_id: bool) -> Expected:
    """Nova's and Cinder's os-services as openstack-exporter shows them (Cinder: no id)."""
    out: Expected = {}
    for svc in services:
        ident = {"id": svc.id} if with_id else {}
        out |= _series(
            family,
            svc.state == "up",
            **ident,
            hostname=svc.host,
            service=svc.binary,
            adminState=svc.status,
            zone=svc.availability_zone,
            disabledReason=svc.disabled_reason,
        )
    return out


def test_nova_services(collectors: dict[str, Collector], sdk: connection.Connection) -> None:
    def expect() -> Expected:
        out = _service_states("openstack_nova_agent_state", sdk.compute.services(), True)
        assert len(out) >= 3  # conductor, scheduler, compute
        return out

    _agrees(collectors["health"], expect)


def test_neutron_agents(collectors: dict[str, Collector], sdk: connection.Connection) -> None:
    def expect() -> Expected:
        out: Expected = {}
        for agent in sdk.network.agents():
            out |= _series(
                "openstack_neutron_agent_state",
                bool(agent.is_alive),
                id=agent.id,
                hostname=agent.host,
                service=agent.binary,
                adminState="up" if agent.is_admin_state_up else "down",
                availability_zone=agent.availability_zone,
            )
        assert out
        return out

    _agrees(collectors["health"], expect)


def test_cinder_services_have_no_uuid(
    collectors: dict[str, Collector], sdk: connection.Connection
) -> None:
    def expect() -> Expected:
        out = _service_states("openstack_cinder_agent_state", sdk.block_storage.services(), False)
        assert len(out) >= 2  # scheduler, volume
        return out

    _agrees(collectors["health"], expect)


def test_heat_engines(collectors: dict[str, Collector], sdk: connection.Connection) -> None:
    def expect() -> Expected:
        engines = sdk.orchestration.get("/services").json()["services"]
        out = _series("openstack_heat_engines_up", sum(e["status"] == "up" for e in engines))
        for engine in engines:
            out |= _series(
                "openstack_heat_agent_state",
                engine["status"] == "up",
                id=engine["id"],
                hostname=engine["host"],
                service=engine["binary"],
                engine_id=engine["engine_id"],
            )
        return out

    _agrees(collectors["health"], expect)


def test_placement_inventories_and_usages(
    collectors: dict[str, Collector], sdk: connection.Connection
) -> None:
    def expect() -> Expected:
        out: Expected = {}
        for rp in sdk.placement.resource_providers():
            for inv in sdk.placement.resource_provider_inventories(rp):
                where = {"hostname": rp.name, "resourcetype": inv.resource_class}
                out |= _series("openstack_placement_resource_total", inv.total, **where)
                out |= _series(
                    "openstack_placement_resource_allocation_ratio", inv.allocation_ratio, **where
                )
                out |= _series("openstack_placement_resource_reserved", inv.reserved, **where)
            usages = sdk.placement.fetch_resource_provider_usages(rp).usages or {}
            for klass, used in usages.items():
                out |= _series(
                    "openstack_placement_resource_usage", used, hostname=rp.name, resourcetype=klass
                )
        assert any(name == "openstack_placement_resource_usage" for name, _ in out)
        return out

    _agrees(collectors["health"], expect)


def test_every_service_is_up_and_every_check_passes(
    collectors: dict[str, Collector],
) -> None:
    def expect() -> Expected:
        out: Expected = {}
        for name in ("nova", "neutron", "cinder", "glance", "identity", "placement", "heat"):
            out |= _series(f"openstack_{name}_up", 1)
        return out

    samples = _agrees(collectors["health"], expect)
    checks = _only(samples, {"openstack_api_check_success"})
    assert len(checks) == 7
    assert set(checks.values()) == {1.0}, checks
    probes = _only(samples, {"openstack_api_probe_up"})
    assert probes
    assert set(probes.values()) == {1.0}, probes


def test_counts(collectors: dict[str, Collector], sdk: connection.Connection) -> None:
    def count(items: Any) -> int:
        return sum(1 for _ in items)

    def expect() -> Expected:
        counts = {
            "openstack_nova_total_vms": count(sdk.compute.servers(all_projects=True)),
            "openstack_nova_flavors": count(sdk.compute.flavors(is_public=None)),
            "openstack_cinder_volumes": count(sdk.block_storage.volumes(all_projects=True)),
            "openstack_cinder_snapshots": count(sdk.block_storage.snapshots(all_projects=True)),
            "openstack_glance_images": count(sdk.image.images()),
            "openstack_neutron_networks": count(sdk.network.networks()),
            "openstack_neutron_subnets": count(sdk.network.subnets()),
            "openstack_neutron_ports": count(sdk.network.ports()),
            "openstack_neutron_security_groups": count(sdk.network.security_groups()),
            "openstack_identity_projects": count(identity(sdk).projects()),
            "openstack_identity_domains": count(identity(sdk).domains()),
            "openstack_identity_users": count(identity(sdk).users()),
            "openstack_identity_groups": count(identity(sdk).groups()),
            "openstack_identity_regions": count(identity(sdk).regions()),
        }
        assert counts["openstack_nova_total_vms"] >= 1
        assert counts["openstack_identity_projects"] >= 3
        out: Expected = {}
        for name, n in counts.items():
            out |= _series(name, n)
        return out

    samples = _agrees(collectors["inventory"], expect)
    parts = _only(samples, {"openstack_exporter_inventory_part_success"})
    assert set(parts.values()) == {1.0}, parts


def test_server_status(
    collectors: dict[str, Collector], sdk: connection.Connection, bed: Testbed
) -> None:
    flavors = {f.name: f.id for f in sdk.compute.flavors(is_public=None)}

    def expect() -> Expected:
        out: Expected = {}
        for srv in sdk.compute.servers(details=True, all_projects=True):
            out |= _series(
                "openstack_nova_server_status",
                SERVER_STATUS.get(srv.status, -1),
                id=srv.id,
                status=srv.status,
                name=srv.name,
                tenant_id=srv.project_id,
                user_id=srv.user_id,
                address_ipv4=srv.access_ipv4,
                address_ipv6=srv.access_ipv6,
                host_id=srv.host_id,
                hypervisor_hostname=srv.hypervisor_hostname,
                uuid=srv.id,
                availability_zone=srv.availability_zone,
                flavor_id=flavors.get(srv.flavor.original_name or srv.flavor.name, ""),
                instance_libvirt=srv.instance_name,
            )
        return out

    samples = _agrees(collectors["inventory"], expect)
    nova = bed.info("nova")
    (labels,) = [
        dict(labels)
        for (name, labels) in _only(samples, {"openstack_nova_server_status"})
        if dict(labels)["id"] == nova["server_id"]
    ]
    value = samples[("openstack_nova_server_status", frozenset(labels.items()))]
    assert (labels["status"], value) == ("ACTIVE", 0.0)
    assert labels["hypervisor_hostname"] == nova["compute_host"]
    assert labels["flavor_id"] == nova["flavor_id"]
    assert re.fullmatch(r"instance-[0-9a-f]{8}", labels["instance_libvirt"]), labels


def test_limits_of_each_project(
    collectors: dict[str, Collector], sdk: connection.Connection
) -> None:
    def expect() -> Expected:
        out: Expected = {}
        for project in identity(sdk).projects():
            who = {"tenant": project.name, "tenant_id": project.id}
            nova = sdk.compute.get_limits(tenant_id=project.id).absolute
            for kind, limit, used in (
                ("vcpus", nova.total_cores, nova.total_cores_used),
                ("memory", nova.total_ram, nova.total_ram_used),
                ("instances", nova.instances, nova.instances_used),
            ):
                out |= _series(f"openstack_nova_limits_{kind}_max", limit, **who)
                out |= _series(f"openstack_nova_limits_{kind}_used", used, **who)
            quota = sdk.block_storage.get_quota_set(project.id, usage=True)
            usage = quota.usage or {}
            for kind, key in (("volume", "gigabytes"), ("backup", "backup_gigabytes")):
                out |= _series(f"openstack_cinder_limits_{kind}_max_gb", quota[key], **who)
                out |= _series(f"openstack_cinder_limits_{kind}_used_gb", usage[key], **who)
        return out

    _agrees(collectors["inventory"], expect)


def test_two_clouds_in_one_process(bed: Testbed, tmp_path: Path) -> None:
    """Both clouds' series under one HELP/TYPE per family; the non-admin cloud's admin-only
    checks fail with a 403 reason and cost the admin cloud nothing."""
    config = tmp_path / "exporter.yml"
    config.write_text(
        "collectors:\n"
        "  libvirt: {enabled: false}\n"
        "  openstack:\n"
        "    enabled: true\n"
        "    clouds: [{cloud: testbed}, {cloud: testbed-demo}]\n"
    )
    env = {"OS_CLIENT_CONFIG_FILE": str(bed.clouds_yaml)}
    # Not /readyz: it waits for every cycle to succeed, and the demo cloud's inventory never does.
    with run_exporter(["--config.file", str(config)], ready=False, env=env) as exporter:
        for cloud in ("testbed", "testbed-demo"):
            for family in ("openstack_nova_up", "openstack_exporter_inventory_part_success"):
                exporter.wait_for(f'{family}{{cloud="{cloud}"', timeout=90)
        body = exporter.metrics()
        logs = exporter.logs()
    helps = re.findall(r"^# HELP (\S+) ", body, re.MULTILINE)
    assert len(helps) == len(set(helps)), sorted(h for h in helps if helps.count(h) > 1)
    assert promtool_complaints(body, OPENSTACK_EXPORTER_NAMES) == []

    samples = parse_samples(body)
    admin = {"cloud": "testbed", "region": "RegionOne"}
    demo = {"cloud": "testbed-demo", "region": "RegionOne"}

    def value(name: str, where: dict[str, str], **labels: str) -> float:
        return samples[(name, frozenset({**where, **labels}.items()))]

    for name in ("nova", "neutron", "cinder", "glance", "identity", "placement", "heat"):
        assert value(f"openstack_{name}_up", admin) == 1.0, name
    # A 403 is a policy answer from a working API: the demo cloud's services are up too.
    for name in ("nova", "neutron", "cinder", "glance", "identity", "placement", "heat"):
        assert value(f"openstack_{name}_up", demo) == 1.0, name
    for service, check in (
        ("nova", "nova_services"),
        ("cinder", "cinder_services"),
        ("heat", "heat_engines"),
        ("placement", "placement"),
    ):
        assert value("openstack_api_check_success", demo, service=service, check=check) == 0.0
        assert value("openstack_api_check_success", admin, service=service, check=check) == 1.0
        assert re.search(
            rf'cloud=testbed-demo check={check} error="403 forbidden: needs the admin or reader '
            'role"',
            logs,
        ), logs
    for kind in ("health", "inventory"):
        assert (
            value("openstack_exporter_collector_success", {}, collector=f"openstack:testbed:{kind}")
            == 1.0
        )
    # Both clouds' agents are in one family: the demo cloud has none to show (403).
    agents = _only(samples, {"openstack_nova_agent_state"})
    assert {dict(labels)["cloud"] for _, labels in agents} == {"testbed"}
    assert "Traceback" not in logs
