"""Panels that draw something only while a fault lasts, and the fault that shows them.

The live proof (tests/testbed/test_dashboards_live.py) checks every other panel on the
healthy stack, then causes each fault named here and checks these panels during it.
Fault names: ``agent_down`` (a Neutron agent stopped), ``collector_failing`` (a collector's
backend frozen), ``alertmanager_down`` (one Alertmanager replica stopped).
"""

from __future__ import annotations

# (dashboard uid, panel title) -> fault name
FAULT_PANELS: dict[tuple[str, str], str] = {
    ("otb-openstack-overview", "Agents down now"): "agent_down",
    ("otb-exporters", "Failing collectors"): "collector_failing",
    # Prometheus's own rules fire only on a fault here: the bridge's failing Alertmanager.
    ("otb-aodh-bridge", "Firing Prometheus alerts"): "alertmanager_down",
}
