"""The Nova server's resources in Gnocchi, as Ceilometer's compute agent creates them.

Resources and ids follow Ceilometer: ``instance`` = the server id, ``instance_disk`` =
``<server>-vda``, ``instance_network_interface`` = ``<instance name>-<server>-tap<port
id[:11]>``. Server details (flavor, image, owner, instance name) come from the Nova API when
the catalog has one, else from Nova's testbed record.
"""

from __future__ import annotations

import datetime
import sys
import time
from typing import Any

from gnocchiclient import exceptions  # type: ignore[import-untyped,import-not-found,unused-ignore]
from keystoneauth1 import exceptions as ks_exceptions  # type: ignore[import-untyped,import-not-found,unused-ignore]
from measures_series import FALLBACK_FLAVOR, Series, series_by_type  # type: ignore[import-not-found,unused-ignore]
from os_session import adapter_options  # type: ignore[import-not-found,unused-ignore]

GRANULARITY = 60
AGGREGATION_TIMEOUT = 120

Point = tuple[datetime.datetime, float]
Plan = list[tuple[str, dict[str, Any], dict[str, Series]]]


def nova_details(
    sess: Any, server_id: str, flavor_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The server and its flavor from Nova, or ({}, fallback flavor) without a compute API."""
    where = {"service_type": "compute", **adapter_options()}
    try:
        server = sess.get(f"/servers/{server_id}", endpoint_filter=where).json()["server"]
        flavor = sess.get(f"/flavors/{flavor_id}", endpoint_filter=where).json()["flavor"]
    except ks_exceptions.EndpointNotFound:
        print("no compute endpoint in the catalog: using Nova's testbed record", file=sys.stderr)
        return {}, dict(FALLBACK_FLAVOR, name="testbed")
    return server, flavor


def plan(sess: Any, nova: dict[str, Any]) -> tuple[Plan, dict[str, Any]]:
    """The resources Ceilometer would create for this server, and the server's flavor."""
    server_id = nova["server_id"]
    server, flavor = nova_details(sess, server_id, nova["flavor_id"])
    series = series_by_type(flavor)
    image = server.get("image")
    owner = {
        "project_id": server.get("tenant_id") or sess.get_project_id(),
        "user_id": server.get("user_id") or sess.get_user_id(),
    }
    instance: dict[str, Any] = {
        "id": server_id,
        **owner,
        "display_name": server.get("name") or nova.get("server_name") or server_id,
        "host": server.get("OS-EXT-SRV-ATTR:host") or nova.get("compute_host") or "",
        "flavor_id": nova["flavor_id"],
        "flavor_name": flavor.get("name", ""),
        "image_ref": image.get("id", "") if isinstance(image, dict) else "",
        "availability_zone": server.get("OS-EXT-AZ:availability_zone") or "nova",
    }
    for attribute, key in (("launched_at", "OS-SRV-USG:launched_at"), ("created_at", "created")):
        if server.get(key):
            instance[attribute] = server[key]
    disk = {"id": f"{server_id}-vda", **owner, "name": "vda", "instance_id": server_id}
    resources: Plan = [
        ("instance", instance, series["instance"]),
        ("instance_disk", disk, series["instance_disk"]),
    ]
    if nova.get("port_id"):
        vnic = f"tap{nova['port_id'][:11]}"
        libvirt_name = server.get("OS-EXT-SRV-ATTR:instance_name") or "instance-00000001"
        interface = {
            "id": f"{libvirt_name}-{server_id}-{vnic}",
            **owner,
            "name": vnic,
            "instance_id": server_id,
        }
        resources.append(
            ("instance_network_interface", interface, series["instance_network_interface"])
        )
    return resources, flavor


def ensure_resource(
    gnocchi: Any, kind: str, body: dict[str, Any], series: dict[str, Series]
) -> tuple[dict[str, Any], bool]:
    """Create the resource with its metrics, or bring an existing one up to date.

    Returns the resource as Gnocchi has it and whether it existed. (Its ``id`` differs from
    ``original_resource_id`` for a non-UUID id such as ``<server>-vda``: the mapping depends
    on the creator, so other users must use Gnocchi's.)
    """
    metrics = {name: serie.spec() for name, serie in series.items()}
    try:
        return gnocchi.resource.create(kind, {**body, "metrics": metrics}), False
    except exceptions.ResourceAlreadyExists:
        pass
    fixed = ("id", "project_id", "user_id")
    gnocchi.resource.update(kind, body["id"], {k: v for k, v in body.items() if k not in fixed})
    found = gnocchi.resource.get(kind, body["id"])
    for name, spec in metrics.items():
        if name not in found["metrics"]:
            created = gnocchi.metric.create(name=name, resource_id=body["id"], **spec)
            found["metrics"][name] = created["id"]
    return found, True


def last_points(gnocchi: Any, metric_ids: dict[str, str]) -> dict[str, Point]:
    """Each metric's newest stored sample, one aggregates call per granularity: the 1 s
    mean (kept an hour), else the 1 min one (kept a day)."""
    now = datetime.datetime.now(datetime.UTC)
    found: dict[str, Point] = {}
    for granularity, span in ((1, 3600), (60, 86400)):
        missing = {name: mid for name, mid in metric_ids.items() if name not in found}
        if not missing:
            break
        answer = gnocchi.aggregates.fetch(
            ["metric", *([mid, "mean"] for mid in missing.values())],
            granularity=granularity,
            start=(now - datetime.timedelta(seconds=span)).isoformat(),
            needed_overlap=0,
        )
        for name, mid in missing.items():
            points = answer["measures"].get(mid, {}).get("mean", [])
            if points:
                found[name] = points[-1][0], float(points[-1][2])
    return found


def wait_aggregated(gnocchi: Any, newest: dict[str, dict[str, datetime.datetime]]) -> float:
    """Until every metric has a one-minute mean for the minute of its newest new sample
    (``newest``: resource id, then metric name); returns the seconds waited."""
    pending = [
        (resource, metric, stamp.replace(second=0))
        for resource, metrics in newest.items()
        for metric, stamp in metrics.items()
    ]
    began = time.monotonic()
    while pending:
        if time.monotonic() - began > AGGREGATION_TIMEOUT:
            raise SystemExit(f"metricd did not aggregate {len(pending)} metrics: {pending[:3]}")
        resource, metric, bucket = pending[0]
        points = gnocchi.metric.get_measures(
            metric, resource_id=resource, granularity=GRANULARITY, start=bucket.isoformat()
        )
        if points and points[-1][0] >= bucket:
            pending.pop(0)
        else:
            time.sleep(0.5)
    return time.monotonic() - began
