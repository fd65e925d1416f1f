"""``collectors.gnocchi``: the cloud, the cycle, and what to read per resource type.

Left out, ``resource_types`` is Ceilometer's defaults (``defaults.py``). An entry for a type
changes that type only; its ``metrics`` mapping, when given, replaces the type's meter list.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from exporter.collectors.gnocchi import defaults
from exporter.collectors.openstack.config import INTERFACES
from exporter.collectors.plugin import Schedule, read_schedule
from otb_common.errors import ConfigError
from otb_common.section import Section

SCHEDULE = Schedule(60.0, 50.0)
API_TIMEOUT = 20.0
STALE_AFTER = 3.0
MIN_GRANULARITY = 60.0
DISCOVERY_INTERVAL = 600.0
MAX_SHARDS = 256
KINDS = ("counter", "gauge")


@dataclass(frozen=True, slots=True)
class MetricConfig:
    """One meter of one type. ``granularity`` None: the archive policy's finest at least
    ``min_granularity``; ``unit`` None: the unit Gnocchi stores decides."""

    metric: str
    counter: bool
    aggregation: str = "mean"
    granularity: float | None = None
    unit: str | None = None
    configured: bool = False
    """Written by the operator, not a default: a meter Gnocchi lacks is then a warning."""


@dataclass(frozen=True, slots=True)
class TypeConfig:
    name: str
    metrics: tuple[MetricConfig, ...]
    shards: int = 1
    labels: tuple[tuple[str, str], ...] = ()
    """(label name, resource attribute) beyond the labels every series carries."""
    configured: bool = False


@dataclass(frozen=True, slots=True)
class GnocchiConfig:
    cloud: str = ""
    region: str | None = None
    interface: str | None = None
    api_timeout: float = API_TIMEOUT
    schedule: Schedule = SCHEDULE
    stale_after: float = STALE_AFTER
    min_granularity: float = MIN_GRANULARITY
    discovery_interval: float = DISCOVERY_INTERVAL
    status: bool = True
    reference: tuple[str, str] = ("instance", "cpu")
    types: tuple[TypeConfig, ...] = field(default_factory=lambda: tuple(default_types().values()))
    """Ceilometer's defaults unless told otherwise, also for a config built in code."""

    @property
    def label(self) -> str:
        return f"{self.cloud}:{self.region}" if self.region else self.cloud


def default_types() -> dict[str, TypeConfig]:
    return {
        name: TypeConfig(
            name,
            tuple(
                MetricConfig(metric, meter.cumulative, unit=meter.unit or None)
                for metric, meter in meters.items()
            ),
            labels=tuple(defaults.LABELS.get(name, {}).items()),
        )
        for name, meters in defaults.RESOURCE_TYPES.items()
    }


