"""Gnocchi's units become Prometheus base units, and meter names become valid, unique family
names: a wrong factor or a clashing name would publish wrong or refused series."""

from __future__ import annotations

import re

import pytest

from exporter.collectors.gnocchi import defaults
from exporter.collectors.gnocchi.units import Unit, convert, family_name

PROMETHEUS_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("ns", Unit("seconds", 1e-9)),
        ("MB", Unit("bytes", 2.0**20)),
        ("MiB", Unit("bytes", 2.0**20)),
        ("GB", Unit("bytes", 2.0**30)),
        ("GiB", Unit("bytes", 2.0**30)),
        ("B", Unit("bytes", 1.0)),
        ("%", Unit("ratio", 0.01)),
        ("packet", Unit("", 1.0)),
        ("furlong", Unit("", 1.0)),
        ("", Unit("", 1.0)),
        (None, Unit("", 1.0)),
    ],
)
def test_convert(unit: str | None, expected: Unit) -> None:
    assert convert(unit) == expected


@pytest.mark.parametrize(
    ("metric", "unit", "counter", "rate", "name"),
    [
        ("cpu", "ns", True, False, "gnocchi_cpu_seconds_total"),
        ("memory.usage", "MB", False, False, "gnocchi_memory_usage_bytes"),
        (
            "network.incoming.packets",
            "packet",
            True,
            False,
            "gnocchi_network_incoming_packets_total",
        ),
        ("cpu", "ns", False, True, "gnocchi_cpu_seconds_per_second"),
        ("network.incoming.bytes", "B", False, True, "gnocchi_network_incoming_bytes_per_second"),
        ("vcpus", "vcpu", False, False, "gnocchi_vcpus"),
    ],
)
def test_family_name(metric: str, unit: str, counter: bool, rate: bool, name: str) -> None:
    assert family_name("gnocchi", metric, convert(unit).suffix, counter=counter, rate=rate) == name


@pytest.mark.parametrize("kind", sorted(defaults.RESOURCE_TYPES))
def test_every_default_meter_has_a_valid_name_unique_in_its_type(kind: str) -> None:
    names = [
        family_name(
            "gnocchi", metric, convert(meter.unit).suffix, counter=meter.cumulative, rate=False
        )
        for metric, meter in defaults.RESOURCE_TYPES[kind].items()
    ]
    for name in names:
        assert PROMETHEUS_NAME.fullmatch(name), name
        assert "__" not in name, name
    assert len(set(names)) == len(names), names


def test_ceilometer_spellings_of_units_convert() -> None:
    """Ceilometer stores ``percent`` for the compute node meters and ``second`` for some."""
    assert convert("percent") == convert("%")
    assert convert("second").suffix == "seconds"
    assert convert("Amps").suffix == "amperes"
    name = family_name(
        "gnocchi", "compute.node.cpu.idle.percent", "ratio", counter=False, rate=False
    )
    assert name == "gnocchi_compute_node_cpu_idle_ratio"
