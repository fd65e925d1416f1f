"""Put the Nova server into Gnocchi as Ceilometer's compute agent would, with ten minutes of
one-minute samples ending now (a later run on the same data adds only the minutes since the
last sample), and wait until gnocchi-metricd has aggregated them.

Argument: Nova's testbed record as JSON (server_id, server_name, flavor_id, compute_host,
port_id). Server details (flavor, image, owner, instance name) come from the Nova API when
the catalog has one. Resources and ids follow Ceilometer: ``instance`` = the server id,
``instance_disk`` = ``<server>-vda``, ``instance_network_interface`` =
``<instance name>-<server>-tap<port id[:11]>``. Counters use Ceilometer's ``-rate`` archive
policies, gauges the plain ones, in their one-second/minute/hour variants.

The load story (what an alarm on it means): for the first five minutes the server idles at
about 15 % CPU; for the last five it runs at about 90 % of its vCPUs with heavy disk and
network traffic. A ``cpu`` rate:mean alarm at 60 s granularity over 80 % of the vCPUs
(``0.8 * vcpus * 60e9`` ns per minute) therefore fires on the last minutes.
Prints resource ids, metric names and the flavor's vCPUs as JSON.
"""

from __future__ import annotations

import datetime
import json
import random
import sys
import time
from typing import Any

from gnocchiclient import client, exceptions  # type: ignore[import-untyped,import-not-found,unused-ignore]
from keystoneauth1 import exceptions as ks_exceptions  # type: ignore[import-untyped,import-not-found,unused-ignore]
from os_session import adapter_options, session  # type: ignore[import-not-found,unused-ignore]

STEP = 60  # seconds between samples, Ceilometer's usual polling interval for alarming
SAMPLES = 11  # ten intervals: five idle, then five busy
BUSY = 5  # the last five intervals are busy
GRANULARITY = 60
RATE, GAUGE = "ceilometer-high-rate", "ceilometer-high"
FALLBACK_FLAVOR = {"vcpus": 1, "ram": 128, "disk": 1, "OS-FLV-EXT-DATA:ephemeral": 0}

# Rates per second (counters) or levels (gauges): (idle, busy).
Profile = tuple[float, float]
Point = tuple[datetime.datetime, float]
Samples = list[dict[str, Any]]


class Series:
    """One metric: cumulative counters add ``rate * STEP`` per interval, gauges are levels."""

    def __init__(self, unit: str, cumulative: bool, profile: Profile, start: float = 0.0) -> None:
        self.unit, self.cumulative, self.profile, self.start = unit, cumulative, profile, start

    @property
    def policy(self) -> str:
        return RATE if self.cumulative else GAUGE

    def samples(self, rng: random.Random, now: datetime.datetime, last: Point | None) -> Samples:
        """Samples on the polling grid up to ``now``, after ``last`` (Gnocchi's newest point).

        A first run gets the full ten minutes. A later one (``down`` then ``up`` on the same
        data) carries a counter on from ``last`` and keeps the grid: Gnocchi merges every
        sample of the current hour into the aggregates, and rate:mean over unevenly spaced
        samples would misstate the load. Within a minute of ``last`` nothing is added.
        """
        step = datetime.timedelta(seconds=STEP)
        stamps = [now - step * (SAMPLES - 1 - i) for i in range(SAMPLES)]
        if last is not None and last[0] > stamps[0]:
            stamps = [last[0] + step * k for k in range(1, SAMPLES) if last[0] + step * k <= now]
        level, previous = (last[1], last[0]) if last is not None else (self.start, None)
        out = []
        for i, stamp in enumerate(stamps):
            rate = self.profile[1] if i >= len(stamps) - BUSY else self.profile[0]
            rate += rate * rng.uniform(-0.04, 0.04)
            if not self.cumulative:
                out.append({"timestamp": stamp.isoformat(), "value": round(rate, 2)})
                continue
            if previous is not None:
                level += rate * (stamp - previous).total_seconds()
            previous = stamp
            out.append({"timestamp": stamp.isoformat(), "value": round(level)})
        return out


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


def instance_series(flavor: dict[str, Any]) -> dict[str, Series]:
    vcpus, ram = float(flavor["vcpus"]), float(flavor["ram"])
    ns_per_second = vcpus * 1e9
    ephemeral = float(flavor.get("OS-FLV-EXT-DATA:ephemeral", 0))
    return {
        "cpu": Series("ns", True, (0.15 * ns_per_second, 0.90 * ns_per_second), 3.6e12),
        "vcpus": Series("vcpu", False, (vcpus, vcpus)),
        "memory": Series("MB", False, (ram, ram)),
        "memory.usage": Series("MB", False, (0.55 * ram, 0.80 * ram)),
        "memory.resident": Series("MB", False, (0.62 * ram + 24, 0.86 * ram + 24)),
        "memory.swap.in": Series("MB", True, (0.0, 0.0)),
        "memory.swap.out": Series("MB", True, (0.0, 0.0)),
        "disk.root.size": Series("GB", False, (float(flavor["disk"]),) * 2),
        "disk.ephemeral.size": Series("GB", False, (ephemeral, ephemeral)),
    }


