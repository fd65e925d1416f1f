"""Gnocchi's unit of a metric decides the conversion to a Prometheus base unit.

Ceilometer wrote ``MB`` and ``GB`` for binary sizes until 2026.1 and ``MiB`` and ``GiB`` since;
a metric keeps the unit it was created with, so both spellings meet in one cloud and both mean
the binary size (libvirt reports KiB, Nova flavors GiB).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Unit:
    """What a stored unit becomes: the name suffix of its base unit and the factor to it."""

    suffix: str
    factor: float


_KIB, _MIB, _GIB, _TIB = 1024.0, 1024.0**2, 1024.0**3, 1024.0**4
_UNITS: dict[str, Unit] = {
    "ns": Unit("seconds", 1e-9),
    "us": Unit("seconds", 1e-6),
    "ms": Unit("seconds", 1e-3),
    "s": Unit("seconds", 1.0),
    "sec": Unit("seconds", 1.0),
    "second": Unit("seconds", 1.0),
    "seconds": Unit("seconds", 1.0),
    "B": Unit("bytes", 1.0),
    "KB": Unit("bytes", _KIB),
    "KiB": Unit("bytes", _KIB),
    "MB": Unit("bytes", _MIB),
    "MiB": Unit("bytes", _MIB),
    "GB": Unit("bytes", _GIB),
    "GiB": Unit("bytes", _GIB),
    "TB": Unit("bytes", _TIB),
    "TiB": Unit("bytes", _TIB),
    "B/s": Unit("bytes_per_second", 1.0),
    "%": Unit("ratio", 0.01),
    "percent": Unit("ratio", 0.01),
    "MHz": Unit("hertz", 1e6),
    "W": Unit("watts", 1.0),
    "Watts": Unit("watts", 1.0),
    "C": Unit("celsius", 1.0),
    "V": Unit("volts", 1.0),
    "Volts": Unit("volts", 1.0),
    "A": Unit("amperes", 1.0),
    "Amps": Unit("amperes", 1.0),
}


def convert(unit: str | None) -> Unit:
    """The base unit of ``unit``; a count (``packet``, ``request``, ``vcpu``) or an unknown
    unit keeps its value and adds no suffix."""
    return _UNITS.get((unit or "").strip(), Unit("", 1.0))


def family_name(prefix: str, metric: str, suffix: str, *, counter: bool, rate: bool) -> str:
    """``cpu`` in ns read as a counter -> ``gnocchi_cpu_seconds_total``.

    A ``rate:*`` aggregate divided by its granularity is a per-second gauge, named
    ``..._per_second``; a counting unit says so once (``packets_total``, not
    ``packets_packets_total``), and a percentage, turned into a ratio, drops ``_percent``.
    """
    stem = "".join(c if c.isalnum() else "_" for c in metric.lower()).strip("_")
    if suffix == "ratio":
        stem = stem.removesuffix("_percent")  # compute.node.cpu.idle.percent: a ratio now
    parts = [prefix, stem]
    if suffix and not stem.endswith(suffix):
        parts.append(suffix)
    name = "_".join(parts)
    if rate:
        return f"{name}_per_second"
    return f"{name}_total" if counter else name
