"""The parts of each cycle an operator can turn off (``collectors.openstack.disable``)."""

from __future__ import annotations

HEALTH_PARTS = (
    "probes",
    "nova_services",
    "neutron_agents",
    "cinder_services",
    "heat_engines",
    "placement",
)
INVENTORY_PARTS = (
    "servers",
    "hypervisors",
    "flavors",
    "nova_limits",
    "volumes",
    "snapshots",
    "cinder_pools",
    "cinder_limits",
    "images",
    "networks",
    "subnets",
    "ports",
    "routers",
    "l3_agents",
    "floating_ips",
    "security_groups",
    "ip_availability",
    "identity",
    "stacks",
)
ALL_PARTS = HEALTH_PARTS + INVENTORY_PARTS