def _number(section: Section, key: str, default: float, minimum: float) -> float:
    value = section.value(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ConfigError(f"{section.path(key)}: expected a number of at least {minimum:g}")
    return float(value)


def _text(section: Section, key: str) -> str | None:
    value = section.value(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{section.path(key)}: expected a non-empty string")
    return value


def read_metric(section: Section, metric: str, base: MetricConfig | None) -> MetricConfig:
    kind = _text(section, "kind")
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"{section.path('kind')}: expected counter or gauge")
    if kind is None and base is None:
        raise ConfigError(f"{section.path('kind')}: required for a meter Ceilometer lacks")
    aggregation = _text(section, "aggregation") or "mean"
    granularity = section.value("granularity")
    every = section.duration("granularity", 1.0) if granularity is not None else None
    unit = _text(section, "unit")
    section.finish()
    return MetricConfig(
        metric=metric,
        counter=(kind == "counter") if kind is not None else bool(base and base.counter),
        aggregation=aggregation,
        granularity=every,
        unit=unit if unit is not None else (base.unit if base else None),
        configured=True,
    )


def read_type(section: Section, name: str, base: TypeConfig | None) -> TypeConfig | None:
    """One ``resource_types`` entry over its default; None when it is turned off."""
    enabled = section.boolean("enabled", True)
    shards = int(_number(section, "shards", base.shards if base else 1, 1))
    if shards > MAX_SHARDS:
        raise ConfigError(f"{section.path('shards')}: at most {MAX_SHARDS}")
    labels = section.value("labels")
    if labels is not None and (
        not isinstance(labels, dict)
        or not all(isinstance(k, str) and isinstance(v, str) and k and v for k, v in labels.items())
    ):
        raise ConfigError(f"{section.path('labels')}: expected a mapping of label: attribute")
    granularity = section.value("granularity")
    every = section.duration("granularity", 1.0) if granularity is not None else None
    known = {m.metric: m for m in base.metrics} if base else {}
    metrics_section = section.value("metrics")
    if metrics_section is None:
        if base is None:
            raise ConfigError(f"{section.path('metrics')}: required for a type Ceilometer lacks")
        metrics = list(base.metrics)
    else:
        if not isinstance(metrics_section, dict) or not metrics_section:
            raise ConfigError(f"{section.path('metrics')}: expected a mapping of meter: settings")
        inner = section.section("metrics")
        metrics = []
        for metric in metrics_section:
            metrics.append(read_metric(inner.section(str(metric)), str(metric), known.get(metric)))
        inner.finish()
    section.finish()
    if every is not None:
        metrics = [
            m if m.granularity is not None else replace(m, granularity=every) for m in metrics
        ]
    if not enabled:
        return None
    return TypeConfig(
        name=name,
        metrics=tuple(metrics),
        shards=shards,
        labels=tuple(labels.items()) if labels is not None else (base.labels if base else ()),
        configured=True,
    )


def read_types(section: Section) -> tuple[TypeConfig, ...]:
    use_defaults = section.boolean("default_resource_types", True)
    base = default_types()
    types = dict(base) if use_defaults else {}
    entries = section.value("resource_types")
    if entries is None:
        if not types:
            raise ConfigError(
                f"{section.path('resource_types')}: required when default_resource_types is false"
            )
        return tuple(types.values())
    if not isinstance(entries, dict):
        raise ConfigError(f"{section.path('resource_types')}: expected a mapping of type: settings")
    inner = section.section("resource_types")
    for name in entries:
        entry = read_type(inner.section(str(name)), str(name), base.get(str(name)))
        if entry is None:
            types.pop(str(name), None)
        else:
            types[str(name)] = entry
    inner.finish()
    return tuple(types.values())


def read_config(
    section: Section, flag_cloud: str | None, env_cloud: str | None, enabled: bool
) -> GnocchiConfig:
    """The flag beats the file, the file beats ``$OS_CLOUD``, as for the openstack collector."""
    file_cloud = _text(section, "cloud")  # read even when the flag wins: else "unknown key"
    cloud = flag_cloud or file_cloud or env_cloud or ""
    region = _text(section, "region")
    interface = _text(section, "interface")
    if interface is not None:
        interface = interface.removesuffix("URL")
        if interface not in INTERFACES:
            raise ConfigError(
                f"{section.path('interface')}: expected one of {', '.join(INTERFACES)}"
            )
    schedule = read_schedule(section, *SCHEDULE)
    api_timeout = section.duration("api_timeout", min(API_TIMEOUT, schedule.timeout))
    if api_timeout > schedule.timeout:
        raise ConfigError(
            f"{section.path('api_timeout')}: must not be longer than the timeout "
            f"({schedule.timeout:g}s), or one hanging request outlives the cycle"
        )
    reference = section.string("reference", "instance/cpu")
    kind, _, metric = reference.partition("/")
    if not kind or not metric:
        raise ConfigError(f"{section.path('reference')}: expected TYPE/METER (instance/cpu)")
    config = GnocchiConfig(
        cloud=cloud,
        region=region,
        interface=interface,
        api_timeout=api_timeout,
        schedule=schedule,
        stale_after=_number(section, "stale_after", STALE_AFTER, 1.0),
        min_granularity=section.duration("min_granularity", MIN_GRANULARITY),
        discovery_interval=section.duration("discovery_interval", DISCOVERY_INTERVAL),
        status=section.boolean("status", True),
        reference=(kind, metric),
        types=read_types(section),
    )
    if enabled and not config.cloud:
        raise ConfigError(
            "collectors.gnocchi: no cloud: pass --os-cloud NAME, set OS_CLOUD, or set "
            f"{section.path('cloud')}"
        )
    return config
