"""``collectors.openstack``: one cloud at the top level, or several under ``clouds:``."""

from __future__ import annotations

from dataclasses import dataclass, replace

from exporter.collectors.openstack.parts import ALL_PARTS
from exporter.collectors.plugin import Schedule, read_schedule
from otb_common.errors import ConfigError
from otb_common.section import Section

HEALTH = Schedule(30.0, 25.0)
INVENTORY = Schedule(300.0, 240.0)
API_TIMEOUT = 10.0
INTERFACES = ("public", "internal", "admin")


@dataclass(frozen=True, slots=True)
class CloudConfig:
    """One connection and its two cycles; ``region``/``interface`` None keep clouds.yaml's."""

    cloud: str
    region: str | None = None
    interface: str | None = None
    api_timeout: float = API_TIMEOUT
    skip_services: frozenset[str] = frozenset()
    disabled: frozenset[str] = frozenset()
    health: Schedule = HEALTH
    inventory: Schedule = INVENTORY
    inventory_enabled: bool = True

    @property
    def label(self) -> str:
        """What the collector names carry: the cloud, and the region when one is chosen."""
        return f"{self.cloud}:{self.region}" if self.region else self.cloud

    def runs(self, part: str) -> bool:
        return part not in self.disabled


@dataclass(frozen=True, slots=True)
class OpenStackConfig:
    clouds: tuple[CloudConfig, ...] = ()


def _strings(section: Section, key: str, allowed: tuple[str, ...] | None = None) -> frozenset[str]:
    value = section.value(key)
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{section.path(key)}: expected a list of names")
    if allowed is not None:
        for item in value:
            if item not in allowed:
                raise ConfigError(
                    f"{section.path(key)}: unknown part {item!r} (known: {', '.join(allowed)})"
                )
    return frozenset(value)


def read_cloud(section: Section, cloud: str | None, base: CloudConfig | None) -> CloudConfig:
    """One cloud's settings; ``base`` (the top level) supplies what an entry leaves out."""
    base = base or CloudConfig(cloud="")
    name = section.string("cloud", cloud or "") if section.value("cloud") else cloud
    region = section.value("region")
    interface = section.value("interface")
    for key, value in (("region", region), ("interface", interface)):
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"{section.path(key)}: expected a non-empty string")
    if interface is not None:
        interface = interface.removesuffix("URL")
        if interface not in INTERFACES:
            raise ConfigError(
                f"{section.path('interface')}: expected one of {', '.join(INTERFACES)}"
            )
    health_section = section.section("health")
    health = read_schedule(health_section, *base.health)
    health_section.finish()
    # Left out, it follows a short health deadline down, as a timeout follows the interval:
    # only an api_timeout written here can be too long.
    api_timeout = section.duration("api_timeout", min(base.api_timeout, health.timeout))
    inventory_section = section.section("inventory")
    inventory = read_schedule(inventory_section, *base.inventory)
    inventory_enabled = inventory_section.boolean("enabled", base.inventory_enabled)
    inventory_section.finish()
    if api_timeout > health.timeout:
        raise ConfigError(
            f"{section.path('api_timeout')}: must not be longer than the health timeout "
            f"({health.timeout:g}s), or one hanging request outlives the cycle"
        )
    # An entry's own list, even an empty one, replaces the top level's.
    skip = (
        _strings(section, "skip_services") if section.value("skip_services") is not None else None
    )
    disabled = (
        _strings(section, "disable", ALL_PARTS) if section.value("disable") is not None else None
    )
    return CloudConfig(
        cloud=name or "",
        region=region if region is not None else base.region,
        interface=interface if interface is not None else base.interface,
        api_timeout=api_timeout,
        skip_services=skip if skip is not None else base.skip_services,
        disabled=disabled if disabled is not None else base.disabled,
        health=health,
        inventory=inventory,
        inventory_enabled=inventory_enabled,
    )


def read_config(
    section: Section, flag_cloud: str | None, env_cloud: str | None, enabled: bool
) -> OpenStackConfig:
    """The flag beats the file, the file beats ``$OS_CLOUD``; a list of clouds stands alone."""
    entries = section.sections("clouds")
    file_cloud = section.value("cloud")
    if entries and (flag_cloud or file_cloud):
        raise ConfigError(
            f"{section.path('clouds')}: give either one cloud (--os-cloud or "
            f"{section.path('cloud')}) or a list of clouds, not both"
        )
    top = read_cloud(section, flag_cloud or None, None)
    if flag_cloud:
        top = replace(top, cloud=flag_cloud)
    elif not top.cloud and env_cloud:
        top = replace(top, cloud=env_cloud)
    if not entries:
        if enabled and not top.cloud:
            raise ConfigError(
                "collectors.openstack: no cloud: pass --os-cloud NAME, set OS_CLOUD, or set "
                f"{section.path('cloud')}"
            )
        return OpenStackConfig((top,) if top.cloud else ())
    clouds: list[CloudConfig] = []
    seen: set[tuple[str, str | None]] = set()
    for entry in entries:
        if entry.value("cloud") is None:
            raise ConfigError(f"{entry.where}.cloud: required")
        cloud = read_cloud(entry, None, top)
        entry.finish()
        key = (cloud.cloud, cloud.region)
        if key in seen:
            raise ConfigError(f"{entry.where}: cloud {cloud.label!r} is listed twice")
        seen.add(key)
        clouds.append(cloud)
    return OpenStackConfig(tuple(clouds))
