"""Counters that alert rules and dashboards take increase() of exist at 0 from the start."""

from __future__ import annotations

from prometheus_client import generate_latest

from alerts.metrics import DIFFERENCE_KINDS, Metrics


def test_reconciliation_counters_start_at_zero() -> None:
    text = generate_latest(Metrics().registry).decode()
    for outcome in ("success", "error"):
        assert f'aodh_bridge_reconcile_runs_total{{outcome="{outcome}"}} 0.0' in text
    for kind in DIFFERENCE_KINDS:
        assert f'aodh_bridge_reconcile_differences_total{{kind="{kind}"}} 0.0' in text
