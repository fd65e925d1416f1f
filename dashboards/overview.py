"""OpenStack overview: API health, agents, placement capacity and the cloud's inventory."""

from __future__ import annotations

from dashboards.common import Board, Q, Var, flag, grid, selector, series, single

UID = "otb-openstack-overview"
F = selector(cloud="$cloud", region="$region")
# Nova and Cinder say enabled/disabled, Neutron up/down (admin_state_up).
ENABLED = selector(cloud="$cloud", region="$region", adminState="enabled|up")
UP_DOWN = flag("up", "down")
AGENTS = ("nova", "neutron", "cinder")
CLASSES = ("VCPU", "MEMORY_MB", "DISK_GB")


def _capacity(resource: str) -> str:
    """Placement's own capacity: (total - reserved) x allocation ratio."""
    sel = selector(cloud="$cloud", region="$region", resourcetype=resource)
    return (
        f"sum by (cloud, region) (openstack_placement_resource_usage{sel})"
        f" / sum by (cloud, region) ((openstack_placement_resource_total{sel}"
        f" - openstack_placement_resource_reserved{sel})"
        f" * openstack_placement_resource_allocation_ratio{sel})"
    )


def board() -> Board:
    b = Board(
        UID,
        "OpenStack overview",
        "Health of every OpenStack API, agent states, placement capacity and inventory, from"
        " openstack-telemetry-exporter's openstack collector.",
        [
            Var("cloud", "Cloud", "label_values(openstack_identity_up, cloud)"),
            Var("region", "Region", 'label_values(openstack_identity_up{cloud=~"$cloud"}, region)'),
        ],
    )
    b.row(
        "API health",
        single(
            "Services",
            "openstack-exporter's openstack_<service>_up: 1 when the service's root answered"
            " and every check of it passed.",
            "none",
            Q(
                'label_replace({__name__=~"openstack_[a-z]+_up", cloud=~"$cloud",'
                ' region=~"$region"}, "service", "$1", "__name__", "openstack_([a-z]+)_up")',
                "{{service}} ({{region}})",
            ),
            width=24,
            mappings=UP_DOWN,
        ),
        series(
            "Probe latency",
            "Time for each catalog endpoint's unauthenticated root to answer.",
            "s",
            Q(
                f"openstack_api_probe_duration_seconds{F}",
                "{{service}} {{interface}} ({{region}})",
            ),
        ),
        grid(
            "Checks",
            "Every authenticated check of the last health cycle (service lists, agents,"
            " placement, a token validation, one image): ok or failed.",
            "none",
            Q(f"openstack_api_check_success{F}"),
            width=12,
            mappings=flag("ok", "failed"),
        ),
        grid(
            "Endpoint probes",
            "Status code of each catalog endpoint's root; up is 1 when it answered 2xx/3xx.",
            "none",
            Q(f"openstack_api_probe_status_code{F}"),
        ),
    )
    b.row(
        "Agents",
        single(
            "Enabled agents down",
            "Nova services, Neutron agents and Cinder services that are enabled but down:"
            " these are the ones to act on. Disabled ones are counted apart.",
            "none",
            *(Q(f"sum(openstack_{kind}_agent_state{ENABLED} == bool 0)", kind) for kind in AGENTS),
            width=12,
            thresholds=((None, "green"), (1, "red")),
        ),
        series(
            "Agents down, enabled versus disabled",
            "Agents down by service and administrative state (Nova and Cinder: enabled or"
            " disabled; Neutron: up or down). A disabled agent that is down was usually"
            " stopped on purpose (maintenance); an enabled one is an outage.",
            "none",
            *(
                Q(
                    f"sum by (service, adminState) (openstack_{kind}_agent_state{F} == bool 0)",
                    f"{kind} {{{{service}}}} {{{{adminState}}}}",
                )
                for kind in AGENTS
            ),
        ),
        grid(
            "Agents down now",
            "Every agent reported down in the last health cycle, with its host and"
            " administrative state. Empty while all agents are up.",
            "none",
            Q(" or ".join(f"openstack_{kind}_agent_state{F} == 0" for kind in AGENTS)),
            mappings=UP_DOWN,
        ),
        series(
            "Heat engines up",
            "Heat engines reporting as up (GET /services).",
            "none",
            Q(f"openstack_heat_engines_up{F}", "{{region}}"),
        ),
    )
    b.row(
        "Capacity (placement)",
        *(
            single(
                f"{resource} used",
                f"Placement's {resource} allocations over its capacity, (total - reserved) x"
                " allocation ratio, summed over every resource provider.",
                "percentunit",
                Q(_capacity(resource), "{{region}}"),
                width=8,
                thresholds=((None, "green"), (0.8, "orange"), (0.9, "red")),
            )
            for resource in CLASSES
        ),
        grid(
            "Capacity by hypervisor",
            "Used share of each resource provider's capacity, by resource class.",
            "percentunit",
            Q(
                f"openstack_placement_resource_usage{F}"
                f" / ((openstack_placement_resource_total{F}"
                f" - openstack_placement_resource_reserved{F})"
                f" * openstack_placement_resource_allocation_ratio{F})"
            ),
        ),
    )
    b.row(
        "Inventory",
        series(
            "Servers by status",
            "Nova servers of every project, by status.",
            "none",
            Q(f"sum by (status) (openstack_nova_servers{F})", "{{status}}"),
            width=8,
        ),
        series(
            "Volumes by status",
            "Cinder volumes of every project, by status.",
            "none",
            Q(f"sum by (status) (openstack_cinder_volume_status_counter{F})", "{{status}}"),
            width=8,
        ),
        series(
            "Volumes, snapshots, images",
            "Counts of Cinder volumes and snapshots and Glance images.",
            "none",
            Q(f"sum(openstack_cinder_volumes{F})", "volumes"),
            Q(f"sum(openstack_cinder_snapshots{F})", "snapshots"),
            Q(f"sum(openstack_glance_images{F})", "images"),
            width=8,
        ),
        grid(
            "IP availability",
            "Share of each subnet's addresses in use (Neutron's network IP availability).",
            "percentunit",
            Q(
                f"openstack_neutron_network_ip_availabilities_used{F}"
                f" / openstack_neutron_network_ip_availabilities_total{F}"
            ),
        ),
    )
    return b
