"""What Ceilometer's compute agent would publish for one server: metric names, units, archive
policies and a load profile per metric, shared by the measures feeder and the Gnocchi scale
seed. Plain Python (no OpenStack import), so any seed script can use it.

Counters are cumulative, in Ceilometer's units (``cpu`` in ns, bytes in B, requests,
packets), and use Ceilometer's ``-rate`` archive policy; gauges (memory in MB, sizes in GB or
B) use the plain one. Each profile is (idle, busy): a rate per second for counters, a level
for gauges.
"""

from __future__ import annotations

import random
from typing import Any

RATE, GAUGE = "ceilometer-high-rate", "ceilometer-high"
FALLBACK_FLAVOR = {"vcpus": 1, "ram": 128, "disk": 1, "OS-FLV-EXT-DATA:ephemeral": 0}
JITTER = 0.04

Profile = tuple[float, float]


class Series:
    """One metric: a counter grows by ``rate * elapsed`` per sample, a gauge is a level."""

    def __init__(self, unit: str, cumulative: bool, profile: Profile, start: float = 0.0) -> None:
        self.unit, self.cumulative, self.profile, self.start = unit, cumulative, profile, start

    @property
    def policy(self) -> str:
        return RATE if self.cumulative else GAUGE

    def spec(self) -> dict[str, str]:
        """The metric as Gnocchi's resource and metric APIs take it."""
        return {"archive_policy_name": self.policy, "unit": self.unit}

    def value(self, rng: random.Random, busy: bool, level: float, elapsed: float) -> float:
        """The next sample: a counter ``level`` grown over ``elapsed`` seconds, or a gauge."""
        rate = self.profile[1] if busy else self.profile[0]
        rate += rate * rng.uniform(-JITTER, JITTER)
        if not self.cumulative:
            return round(rate, 2)
        return float(round(level + rate * elapsed))


def instance_series(flavor: dict[str, Any]) -> dict[str, Series]:
    vcpus, ram = float(flavor["vcpus"]), float(flavor["ram"])
    ns_per_second = vcpus * 1e9
    ephemeral = float(flavor.get("OS-FLV-EXT-DATA:ephemeral", 0))
    return {
        "cpu": Series("ns", True, (0.15 * ns_per_second, 0.90 * ns_per_second), 3.6e12),
        "vcpus": Series("vcpu", False, (vcpus, vcpus)),
        "memory": Series("MB", False, (ram, ram)),
        "memory.usage": Series("MB", False, (0.55 * ram, 0.80 * ram)),
        "memory.resident": Series("MB", False, (0.62 * ram + 24, 0.86 * ram + 24)),
        "memory.swap.in": Series("MB", True, (0.0, 0.0)),
        "memory.swap.out": Series("MB", True, (0.0, 0.0)),
        "disk.root.size": Series("GB", False, (float(flavor["disk"]),) * 2),
        "disk.ephemeral.size": Series("GB", False, (ephemeral, ephemeral)),
    }


def disk_series(flavor: dict[str, Any]) -> dict[str, Series]:
    capacity = float(flavor["disk"]) * 1024**3
    return {
        "disk.device.read.bytes": Series("B", True, (48e3, 2.1e6), 3.1e8),
        "disk.device.write.bytes": Series("B", True, (21e3, 5.4e6), 9.6e7),
        "disk.device.read.requests": Series("request", True, (3.0, 130.0), 1.9e4),
        "disk.device.write.requests": Series("request", True, (1.5, 330.0), 6.1e3),
        "disk.device.capacity": Series("B", False, (capacity, capacity)),
        "disk.device.allocation": Series("B", False, (0.21 * capacity, 0.23 * capacity)),
        "disk.device.usage": Series("B", False, (0.21 * capacity, 0.23 * capacity)),
    }


def interface_series() -> dict[str, Series]:
    return {
        "network.incoming.bytes": Series("B", True, (2.2e3, 4.1e5), 7.3e7),
        "network.outgoing.bytes": Series("B", True, (1.1e3, 1.2e6), 2.9e7),
        "network.incoming.packets": Series("packet", True, (9.0, 520.0), 8.8e4),
        "network.outgoing.packets": Series("packet", True, (5.0, 910.0), 4.1e4),
        "network.incoming.packets.drop": Series("packet", True, (0.0, 0.0)),
        "network.outgoing.packets.drop": Series("packet", True, (0.0, 0.0)),
        "network.incoming.packets.error": Series("packet", True, (0.0, 0.0)),
        "network.outgoing.packets.error": Series("packet", True, (0.0, 0.0)),
    }


def series_by_type(flavor: dict[str, Any]) -> dict[str, dict[str, Series]]:
    """Ceilometer's metrics per Gnocchi resource type, for a server of ``flavor``."""
    return {
        "instance": instance_series(flavor),
        "instance_disk": disk_series(flavor),
        "instance_network_interface": interface_series(),
    }
