"""Nova: servers, hypervisors, flavors and per-project limits, with openstack-exporter's names."""

from __future__ import annotations

from typing import Any

from exporter.collectors.openstack.families import Scope, text
from exporter.collectors.openstack.http import get_json
from exporter.collectors.openstack.inventory.common import PAGE, fan_out, projects
from exporter.collectors.openstack.session import CloudSession
from exporter.metric import MetricFamily

# openstack-exporter's codes for openstack_nova_server_status; any other status is -1.
SERVER_STATUS = {
    name: code
    for code, name in enumerate(
        [
            "ACTIVE",
            "BUILD",
            "BUILD(spawning)",
            "DELETED",
            "ERROR",
            "HARD_REBOOT",
            "PASSWORD",
            "REBOOT",
            "REBUILD",
            "RESCUE",
            "RESIZE",
            "SHUTOFF",
            "SUSPENDED",
            "UNKNOWN",
            "VERIFY_RESIZE",
            "MIGRATING",
            "PAUSED",
            "REVERT_RESIZE",
            "SHELVED",
            "SHELVED_OFFLOADED",
            "SOFT_DELETED",
        ]
    )
}

HYPERVISOR_MICROVERSION = "2.87"
"""The last microversion whose hypervisor records carry vcpus, memory and disk (2.88 dropped
them for Placement); Nova still serves it."""

SERVER_LABELS = [
    "id",
    "status",
    "name",
    "tenant_id",
    "user_id",
    "address_ipv4",
    "address_ipv6",
    "host_id",
    "hypervisor_hostname",
    "uuid",
    "availability_zone",
    "flavor_id",
    "instance_libvirt",
]


def server_flavor_id(flavor: Any, by_name: dict[str, str]) -> str:
    """From microversion 2.47 a server embeds a copy of its flavor, named ``original_name``
    and without an id; openstacksdk's ``Flavor.id`` then answers the name. Look the id up by
    that name, as openstack-exporter does (deleted flavors: "")."""
    name = flavor.get("original_name")
    if name:
        return text(by_name.get(name, ""))
    return text(flavor.get("id"))


SERVER_PAGE = 200
"""Servers per request. Nova builds each server of a detailed listing with several database
and Neutron lookups: on the benchmark testbed one page of 1,000 took it 10-15 s, past the
default api_timeout, so the part failed; five pages of 200 cost five requests and each stays
well inside the timeout (bench/results/openstack.md)."""


def every_server(compute: Any, page: int = SERVER_PAGE) -> Any:
    """Servers of every project (admin or reader role: a member gets 403)."""
    return compute.servers(details=True, all_projects=True, limit=page)


