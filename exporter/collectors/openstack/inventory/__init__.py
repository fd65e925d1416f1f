"""The inventory cycle: counts and per-resource families, every few minutes.

Each part costs one request per page of its resources (per-project limits: one per project);
parts run side by side under the cycle's deadline. A part that fails drops its own families
for that cycle (nothing stale is served as current) and fails the cycle; the others publish.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial

from exporter.collectors.base import Collection
from exporter.collectors.openstack.catalog import endpoints
from exporter.collectors.openstack.families import Scope
from exporter.collectors.openstack.inventory import cinder, neutron, nova, others
from exporter.collectors.openstack.session import CloudSession
from exporter.collectors.openstack.tasks import Calls
from exporter.metric import MetricFamily

log = logging.getLogger(__name__)

DEADLINE_SHARE = 0.9

Part = Callable[[Scope, CloudSession], list[MetricFamily]]

# Part name -> (catalog types of which one must be present, function).
PARTS: dict[str, tuple[tuple[str, ...], Part]] = {
    "servers": (("compute",), nova.servers),
    "hypervisors": (("compute",), nova.hypervisors),
    "flavors": (("compute",), nova.flavors),
    "nova_limits": (("compute",), nova.limits),
    "volumes": (cinder.TYPES, cinder.volumes),
    "snapshots": (cinder.TYPES, cinder.snapshots),
    "cinder_pools": (cinder.TYPES, cinder.pools),
    "cinder_limits": (cinder.TYPES, cinder.limits),
    "images": (("image",), others.images),
    "networks": (("network",), neutron.networks),
    "subnets": (("network",), neutron.subnets),
    "ports": (("network",), neutron.ports),
    "routers": (("network",), neutron.routers),
    "l3_agents": (("network",), neutron.l3_agents),
    "floating_ips": (("network",), neutron.floating_ips),
    "security_groups": (("network",), neutron.security_groups),
    "ip_availability": (("network",), neutron.ip_availability),
    "identity": (("identity",), others.identity),
    "stacks": (("orchestration",), others.stacks),
}


class InventoryCollector:
    def __init__(self, session: CloudSession) -> None:
        self.session = session
        self.name = f"openstack:{session.config.label}:inventory"
        self._calls = Calls()

    def collect(self) -> Collection:
        cfg = self.session.config
        deadline = time.monotonic() + cfg.inventory.timeout * DEADLINE_SHARE
        auth = self._calls.run({"auth": self._catalog}, deadline)["auth"]
        if not auth.ok:
            return Collection(error=f"keystone: {auth.error}")
        present, region = auth.value
        scope = Scope(cfg.cloud, region)
        calls = {
            name: partial(fn, scope, self.session)
            for name, (types, fn) in PARTS.items()
            if cfg.runs(name) and any(t in present for t in types)
        }
        outcomes = self._calls.run(calls, deadline)
        ok = scope.gauge(
            "openstack_exporter_inventory_part_success",
            "Whether the inventory part succeeded in the last cycle (its families are absent "
            "when not).",
            ["part"],
        )
        families: list[MetricFamily] = []
        failed: list[str] = []
        for name, outcome in outcomes.items():
            ok.add([name], 1.0 if outcome.ok else 0.0)
            if outcome.ok:
                families.extend(outcome.value)
            else:
                failed.append(f"{name}: {outcome.error}")
                log.warning(
                    "inventory part failed",
                    extra={"cloud": cfg.label, "part": name, "error": outcome.error},
                )
        families.append(ok.family)
        return Collection(families, error="; ".join(failed) or None)

    def _catalog(self) -> tuple[set[str], str]:
        region = self.session.region
        eps = endpoints(
            self.session.catalog(),
            region or None,
            self.session.interface,
            self.session.config.skip_services,
        )
        return {ep.service_type for ep in eps}, region

    def fallback(self) -> list[MetricFamily]:
        return []

    def close(self) -> None:
        self.session.close()
