"""Placement inventories and usages per resource provider: the capacity openstack-mixin's
rules divide (usage / (total * allocation_ratio)). One request per provider for each of
inventories and usages: the cost grows with hypervisors, not with servers."""

from __future__ import annotations

from typing import Any

from exporter.collectors.openstack.families import Scope, text
from exporter.collectors.openstack.http import get_json
from exporter.metric import MetricFamily

LABELS = ["hostname", "resourcetype"]


def providers(scope: Scope, placement: Any) -> list[MetricFamily]:
    total = scope.gauge("openstack_placement_resource_total", "Inventory total.", LABELS)
    ratio = scope.gauge(
        "openstack_placement_resource_allocation_ratio", "Inventory allocation ratio.", LABELS
    )
    reserved = scope.gauge("openstack_placement_resource_reserved", "Inventory reserved.", LABELS)
    usage = scope.gauge(
        "openstack_placement_resource_usage", "Amount allocated to consumers.", LABELS
    )
    for rp in placement.resource_providers():
        name = text(rp.name)
        inventories = get_json(placement, f"/resource_providers/{rp.id}/inventories")
        for klass, inv in sorted((inventories.get("inventories") or {}).items()):
            total.add([name, klass], float(inv.get("total", 0)))
            ratio.add([name, klass], float(inv.get("allocation_ratio", 1.0)))
            reserved.add([name, klass], float(inv.get("reserved", 0)))
        usages = get_json(placement, f"/resource_providers/{rp.id}/usages")
        for klass, used in sorted((usages.get("usages") or {}).items()):
            usage.add([name, klass], float(used))
    return [total.family, ratio.family, reserved.family, usage.family]
