"""Panels that draw something only while a fault lasts, and the fault that shows them.

The live proof (tests/testbed/test_dashboards_live.py) checks every other panel on the
healthy stack, then causes each fault named here and checks these panels during it.
Fault names: ``agent_down`` (a Neutron agent stopped), ``collector_failing`` (a collector's
backend frozen), ``alertmanager_down`` (one Alertmanager replica stopped).
"""

from __future__ import annotations

# (dashboard uid, panel title) -> fault name
FAULT_PANELS: dict[tuple[str, str], str] = {}
