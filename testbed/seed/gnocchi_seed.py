"""Give Gnocchi what ``ceilometer-upgrade`` would: Ceilometer's archive policies and resource
types, so resources and metrics look as they do in a cloud where Ceilometer publishes.

The definitions are Ceilometer's (``gnocchi_resources.yaml`` for the policies, its Gnocchi
client's initial types plus every later update for the types). Existing objects are kept.
Prints ``{"archive_policies": [...], "resource_types": [...]}`` as JSON.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from gnocchiclient import client, exceptions  # type: ignore[import-untyped,import-not-found,unused-ignore]
from os_session import adapter_options, session  # type: ignore[import-not-found,unused-ignore]

HIGH = [
    {"granularity": "1 second", "timespan": "1 hour"},
    {"granularity": "1 minute", "timespan": "1 day"},
    {"granularity": "1 hour", "timespan": "365 days"},
]
LOW = [{"granularity": "5 minutes", "timespan": "30 days"}]
ARCHIVE_POLICIES: dict[str, tuple[list[str], list[dict[str, str]]]] = {
    "ceilometer-low": (["mean"], LOW),
    "ceilometer-low-rate": (["mean", "rate:mean"], LOW),
    "ceilometer-high": (["mean"], HIGH),
    "ceilometer-high-rate": (["mean", "rate:mean"], HIGH),
}


def text(*, required: bool, max_length: int = 255) -> dict[str, Any]:
    return {"type": "string", "min_length": 0, "max_length": max_length, "required": required}


def uuid(*, required: bool) -> dict[str, Any]:
    return {"type": "uuid", "required": required}


def when() -> dict[str, Any]:
    return {"type": "datetime", "required": False}


def host_named(**extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"host_name": text(required=True), **extra}


CONTROLLER = {"controller": text(required=True)}
RESOURCE_TYPES: dict[str, dict[str, dict[str, Any]]] = {
    "image": {
        "name": text(required=True),
        "container_format": text(required=True),
        "disk_format": text(required=True),
    },
    "instance": {
        "flavor_id": text(required=True),
        "flavor_name": text(required=True),
        "image_ref": text(required=False),
        "host": text(required=True),
        "display_name": text(required=True),
        "server_group": text(required=False),
        "availability_zone": text(required=False),
        "launched_at": when(),
        "created_at": when(),
        "deleted_at": when(),
    },
    "instance_disk": {"name": text(required=True), "instance_id": uuid(required=True)},
    "instance_network_interface": {
        "name": text(required=True),
        "instance_id": uuid(required=True),
    },
    "volume": {
        "display_name": text(required=False),
        "volume_type": text(required=False),
        "image_id": uuid(required=False),
        "instance_id": uuid(required=False),
    },
    "swift_account": {},
    "ceph_account": {},
    "network": {},
    "identity": {},
    "ipmi": {},
    "stack": {},
    "host": host_named(),
    "host_network_interface": host_named(device_name=text(required=False)),
    "host_disk": host_named(device_name=text(required=False)),
    "nova_compute": host_named(),
    "manila_share": {
        "name": text(required=False),
        "host": text(required=True),
        "protocol": text(required=False),
        "availability_zone": text(required=False),
        "status": text(required=True),
    },
    "switch": CONTROLLER,
    "switch_port": {
        "switch": text(required=True, max_length=64),
        "port_number_on_switch": {"type": "number", "min": 0, "max": 4294967295, "required": False},
        "neutron_port_id": text(required=False),
        **CONTROLLER,
    },
    "port": CONTROLLER,
    "switch_table": {"switch": text(required=True, max_length=64), **CONTROLLER},
    "volume_provider": {},
    "volume_provider_pool": {"provider": text(required=True)},
    "ipmi_sensor": {"node": text(required=True)},
    "loadbalancer": {},
}


def main() -> None:
    gnocchi: Any = client.Client("1", session=session(), adapter_options=adapter_options())
    policies = {p["name"] for p in gnocchi.archive_policy.list()}
    for name, (methods, definition) in ARCHIVE_POLICIES.items():
        if name in policies:
            continue
        policy = {
            "name": name,
            "aggregation_methods": methods,
            "back_window": 0,
            "definition": definition,
        }
        with contextlib.suppress(exceptions.ArchivePolicyAlreadyExists):
            gnocchi.archive_policy.create(policy)
        policies.add(name)
    types = {t["name"] for t in gnocchi.resource_type.list()}
    for name, attributes in RESOURCE_TYPES.items():
        if name in types:
            continue
        with contextlib.suppress(exceptions.ResourceTypeAlreadyExists):
            gnocchi.resource_type.create({"name": name, "attributes": attributes})
        types.add(name)
    print(
        json.dumps(
            {
                "archive_policies": sorted(set(ARCHIVE_POLICIES) & policies),
                "resource_types": sorted(set(RESOURCE_TYPES) & types),
            }
        )
    )


if __name__ == "__main__":
    main()
