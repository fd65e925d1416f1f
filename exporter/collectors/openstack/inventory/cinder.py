"""Cinder: volumes, snapshots, backend pools and per-project limits (openstack-exporter names)."""

from __future__ import annotations

from typing import Any

from exporter.collectors.openstack.families import Scope, text
from exporter.collectors.openstack.http import get_json
from exporter.collectors.openstack.inventory.common import PAGE, fan_out, projects
from exporter.collectors.openstack.session import CloudSession
from exporter.metric import MetricFamily

TYPES = ("block-storage", "volumev3", "volume", "volumev2")

VOLUME_STATUS = {
    name: code
    for code, name in enumerate(
        [
            "creating",
            "available",
            "reserved",
            "attaching",
            "detaching",
            "in-use",
            "maintenance",
            "deleting",
            "awaiting-transfer",
            "error",
            "error_deleting",
            "backing-up",
            "restoring-backup",
            "error_backing-up",
            "error_restoring",
            "error_extending",
            "downloading",
            "uploading",
            "retyping",
            "extending",
        ]
    )
}


def _server_id(volume: Any) -> str:
    attachments = volume.attachments or []
    return text(attachments[0].get("server_id")) if attachments else ""


def volumes(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    block = session.proxy("block_storage")
    size = scope.gauge(
        "openstack_cinder_volume_gb",
        "Size of each volume in GB (GiB).",
        [
            "id",
            "name",
            "status",
            "availability_zone",
            "bootable",
            "tenant_id",
            "user_id",
            "volume_type",
            "server_id",
        ],
    )
    status = scope.gauge(
        "openstack_cinder_volume_status",
        "Status code of each volume (available 1, in-use 5, error 9, ...; -1 unknown).",
        ["id", "name", "status", "bootable", "tenant_id", "size", "volume_type", "server_id"],
    )
    counter = dict.fromkeys(VOLUME_STATUS, 0)
    n = 0
    for vol in block.volumes(details=True, all_projects=True, limit=PAGE):
        n += 1
        st = text(vol.status)
        counter[st] = counter.get(st, 0) + 1
        server = _server_id(vol)
        size.add(
            [
                text(vol.id),
                text(vol.name),
                st,
                text(vol.availability_zone),
                text(vol.is_bootable),
                text(vol.project_id),
                text(vol.user_id),
                text(vol.volume_type),
                server,
            ],
            float(vol.size or 0),
        )
        status.add(
            [
                text(vol.id),
                text(vol.name),
                st,
                text(vol.is_bootable),
                text(vol.project_id),
                text(vol.size),
                text(vol.volume_type),
                server,
            ],
            float(VOLUME_STATUS.get(st, -1)),
        )
    by_status = scope.gauge(
        "openstack_cinder_volume_status_counter", "Volumes by status.", ["status"]
    )
    for st, count in counter.items():
        by_status.add([st], float(count))
    return [
        scope.value("openstack_cinder_volumes", "Volumes of every project.", float(n)),
        size.family,
        status.family,
        by_status.family,
    ]


def snapshots(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    block = session.proxy("block_storage")
    n = sum(1 for _ in block.snapshots(details=False, all_projects=True, limit=PAGE))
    return [scope.value("openstack_cinder_snapshots", "Snapshots of every project.", float(n))]


def backend_pools(block: Any) -> list[dict[str, Any]]:
    """The scheduler's pools with their capabilities (admin or reader role)."""
    body = get_json(block, "/scheduler-stats/get_pools", params={"detail": "true"})
    return list(body.get("pools") or ())


def pools(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    """Backend pools from the scheduler's stats (admin only)."""
    block = session.proxy("block_storage")
    labels = ["name", "volume_backend_name", "vendor_name"]
    free = scope.gauge("openstack_cinder_pool_capacity_free_gb", "Free capacity (GB).", labels)
    total = scope.gauge("openstack_cinder_pool_capacity_total_gb", "Total capacity (GB).", labels)
    for pool in backend_pools(block):
        caps = pool.get("capabilities") or {}
        values = [
            text(pool.get("name")),
            text(caps.get("volume_backend_name")),
            text(caps.get("vendor_name")),
        ]
        for fam, key in ((free, "free_capacity_gb"), (total, "total_capacity_gb")):
            value = caps.get(key)
            if isinstance(value, (int, float)):
                fam.add(values, float(value))
    return [free.family, total.family]


def quota_set(block: Any, project_id: str) -> dict[str, Any]:
    """A project's quotas with usage (another project's: admin or reader role)."""
    body = get_json(block, f"/os-quota-sets/{project_id}", params={"usage": "true"})
    quota: dict[str, Any] = body.get("quota_set") or {}
    return quota


def limits(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    """Volume and backup gigabytes per project, from its quota set with usage: one request
    per project, a few at a time."""
    block = session.proxy("block_storage")
    labels = ["tenant", "tenant_id"]
    fams = {
        (kind, end): scope.gauge(
            f"openstack_cinder_limits_{kind}_{end}_gb",
            f"Cinder {kind} gigabytes {'limit' if end == 'max' else 'in use'} of the project.",
            labels,
        )
        for kind in ("volume", "backup")
        for end in ("max", "used")
    }

    def one(project: Any) -> tuple[Any, dict[str, Any]]:
        return project, quota_set(block, project.id)

    for project, quota in fan_out(one, projects(session)):
        values = [text(project.name), text(project.id)]
        for kind, key in (("volume", "gigabytes"), ("backup", "backup_gigabytes")):
            item = quota.get(key) or {}
            if isinstance(item, dict):
                fams[(kind, "max")].add(values, float(item.get("limit", -1)))
                fams[(kind, "used")].add(values, float(item.get("in_use", 0)))
    return [fam.family for fam in fams.values()]
