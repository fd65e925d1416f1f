"""The exporter's typed configuration, built and validated once at start.

Sources, strongest first: command-line flags, the ``--config.file`` YAML, built-in defaults.
Every problem becomes a ``ConfigError`` whose message fits on one line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exporter.collectors.plugin import C, Configured, Flag, Plugin
from exporter.collectors.registry import PLUGINS
from otb_common.errors import ConfigError
from otb_common.flags import parse_listen_address
from otb_common.logs import LOG_FORMATS, LOG_LEVELS
from otb_common.section import Section, load_config_file
from otb_common.webconfig import WebConfig, load_web_config

__all__ = [
    "DEFAULT_LISTEN_ADDRESS",
    "Config",
    "Flags",
    "build_config",
]

# 10198, and the bridge's 10199 next to it (docs/deployment.md, "Ports"). kolla-ansible (master,
# 2026-08) deploys nothing in 10000-10999; its openstack-exporter holds 9198, our old default.
# Prometheus' "Default port allocations" wiki list has 9100-9999 full (9198 is its Logstash
# exporter, 9199 its Cloudflare exporter) and gives newer exporters 10001 upwards, one by one:
# 10001-10026 in the latest copy read, up to about 10048 by 2026-08. Its other 10xxx entries
# are 10080, 10100-10101, 10200-10201 and 10998, so 10198-10199 are unlisted, and neither has
# an IANA service name (Zabbix holds 10050-10051, Amanda 10080-10083).
DEFAULT_LISTEN_ADDRESS = ":10198"
RESERVED_PATHS = frozenset({"/", "/healthz", "/readyz"})


@dataclass(frozen=True, slots=True)
class Config:
    listen_host: str = ""
    listen_port: int = 10198
    telemetry_path: str = "/metrics"
    web: WebConfig = field(default_factory=WebConfig)
    collectors: tuple[Configured[Any], ...] = ()
    once: bool = False
    log_level: str = "info"
    log_format: str = "logfmt"

    @property
    def enabled(self) -> tuple[str, ...]:
        """Names of the collectors that run, in registry order."""
        return tuple(c.plugin.name for c in self.collectors if c.enabled)

    def of(self, plugin: Plugin[C]) -> C:
        """That collector's frozen config, typed as its plug-in defines it."""
        for configured in self.collectors:
            if configured.plugin.name == plugin.name:
                config: C = configured.config
                return config
        raise KeyError(plugin.name)


@dataclass(frozen=True, slots=True)
class Flags:
    """What the command line said; ``None`` means "not given", so the file or default wins.
    Collectors' own flags are in ``options``, keyed by ``Flag.dest``."""

    listen_address: str = DEFAULT_LISTEN_ADDRESS
    telemetry_path: str = "/metrics"
    web_config_file: str | None = None
    config_file: str | None = None
    collectors: Mapping[str, bool | None] = field(default_factory=dict)
    options: Mapping[str, str | None] = field(default_factory=dict)
    once: bool = False
    log_level: str = "info"
    log_format: str = "logfmt"


def build_config(flags: Flags, plugins: Sequence[Plugin[Any]] = PLUGINS) -> Config:
    """Merge flags, file and defaults into a validated ``Config``."""
    host, port = parse_listen_address(flags.listen_address)
    if not flags.telemetry_path.startswith("/") or flags.telemetry_path in RESERVED_PATHS:
        raise ConfigError(
            f"--web.telemetry-path {flags.telemetry_path!r}: must start with '/' and not be "
            f"one of {', '.join(sorted(RESERVED_PATHS))}"
        )
    if flags.log_level not in LOG_LEVELS:
        raise ConfigError(f"--log.level {flags.log_level!r}: expected one of {LOG_LEVELS}")
    if flags.log_format not in LOG_FORMATS:
        raise ConfigError(f"--log.format {flags.log_format!r}: expected one of {LOG_FORMATS}")
    _check_registry(flags, plugins)

    root = Section(load_config_file(flags.config_file) if flags.config_file else {}, "")
    sections = root.section("collectors")
    collectors = tuple(_configure(p, sections.section(p.name), flags) for p in plugins)
    sections.finish()
    root.finish()

    web = load_web_config(flags.web_config_file) if flags.web_config_file else WebConfig()
    return Config(
        listen_host=host,
        listen_port=port,
        telemetry_path=flags.telemetry_path,
        web=web,
        collectors=collectors,
        once=flags.once,
        log_level=flags.log_level,
        log_format=flags.log_format,
    )


def _configure(plugin: Plugin[Any], section: Section, flags: Flags) -> Configured[Any]:
    """One collector's section: ``enabled`` here, the rest by the plug-in, then no leftovers."""
    switch = flags.collectors.get(plugin.name)
    in_file = section.boolean("enabled", plugin.enabled_by_default)
    enabled = in_file if switch is None else switch
    options = {flag.dest: _flag_value(flag, flags) for flag in plugin.flags}
    config = plugin.configure(section, options, enabled)
    section.finish()
    return Configured(plugin, config, enabled)


def _flag_value(flag: Flag, flags: Flags) -> str | None:
    given = flags.options.get(flag.dest)
    if given is None and flag.env is not None:
        return os.environ.get(flag.env) or None
    return given


def _check_registry(flags: Flags, plugins: Sequence[Plugin[Any]]) -> None:
    """Programming errors, not operator ones: a collector listed twice, an unknown option."""
    names = [p.name for p in plugins]
    if len(set(names)) != len(names):
        raise ValueError(f"a collector is registered twice: {names}")
    dests = {flag.dest for p in plugins for flag in p.flags}
    unknown = sorted(set(flags.options) - dests)
    if unknown:
        raise TypeError(f"Flags: no collector declares an option {unknown[0]!r}")
