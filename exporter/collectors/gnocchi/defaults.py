"""What the collector reads when the configuration does not say: Ceilometer's meters on its
resource types, as its ``gnocchi_resources.yaml`` maps them (2026.1), with their units and
whether a meter is cumulative.

A type or meter this Gnocchi lacks costs nothing: discovery skips it. Cumulative meters are
read as their raw ``mean`` and exported as counters, so Prometheus' ``rate()`` applies.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Meter:
    """A Ceilometer meter: its unit in Gnocchi and whether it only ever grows."""

    unit: str
    cumulative: bool = False


C, G = True, False


def _meters(unit: str, cumulative: bool, *names: str) -> dict[str, Meter]:
    return {name: Meter(unit, cumulative) for name in names}


INSTANCE = {
    "cpu": Meter("ns", C),
    "vcpus": Meter("vcpu"),
    **_meters("MB", G, "memory", "memory.usage", "memory.resident", "memory.available"),
    **_meters("MB", C, "memory.swap.in", "memory.swap.out"),
    "power.state": Meter("state"),
    **_meters("GB", G, "disk.root.size", "disk.ephemeral.size"),
    "compute.instance.booting.time": Meter("sec"),
    **_meters("B", G, "disk.capacity", "disk.allocation", "disk.usage"),
    **_meters("", G, "perf.cpu.cycles", "perf.instructions"),
    **_meters("", G, "perf.cache.references", "perf.cache.misses"),
}
INSTANCE_DISK = {
    **_meters("B", C, "disk.device.read.bytes", "disk.device.write.bytes"),
    **_meters("request", C, "disk.device.read.requests", "disk.device.write.requests"),
    **_meters("ns", C, "disk.device.read.latency", "disk.device.write.latency"),
    **_meters("B", G, "disk.device.capacity", "disk.device.allocation", "disk.device.usage"),
}
INSTANCE_NETWORK_INTERFACE = {
    **_meters("B", C, "network.incoming.bytes", "network.outgoing.bytes"),
    **_meters("packet", C, "network.incoming.packets", "network.outgoing.packets"),
    **_meters("packet", C, "network.incoming.packets.drop", "network.outgoing.packets.drop"),
    **_meters("packet", C, "network.incoming.packets.error", "network.outgoing.packets.error"),
}
VOLUME = {
    "volume": Meter("volume"),
    **_meters("GB", G, "volume.size", "snapshot.size", "volume.snapshot.size"),
    **_meters("GB", G, "volume.backup.size", "backup.size"),
}
IMAGE = {"image.size": Meter("B")}
RESOURCE_TYPES: dict[str, dict[str, Meter]] = {
    "instance": INSTANCE,
    "instance_disk": INSTANCE_DISK,
    "instance_network_interface": INSTANCE_NETWORK_INTERFACE,
    "volume": VOLUME,
    "image": IMAGE,
    "network": {"ip.floating": Meter("ip")},
    "swift_account": {
        **_meters("B", G, "storage.objects.incoming.bytes", "storage.objects.outgoing.bytes"),
        **_meters("B", G, "storage.objects.size", "storage.containers.objects.size"),
        **_meters("object", G, "storage.objects", "storage.containers.objects"),
        "storage.objects.containers": Meter("container"),
    },
    "ceph_account": {
        **_meters("object", G, "radosgw.objects", "radosgw.containers.objects"),
        **_meters("B", G, "radosgw.objects.size", "radosgw.containers.objects.size"),
        "radosgw.objects.containers": Meter("container"),
        "radosgw.api.request": Meter("request"),
    },
    "volume_provider": _meters(
        "GB",
        G,
        *(
            f"volume.provider.capacity.{kind}"
            for kind in ("total", "free", "allocated", "provisioned", "virtual_free")
        ),
    ),
    "volume_provider_pool": _meters(
        "GB",
        G,
        *(
            f"volume.provider.pool.capacity.{kind}"
            for kind in ("total", "free", "allocated", "provisioned", "virtual_free")
        ),
    ),
    "nova_compute": {
        "compute.node.cpu.frequency": Meter("MHz"),
        **_meters(
            "percent",
            G,
            *(f"compute.node.cpu.{kind}.percent" for kind in ("idle", "iowait", "kernel", "user")),
        ),
        "compute.node.cpu.percent": Meter("percent"),
        **_meters(
            "ns",
            C,
            *(f"compute.node.cpu.{kind}.time" for kind in ("idle", "iowait", "kernel", "user")),
        ),
    },
    "manila_share": {"manila.share.size": Meter("GB"), "manila.share.status": Meter("status")},
    "loadbalancer": {
        "loadbalancer.operating": Meter("status"),
        "loadbalancer.provisioning": Meter("status"),
    },
    "volume_service": {"volume.service.health": Meter("status")},
    "dns_zone": {
        "dns.zone.status": Meter("status"),
        "dns.zone.recordsets": Meter("recordset"),
        "dns.zone.ttl": Meter("s"),
        "dns.zone.serial": Meter("serial"),
    },
    "ipmi": {
        "hardware.ipmi.node.power": Meter("W"),
        **_meters(
            "C",
            G,
            *(
                f"hardware.ipmi.node.{kind}"
                for kind in ("temperature", "inlet_temperature", "outlet_temperature")
            ),
        ),
        "hardware.ipmi.node.fan": Meter("RPM"),
        "hardware.ipmi.node.current": Meter("A"),
        "hardware.ipmi.node.voltage": Meter("V"),
        "hardware.ipmi.node.airflow": Meter("CFM"),
        "hardware.ipmi.node.cups": Meter("CUPS"),
        **_meters("%", G, *(f"hardware.ipmi.node.{kind}_util" for kind in ("cpu", "mem", "io"))),
    },
    "ipmi_sensor": {
        "hardware.ipmi.power": Meter("W"),
        "hardware.ipmi.temperature": Meter("C"),
        "hardware.ipmi.current": Meter("A"),
        "hardware.ipmi.voltage": Meter("V"),
        "hardware.ipmi.fan": Meter("RPM"),
    },
}
"""Ceilometer's ``delta`` meters (identity and stack notifications, ``image.download``,
``image.serve``, ``bandwidth``) count per event: a latest point says nothing a dashboard can
use, so they are left out of the defaults."""

# Attributes a dashboard needs beyond project, user, type and id, as label -> attribute.
# ``instance_id`` on an instance is its own id, so every instance-related series joins the
# libvirt and Nova series with a plain ``on(instance_id)``.
LABELS: dict[str, dict[str, str]] = {
    "instance": {"instance_id": "id"},
    "instance_disk": {"instance_id": "instance_id", "device": "name"},
    "instance_network_interface": {"instance_id": "instance_id", "device": "name"},
    "volume": {"instance_id": "instance_id", "volume_type": "volume_type"},
    "volume_provider_pool": {"provider": "provider"},
    "ipmi_sensor": {"node": "node"},
    "nova_compute": {"host": "host_name"},
}
