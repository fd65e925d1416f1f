"""What one cycle reads: requests grouped by resource type, archive policy and granularity.

One metric that lacks the requested granularity or aggregation fails a whole aggregates
request, so the groups follow what Gnocchi stores. Discovery learns that from a few live
resources of each type (their metrics' archive policies and units), not from the
configuration alone: an operator's policies may differ from Ceilometer's defaults. It runs at
the first cycle, every ``discovery_interval``, and after a read that Gnocchi refused.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from exporter.collectors.gnocchi.client import GnocchiClient, Policy, StoredMetric
from exporter.collectors.gnocchi.config import GnocchiConfig, MetricConfig, TypeConfig
from exporter.collectors.gnocchi.units import convert, family_name

log = logging.getLogger(__name__)

PREFIX = "gnocchi"
SAMPLE_RESOURCES = 20
"""Newest live resources looked at per type: enough to meet every meter the type carries."""
MAX_METRIC_LISTINGS = 5
BASE_LABELS = ("cloud", "region", "resource_type", "resource_id", "project_id", "user_id")


@dataclass(frozen=True, slots=True)
class Series:
    """One configured meter as it is read and exported."""

    metric: str
    aggregation: str
    family: str
    counter: bool
    rate: bool
    factor: float
    stored_unit: str

    @property
    def help(self) -> str:
        what = "Per-second rate from the latest" if self.rate else "Latest"
        unit = f", converted from {self.stored_unit}" if self.factor != 1.0 else ""
        return f"{what} {self.aggregation} point of the meter {self.metric} in Gnocchi{unit}."


@dataclass(frozen=True, slots=True)
class Group:
    """One aggregates request per shard: metrics of one type sharing policy and granularity."""

    resource_type: str
    policy: str
    granularity: float
    series: tuple[Series, ...]
    shards: int
    labels: tuple[tuple[str, str], ...]

    @property
    def key(self) -> str:
        return f"{self.resource_type}:{self.policy}:{self.granularity:g}"

    @property
    def operations(self) -> str:
        refs = " ".join(f"({s.metric} {s.aggregation})" for s in self.series)
        return f"(metric {refs})"

    @property
    def labelnames(self) -> tuple[str, ...]:
        return (*BASE_LABELS, *(label for label, _ in self.labels))


@dataclass(frozen=True, slots=True)
class Reference:
    """The metric whose newest point says whether metricd keeps up."""

    resource_type: str
    metric: str
    aggregation: str
    granularity: float
    metric_id: str


@dataclass(slots=True)
class Plan:
    groups: list[Group] = field(default_factory=list)
    reference: Reference | None = None
    problems: list[str] = field(default_factory=list)
    """Configured types or meters that cannot be read, named for the log."""


def auto_granularity(policy: Policy, minimum: float) -> float | None:
    """The policy's finest granularity at least ``minimum`` (a one-second archive holds one
    point per sample, never a mean over a polling interval), else its coarsest."""
    if not policy.granularities:
        return None
    fitting = [g for g in policy.granularities if g >= minimum]
    return min(fitting) if fitting else max(policy.granularities)


def discover(client: GnocchiClient, config: GnocchiConfig) -> Plan:
    """The plan for the types this Gnocchi has and that have live resources."""
    plan = Plan()
    present = client.resource_types()
    families: dict[str, tuple[str, tuple[str, ...]]] = {}
    for kind in config.types:
        if kind.name not in present:
            if kind.configured:
                plan.problems.append(f"resource type {kind.name!r} does not exist in Gnocchi")
            continue
        stored = _stored_metrics(client, kind)
        if stored is None:
            continue  # no live resource of this type: nothing to read until one appears
        for group in _groups(kind, stored, config, plan.problems, families):
            plan.groups.append(group)
        ref_type, ref_metric = config.reference
        if kind.name == ref_type and ref_metric in stored:
            plan.reference = _reference(kind, stored[ref_metric], config)
    if plan.reference is None and plan.groups:
        ref_type, ref_metric = config.reference
        plan.problems.append(
            f"reference {ref_type}/{ref_metric}: not read (no live resource carries it, or "
            "the type or meter is not configured), so gnocchi_newest_point_age_seconds is absent"
        )
    return plan


def _stored_metrics(client: GnocchiClient, kind: TypeConfig) -> dict[str, StoredMetric] | None:
    """The wanted meters as stored on the newest live resources, by name; None when the type
    has no live resource."""
    samples = client.live_resources(kind.name, SAMPLE_RESOURCES)
    if not samples:
        return None
    wanted = {m.metric for m in kind.metrics}
    found: dict[str, StoredMetric] = {}
    listings = 0
    for resource in samples:
        missing = (wanted & set(resource.get("metrics") or {})) - set(found)
        if not missing:
            continue
        if listings == MAX_METRIC_LISTINGS:
            break
        listings += 1
        for metric in client.metrics(kind.name, str(resource["id"])):
            if metric.name in missing:
                found[metric.name] = metric
    return found


def _groups(
    kind: TypeConfig,
    stored: dict[str, StoredMetric],
    config: GnocchiConfig,
    problems: list[str],
    families: dict[str, tuple[str, tuple[str, ...]]],
) -> Iterable[Group]:
    by_key: dict[tuple[str, float], list[Series]] = {}
    labelnames = (*BASE_LABELS, *(label for label, _ in kind.labels))
    for wanted in kind.metrics:
        metric = stored.get(wanted.metric)
        if metric is None:
            if wanted.configured:
                problems.append(
                    f"{kind.name}/{wanted.metric}: no live resource of the type carries this meter"
                )
            continue
        made = _series(kind, wanted, metric, config, problems)
        if made is None:
            continue
        series, granularity = made
        kind_and_labels = ("counter" if series.counter else "gauge", labelnames)
        if families.setdefault(series.family, kind_and_labels) != kind_and_labels:
            problems.append(
                f"{kind.name}/{wanted.metric}: {series.family} is already read with other "
                "labels or another type"
            )
            continue
        by_key.setdefault((metric.policy.name, granularity), []).append(series)
    for (policy, granularity), series_list in sorted(by_key.items()):
        yield Group(kind.name, policy, granularity, tuple(series_list), kind.shards, kind.labels)


def _series(
    kind: TypeConfig,
    wanted: MetricConfig,
    metric: StoredMetric,
    config: GnocchiConfig,
    problems: list[str],
) -> tuple[Series, float] | None:
    where = f"{kind.name}/{wanted.metric}"
    granularity = wanted.granularity or auto_granularity(metric.policy, config.min_granularity)
    if granularity is None or granularity not in metric.policy.granularities:
        problems.append(
            f"{where}: archive policy {metric.policy.name} has no {granularity or 0:g}s granularity"
        )
        return None
    if wanted.aggregation not in metric.policy.methods:
        problems.append(
            f"{where}: archive policy {metric.policy.name} does not keep {wanted.aggregation}"
        )
        return None
    stored = convert(metric.unit)
    expected = convert(wanted.unit) if wanted.unit is not None else stored
    if stored.suffix != expected.suffix:
        problems.append(f"{where}: stored in {metric.unit!r}, expected {wanted.unit!r}")
        return None
    rate = wanted.aggregation.startswith("rate:")
    counter = wanted.counter and not rate
    name = family_name(PREFIX, wanted.metric, expected.suffix, counter=counter, rate=rate)
    factor = stored.factor / granularity if rate else stored.factor
    series = Series(
        wanted.metric, wanted.aggregation, name, counter, rate, factor, metric.unit or ""
    )
    return series, granularity


def _reference(kind: TypeConfig, metric: StoredMetric, config: GnocchiConfig) -> Reference | None:
    wanted = next((m for m in kind.metrics if m.metric == metric.name), None)
    granularity = (wanted.granularity if wanted else None) or auto_granularity(
        metric.policy, config.min_granularity
    )
    if granularity is None:
        return None
    aggregation = "mean" if "mean" in metric.policy.methods else min(metric.policy.methods)
    return Reference(kind.name, metric.name, aggregation, granularity, metric.id)
