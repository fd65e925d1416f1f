"""Families of one cloud: every series starts with the ``cloud`` and ``region`` labels, so one
exporter can watch several clouds or regions and a single cloud looks the same."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from exporter.metric import MetricFamily

BASE_LABELS = ("cloud", "region")


class CloudFamily:
    """A gauge (every openstack-exporter family is one) whose rows carry the cloud labels."""

    __slots__ = ("_base", "family")

    def __init__(
        self, base: tuple[str, str], name: str, help_: str, labels: Sequence[str] = ()
    ) -> None:
        self._base = base
        self.family = MetricFamily(name, help_, "gauge", (*BASE_LABELS, *labels))

    def add(self, values: Sequence[str], value: float) -> CloudFamily:
        self.family.add((*self._base, *values), value)
        return self


class Scope:
    """Makes the families of one (cloud, region)."""

    def __init__(self, cloud: str, region: str) -> None:
        self.base = (cloud, region)

    def gauge(self, name: str, help_: str, labels: Sequence[str] = ()) -> CloudFamily:
        return CloudFamily(self.base, name, help_, labels)

    def counter(self, name: str, help_: str, labels: Sequence[str] = ()) -> MetricFamily:
        return MetricFamily(name, help_, "counter", (*BASE_LABELS, *labels))

    def value(self, name: str, help_: str, value: float) -> MetricFamily:
        return self.gauge(name, help_).add((), value).family


def text(value: object) -> str:
    """A label value from an API field that may be None, a bool or a number."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True, slots=True)
class Checked:
    """A check that failed yet knows something true (Heat: "all engines are down" is zero
    engines up), so its families are published beside the failure."""

    families: list[MetricFamily] = field(default_factory=list)
    error: str | None = None
