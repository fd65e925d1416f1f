"""Gnocchi's processing backlog, under openstack-exporter's names where they mean the same.

``GET /v1/status?details=false`` needs the admin role (403 otherwise); ``details=true``, the
default, would list every metric with measures waiting, which can be huge on a busy cloud.
"""

from __future__ import annotations

from typing import Any

from exporter.collectors.openstack.families import BASE_LABELS as BASE
from exporter.metric import MetricFamily


def status_families(status: dict[str, Any], base: tuple[str, str]) -> list[MetricFamily]:
    summary = (status.get("storage") or {}).get("summary") or {}
    out: list[MetricFamily] = []

    def gauge(name: str, help_: str, value: Any) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            family = MetricFamily(name, help_, "gauge", BASE)
            family.add(base, float(value))
            out.append(family)

    gauge(
        "openstack_gnocchi_status_measures_to_process",
        "Measures received by Gnocchi and not yet processed by metricd.",
        summary.get("measures"),
    )
    gauge(
        "openstack_gnocchi_status_metric_having_measures_to_process",
        "Metrics with measures waiting for metricd.",
        summary.get("metrics"),
    )
    processors = (status.get("metricd") or {}).get("processors")
    gauge(
        "openstack_gnocchi_status_metricd_processors",
        "metricd processing workers Gnocchi's coordinator knows (absent when it cannot tell).",
        len(processors) if isinstance(processors, list) else None,
    )
    return out