def disk_series(flavor: dict[str, Any]) -> dict[str, Series]:
    capacity = float(flavor["disk"]) * 1024**3
    return {
        "disk.device.read.bytes": Series("B", True, (48e3, 2.1e6), 3.1e8),
        "disk.device.write.bytes": Series("B", True, (21e3, 5.4e6), 9.6e7),
        "disk.device.read.requests": Series("request", True, (3.0, 130.0), 1.9e4),
        "disk.device.write.requests": Series("request", True, (1.5, 330.0), 6.1e3),
        "disk.device.capacity": Series("B", False, (capacity, capacity)),
        "disk.device.allocation": Series("B", False, (0.21 * capacity, 0.23 * capacity)),
        "disk.device.usage": Series("B", False, (0.21 * capacity, 0.23 * capacity)),
    }


def interface_series() -> dict[str, Series]:
    return {
        "network.incoming.bytes": Series("B", True, (2.2e3, 4.1e5), 7.3e7),
        "network.outgoing.bytes": Series("B", True, (1.1e3, 1.2e6), 2.9e7),
        "network.incoming.packets": Series("packet", True, (9.0, 520.0), 8.8e4),
        "network.outgoing.packets": Series("packet", True, (5.0, 910.0), 4.1e4),
        "network.incoming.packets.drop": Series("packet", True, (0.0, 0.0)),
        "network.outgoing.packets.drop": Series("packet", True, (0.0, 0.0)),
        "network.incoming.packets.error": Series("packet", True, (0.0, 0.0)),
        "network.outgoing.packets.error": Series("packet", True, (0.0, 0.0)),
    }


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


def ensure_resource(
    gnocchi: Any, kind: str, body: dict[str, Any], series: dict[str, Series]
) -> tuple[dict[str, Any], bool]:
    """Create the resource with its metrics, or bring an existing one up to date.

    Returns the resource as Gnocchi has it and whether it existed. (Its ``id`` differs from
    ``original_resource_id`` for a non-UUID id such as ``<server>-vda``: the mapping depends
    on the creator, so other users must use Gnocchi's.)
    """
    metrics = {n: {"archive_policy_name": s.policy, "unit": s.unit} for n, s in series.items()}
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


def wait_aggregated(gnocchi: Any, batch: dict[str, dict[str, Samples]]) -> float:
    """Until every metric has a one-minute mean for the minute of its last new sample."""
    pending = []
    for resource, metrics in batch.items():
        for metric, samples in metrics.items():
            if samples:
                last = datetime.datetime.fromisoformat(samples[-1]["timestamp"])
                pending.append((resource, metric, last.replace(second=0)))
    began = time.monotonic()
    while pending:
        if time.monotonic() - began > 120:
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


Plan = list[tuple[str, dict[str, Any], dict[str, Series]]]


def plan(sess: Any, nova: dict[str, Any]) -> tuple[Plan, dict[str, Any]]:
    """The resources Ceilometer would create for this server, and the server's flavor."""
    server_id = nova["server_id"]
    server, flavor = nova_details(sess, server_id, nova["flavor_id"])
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
        ("instance", instance, instance_series(flavor)),
        ("instance_disk", disk, disk_series(flavor)),
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
        resources.append(("instance_network_interface", interface, interface_series()))
    return resources, flavor


def main() -> None:
    nova: dict[str, Any] = json.loads(sys.argv[1])
    sess = session()
    gnocchi: Any = client.Client("1", session=sess, adapter_options=adapter_options())
    resources, flavor = plan(sess, nova)
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    rng = random.Random(nova["server_id"])  # noqa: S311 - plausible jitter, not secrets
    batch: dict[str, dict[str, Samples]] = {}
    ids: dict[str, dict[str, str]] = {}
    for kind, body, series in resources:
        found, existed = ensure_resource(gnocchi, kind, body, series)
        ids[kind] = {k: str(found[k]) for k in ("id", "original_resource_id")}
        last = last_points(gnocchi, found["metrics"]) if existed else {}
        batch[body["id"]] = {
            name: serie.samples(rng, now, last.get(name)) for name, serie in series.items()
        }
    gnocchi.metric.batch_resources_metrics_measures(batch)
    waited = wait_aggregated(gnocchi, batch)
    pushed = [samples for metrics in batch.values() for samples in metrics.values() if samples]
    result = {
        "resources": ids,
        "metrics": {kind: sorted(series) for kind, _, series in resources},
        "vcpus": int(flavor["vcpus"]),
        "samples_pushed": sum(len(samples) for samples in pushed),
        "last_sample": max((samples[-1]["timestamp"] for samples in pushed), default=None),
        "aggregated_after_s": round(waited, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