def servers(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    compute = session.proxy("compute")
    flavor_ids = {f.name: f.id for f in compute.flavors(is_public=None)}
    status = scope.gauge(
        "openstack_nova_server_status",
        "Status code of each server (ACTIVE 0, BUILD 1, ..., ERROR 4, SHUTOFF 11; -1 unknown).",
        SERVER_LABELS,
    )
    by_status: dict[str, int] = {}
    total = 0
    for srv in every_server(compute):
        total += 1
        name = text(srv.status)
        by_status[name] = by_status.get(name, 0) + 1
        flavor_id = server_flavor_id(srv.flavor or {}, flavor_ids)
        status.add(
            [
                text(srv.id),
                name,
                text(srv.name),
                text(srv.project_id),
                text(srv.user_id),
                text(srv.access_ipv4),
                text(srv.access_ipv6),
                text(srv.host_id),
                text(srv.hypervisor_hostname),
                text(srv.id),
                text(srv.availability_zone),
                text(flavor_id),
                text(srv.instance_name),
            ],
            float(SERVER_STATUS.get(name, -1)),
        )
    counts = scope.gauge(
        "openstack_nova_servers", "Servers of every project by status.", ["status"]
    )
    for name, n in sorted(by_status.items()):
        counts.add([name], float(n))
    return [
        scope.value("openstack_nova_total_vms", "Servers of every project.", float(total)),
        counts.family,
        status.family,
    ]


HYPERVISOR_FAMILIES = (
    ("openstack_nova_vcpus_available", "vcpus", 1, "vCPUs of the hypervisor (its total)."),
    ("openstack_nova_vcpus_used", "vcpus_used", 1, "vCPUs used on the hypervisor."),
    (
        "openstack_nova_memory_available_bytes",
        "memory_mb",
        1024**2,
        "Memory of the hypervisor (its total).",
    ),
    ("openstack_nova_memory_used_bytes", "memory_mb_used", 1024**2, "Memory used."),
    (
        "openstack_nova_local_storage_available_bytes",
        "local_gb",
        1024**3,
        "Local disk of the hypervisor (its total).",
    ),
    ("openstack_nova_local_storage_used_bytes", "local_gb_used", 1024**3, "Local disk used."),
    ("openstack_nova_free_disk_bytes", "free_disk_gb", 1024**3, "Free local disk."),
    ("openstack_nova_running_vms", "running_vms", 1, "Servers running on the hypervisor."),
    ("openstack_nova_current_workload", "current_workload", 1, "Tasks in progress."),
)


def hypervisor_page(compute: Any, params: dict[str, Any]) -> Any:
    return get_json(
        compute, "/os-hypervisors/detail", params=params, microversion=HYPERVISOR_MICROVERSION
    )


def hypervisors(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    """Hypervisor capacity as openstack-exporter reports it (``..._available`` are totals)."""
    compute = session.proxy("compute")
    zones: dict[str, str] = {}
    aggregates: dict[str, list[str]] = {}
    for agg in compute.aggregates():
        meta = agg.metadata or {}
        for host in agg.hosts or ():
            if agg.availability_zone:
                zones[host] = agg.availability_zone
            if set(meta) - {"availability_zone"}:
                aggregates.setdefault(host, []).append(text(agg.name))
    labels = ["hostname", "availability_zone", "aggregates"]
    families = [
        (scope.gauge(name, help_, labels), field, scale)
        for name, field, scale, help_ in HYPERVISOR_FAMILIES
    ]
    marker: str | None = None
    while True:
        params: dict[str, Any] = {"limit": PAGE}
        if marker:
            params["marker"] = marker
        body = hypervisor_page(compute, params)
        page = body.get("hypervisors") or []
        for hv in page:
            host = text((hv.get("service") or {}).get("host"))
            values = [
                text(hv.get("hypervisor_hostname")),
                zones.get(host, ""),
                ",".join(sorted(aggregates.get(host, []))),
            ]
            for fam, field, scale in families:
                if hv.get(field) is not None:
                    fam.add(values, float(hv[field]) * scale)
        if len(page) < PAGE or not body.get("hypervisors_links"):
            break
        marker = str(page[-1].get("id"))
    return [fam.family for fam, _, _ in families]


def flavors(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    compute = session.proxy("compute")
    info = scope.gauge(
        "openstack_nova_flavor",
        "Flavors; always 1.",
        ["id", "name", "vcpus", "ram", "disk", "is_public"],
    )
    n = 0
    for flavor in compute.flavors(is_public=None):
        n += 1
        info.add(
            [
                text(flavor.id),
                text(flavor.name),
                text(flavor.vcpus),
                text(flavor.ram),
                text(flavor.disk),
                text(flavor.is_public),
            ],
            1.0,
        )
    return [scope.value("openstack_nova_flavors", "Flavors.", float(n)), info.family]


LIMITS = (
    ("vcpus", "maxTotalCores", "totalCoresUsed"),
    ("memory", "maxTotalRAMSize", "totalRAMUsed"),
    ("instances", "maxTotalInstances", "totalInstancesUsed"),
)


def project_limits(compute: Any, project_id: str) -> dict[str, Any]:
    """A project's absolute limits (another project's: admin or reader role)."""
    body = get_json(compute, "/limits", params={"tenant_id": project_id})
    absolute: dict[str, Any] = (body.get("limits") or {}).get("absolute") or {}
    return absolute


def limits(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    """Absolute limits of every project (memory in MiB, as openstack-exporter): one request
    per project, a few at a time."""
    compute = session.proxy("compute")
    labels = ["tenant", "tenant_id"]
    fams = {
        (kind, end): scope.gauge(
            f"openstack_nova_limits_{kind}_{end}",
            f"Nova {kind} {'limit' if end == 'max' else 'in use'} of the project"
            + (" (MiB)." if kind == "memory" else "."),
            labels,
        )
        for kind, _, _ in LIMITS
        for end in ("max", "used")
    }

    def one(project: Any) -> tuple[Any, dict[str, Any]]:
        return project, project_limits(compute, project.id)

    for project, absolute in fan_out(one, projects(session)):
        values = [text(project.name), text(project.id)]
        for kind, max_key, used_key in LIMITS:
            fams[(kind, "max")].add(values, float(absolute.get(max_key, -1)))
            fams[(kind, "used")].add(values, float(absolute.get(used_key, 0)))
    return [fam.family for fam in fams.values()]
