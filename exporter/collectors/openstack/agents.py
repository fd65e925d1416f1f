"""Service and agent states of Nova, Neutron, Cinder and Heat, with openstack-exporter's names.

Labels are openstack-exporter's (``adminState`` with a capital S, ``zone`` for Nova and Cinder
but ``availability_zone`` for Neutron), because openstack-mixin's and its Helm chart's rules
select on them. Cinder's series have no random ``uuid`` label: one series per service.
"""

from __future__ import annotations

from typing import Any

import openstack.exceptions as sdk_exc

from exporter.collectors.openstack.families import Checked, Scope, text
from exporter.collectors.openstack.http import get_json
from exporter.metric import MetricFamily

HEAT_ENGINES_DOWN = "All heat engines are down"


def _service_states(
    scope: Scope, name: str, service: str, services: Any, with_id: bool
) -> list[MetricFamily]:
    """Nova's and Cinder's os-services share their shape; Cinder's rows have no id."""
    labels = ["hostname", "service", "adminState", "zone", "disabledReason"]
    fam = scope.gauge(
        name,
        f"Whether the {service} service reports in (1) or is down (0); adminState is its status.",
        ["id", *labels] if with_id else labels,
    )
    for svc in services:
        row = [
            text(svc.host),
            text(svc.binary),
            text(svc.status),
            text(svc.availability_zone),
            text(svc.disabled_reason),
        ]
        fam.add([text(svc.id), *row] if with_id else row, 1.0 if svc.state == "up" else 0.0)
    return [fam.family]


def nova_services(scope: Scope, compute: Any) -> list[MetricFamily]:
    return _service_states(scope, "openstack_nova_agent_state", "Nova", compute.services(), True)


def neutron_agents(scope: Scope, network: Any) -> list[MetricFamily]:
    fam = scope.gauge(
        "openstack_neutron_agent_state",
        "Whether the Neutron agent is alive (1) or not (0); adminState is up or down.",
        ["id", "hostname", "service", "adminState", "availability_zone"],
    )
    for agent in network.agents():
        fam.add(
            [
                text(agent.id),
                text(agent.host),
                text(agent.binary),
                "up" if agent.is_admin_state_up else "down",
                text(agent.availability_zone),
            ],
            1.0 if agent.is_alive else 0.0,
        )
    return [fam.family]


def cinder_services(scope: Scope, block_storage: Any) -> list[MetricFamily]:
    return _service_states(
        scope, "openstack_cinder_agent_state", "Cinder", block_storage.services(), False
    )


def heat_engines(scope: Scope, orchestration: Any) -> list[MetricFamily] | Checked:
    """``GET /services``: one row per engine process Heat knows (each run of an engine is a
    new record; Heat drops old ones itself). 503 "All heat engines are down" counts as zero
    engines up and fails the Heat check."""
    up = scope.gauge(
        "openstack_heat_engines_up",
        "Heat engines reporting in; 0 when Heat answers that all engines are down.",
    )
    try:
        body = get_json(orchestration, "/services")
    except sdk_exc.HttpException as exc:
        if exc.status_code == 503 and HEAT_ENGINES_DOWN in str(exc):
            up.add((), 0.0)
            return Checked([up.family], "HTTP 503: all heat engines are down")
        raise
    state = scope.gauge(
        "openstack_heat_agent_state",
        "Whether the Heat engine reports in (1) or is down (0).",
        ["id", "hostname", "service", "engine_id"],
    )
    alive = 0
    for svc in body.get("services") or ():
        is_up = svc.get("status") == "up"
        alive += is_up
        state.add(
            [
                text(svc.get("id")),
                text(svc.get("host")),
                text(svc.get("binary")),
                text(svc.get("engine_id")),
            ],
            1.0 if is_up else 0.0,
        )
    up.add((), float(alive))
    return [state.family, up.family]
