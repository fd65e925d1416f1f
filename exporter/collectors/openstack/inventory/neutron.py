"""Neutron: networks, subnets, ports, routers, floating IPs, IP availability (openstack-exporter
names; listings are admin-wide, paginated)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import openstack.exceptions as sdk_exc

from exporter.collectors.openstack.families import Scope, text
from exporter.collectors.openstack.http import get_json
from exporter.collectors.openstack.inventory.common import PAGE, fan_out
from exporter.collectors.openstack.session import CloudSession
from exporter.metric import MetricFamily

NETWORK_STATUS = {"ACTIVE": 0, "BUILD": 1, "DOWN": 2, "ERROR": 3}

Part = Callable[[Scope, CloudSession], list[MetricFamily]]


def extension(part: Part) -> Part:
    """Routers and floating IPs come from Neutron's L3 extension: where it is not loaded
    their listing answers 404, which means "none here", not a failure."""

    @wraps(part)
    def run(scope: Scope, session: CloudSession) -> list[MetricFamily]:
        try:
            return part(scope, session)
        except sdk_exc.NotFoundException:
            return []

    return run


def networks(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    net = session.proxy("network")
    info = scope.gauge(
        "openstack_neutron_network",
        "Status code of each network (ACTIVE 0, BUILD 1, DOWN 2, ERROR 3; -1 unknown).",
        [
            "id",
            "tenant_id",
            "status",
            "name",
            "is_shared",
            "is_external",
            "provider_network_type",
            "provider_physical_network",
            "provider_segmentation_id",
            "subnets",
            "tags",
            "mtu",
        ],
    )
    n = 0
    for nw in net.networks(limit=PAGE):
        n += 1
        info.add(
            [
                text(nw.id),
                text(nw.project_id),
                text(nw.status),
                text(nw.name),
                text(nw.is_shared),
                text(nw.is_router_external),
                text(nw.provider_network_type),
                text(nw.provider_physical_network),
                text(nw.provider_segmentation_id),
                ",".join(nw.subnet_ids or []),
                ",".join(nw.tags or []),
                text(nw.mtu),
            ],
            float(NETWORK_STATUS.get(text(nw.status), -1)),
        )
    return [scope.value("openstack_neutron_networks", "Networks.", float(n)), info.family]


def subnets(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    net = session.proxy("network")
    info = scope.gauge(
        "openstack_neutron_subnet",
        "Subnets; always 1.",
        [
            "id",
            "tenant_id",
            "name",
            "network_id",
            "cidr",
            "gateway_ip",
            "enable_dhcp",
            "dns_nameservers",
            "tags",
        ],
    )
    n = 0
    for sn in net.subnets(limit=PAGE):
        n += 1
        info.add(
            [
                text(sn.id),
                text(sn.project_id),
                text(sn.name),
                text(sn.network_id),
                text(sn.cidr),
                text(sn.gateway_ip),
                text(sn.is_dhcp_enabled),
                ",".join(sn.dns_nameservers or []),
                ",".join(sn.tags or []),
            ],
            1.0,
        )
    return [scope.value("openstack_neutron_subnets", "Subnets.", float(n)), info.family]


def ports(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    net = session.proxy("network")
    info = scope.gauge(
        "openstack_neutron_port",
        "Ports; always 1.",
        [
            "uuid",
            "network_id",
            "mac_address",
            "device_owner",
            "device_id",
            "status",
            "binding_vif_type",
            "admin_state_up",
            "fixed_ips",
        ],
    )
    n = no_ips = lb_not_active = 0
    for port in net.ports(limit=PAGE):
        n += 1
        fixed = port.fixed_ips or []
        if port.status == "ACTIVE" and not fixed:
            no_ips += 1
        if port.device_owner == "neutron:LOADBALANCERV2" and port.status != "ACTIVE":
            lb_not_active += 1
        info.add(
            [
                text(port.id),
                text(port.network_id),
                text(port.mac_address),
                text(port.device_owner),
                text(port.device_id),
                text(port.status),
                text(port.binding_vif_type),
                text(port.is_admin_state_up),
                ",".join(text(ip.get("ip_address")) for ip in fixed),
            ],
            1.0,
        )
    return [
        scope.value("openstack_neutron_ports", "Ports.", float(n)),
        scope.value(
            "openstack_neutron_ports_no_ips", "ACTIVE ports without a fixed IP.", float(no_ips)
        ),
        scope.value(
            "openstack_neutron_ports_lb_not_active",
            "Load balancer ports that are not ACTIVE.",
            float(lb_not_active),
        ),
        info.family,
    ]


@extension
def routers(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    net = session.proxy("network")
    info = scope.gauge(
        "openstack_neutron_router",
        "Routers; always 1.",
        ["id", "name", "project_id", "admin_state_up", "status", "external_network_id"],
    )
    n = not_active = 0
    for router in net.routers(limit=PAGE):
        n += 1
        if router.status != "ACTIVE":
            not_active += 1
        gateway = router.external_gateway_info or {}
        info.add(
            [
                text(router.id),
                text(router.name),
                text(router.project_id),
                text(router.is_admin_state_up),
                text(router.status),
                text(gateway.get("network_id")),
            ],
            1.0,
        )
    return [
        scope.value("openstack_neutron_routers", "Routers.", float(n)),
        scope.value(
            "openstack_neutron_routers_not_active", "Routers not ACTIVE.", float(not_active)
        ),
        info.family,
    ]


@extension
def l3_agents(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    """Which L3 agent hosts each router: one request per router (turn the part off on a
    cloud with many routers, or on OVN, which has no L3 agents)."""
    net = session.proxy("network")
    fam = scope.gauge(
        "openstack_neutron_l3_agent_of_router",
        "Whether the L3 agent hosting the router is alive.",
        ["router_id", "l3_agent_id", "ha_state", "agent_alive", "agent_admin_up", "agent_host"],
    )

    def one(router: Any) -> tuple[Any, list[dict[str, Any]]]:
        body = get_json(net, f"/routers/{router.id}/l3-agents")
        return router, body.get("agents") or []

    for router, agents in fan_out(one, list(net.routers(limit=PAGE))):
        for agent in agents:
            alive = bool(agent.get("alive"))
            fam.add(
                [
                    text(router.id),
                    text(agent.get("id")),
                    text(agent.get("ha_state")),
                    text(alive),
                    text(agent.get("admin_state_up")),
                    text(agent.get("host")),
                ],
                1.0 if alive else 0.0,
            )
    return [fam.family]


@extension
def floating_ips(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    net = session.proxy("network")
    info = scope.gauge(
        "openstack_neutron_floating_ip",
        "Floating IPs; always 1.",
        ["id", "floating_network_id", "router_id", "status", "project_id", "floating_ip_address"],
    )
    n = associated_not_active = 0
    for fip in net.ips(limit=PAGE):
        n += 1
        if fip.port_id and fip.status != "ACTIVE":
            associated_not_active += 1
        info.add(
            [
                text(fip.id),
                text(fip.floating_network_id),
                text(fip.router_id),
                text(fip.status),
                text(fip.project_id),
                text(fip.floating_ip_address),
            ],
            1.0,
        )
    return [
        scope.value("openstack_neutron_floating_ips", "Floating IPs.", float(n)),
        scope.value(
            "openstack_neutron_floating_ips_associated_not_active",
            "Floating IPs bound to a port but not ACTIVE.",
            float(associated_not_active),
        ),
        info.family,
    ]


def security_groups(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    net = session.proxy("network")
    n = sum(1 for _ in net.security_groups(limit=PAGE, fields="id"))
    return [scope.value("openstack_neutron_security_groups", "Security groups.", float(n))]


def ip_availability(scope: Scope, session: CloudSession) -> list[MetricFamily]:
    net = session.proxy("network")
    labels = ["network_id", "network_name", "ip_version", "cidr", "subnet_name", "project_id"]
    total = scope.gauge(
        "openstack_neutron_network_ip_availabilities_total", "IPs of each subnet.", labels
    )
    used = scope.gauge(
        "openstack_neutron_network_ip_availabilities_used", "IPs in use in each subnet.", labels
    )
    for avail in net.network_ip_availabilities():
        for sub in avail.subnet_ip_availability or ():
            values = [
                text(avail.network_id),
                text(avail.network_name),
                text(sub.get("ip_version")),
                text(sub.get("cidr")),
                text(sub.get("subnet_name")),
                text(avail.project_id),
            ]
            total.add(values, float(sub.get("total_ips") or 0))
            used.add(values, float(sub.get("used_ips") or 0))
    return [total.family, used.family]
