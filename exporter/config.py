"""The exporter's typed configuration, built and validated once at start.

Sources, strongest first: command-line flags, the ``--config.file`` YAML, built-in defaults.
Every problem becomes a ``ConfigError`` whose message fits on one line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporter.errors import ConfigError
from exporter.section import Section
from exporter.webconfig import WebConfig, load_web_config

__all__ = [
    "COLLECTORS",
    "DEFAULT_LISTEN_ADDRESS",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "Config",
    "Flags",
    "LibvirtConfig",
    "Section",
    "build_config",
    "load_config_file",
    "parse_listen_address",
]

DEFAULT_LISTEN_ADDRESS = ":9198"
COLLECTORS = ("libvirt",)
RESERVED_PATHS = frozenset({"/", "/healthz", "/readyz"})
LOG_LEVELS = ("debug", "info", "warn", "error")
LOG_FORMATS = ("logfmt", "json")


@dataclass(frozen=True, slots=True)
class LibvirtConfig:
    uri: str = "qemu:///system"
    interval: float = 15.0
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class Config:
    listen_host: str = ""
    listen_port: int = 9198
    telemetry_path: str = "/metrics"
    web: WebConfig = field(default_factory=WebConfig)
    enabled: tuple[str, ...] = COLLECTORS
    libvirt: LibvirtConfig = field(default_factory=LibvirtConfig)
    once: bool = False
    log_level: str = "info"
    log_format: str = "logfmt"


@dataclass(frozen=True, slots=True)
class Flags:
    """What the command line said; ``None`` means "not given", so the file or default wins."""

    listen_address: str = DEFAULT_LISTEN_ADDRESS
    telemetry_path: str = "/metrics"
    web_config_file: str | None = None
    config_file: str | None = None
    collectors: Mapping[str, bool | None] = field(default_factory=dict)
    libvirt_uri: str | None = None
    once: bool = False
    log_level: str = "info"
    log_format: str = "logfmt"


def parse_listen_address(text: str) -> tuple[str, int]:
    """Split ``host:port``, ``:port`` or ``[v6]:port``; an empty host means every interface."""
    match = re.fullmatch(r"(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]]*)):(\d{1,5})", text)
    if match is None:
        raise ConfigError(f"--web.listen-address {text!r}: expected HOST:PORT or :PORT")
    port = int(match.group(3))
    if port > 65535:
        raise ConfigError(f"--web.listen-address {text!r}: port out of range")
    return match.group(1) or match.group(2) or "", port


def load_config_file(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--config.file {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"--config.file {path}:{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"--config.file {path}: expected a mapping at the top level")
    return data


def build_config(flags: Flags) -> Config:
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

    root = Section(load_config_file(flags.config_file) if flags.config_file else {}, "")
    collectors = root.section("collectors")
    libvirt_section = collectors.section("libvirt")
    enabled_in_file = {"libvirt": libvirt_section.boolean("enabled", True)}
    defaults = LibvirtConfig()
    uri_in_file = libvirt_section.string("uri", defaults.uri)
    interval = libvirt_section.duration("interval", defaults.interval)
    libvirt = LibvirtConfig(
        uri=flags.libvirt_uri or uri_in_file,
        interval=interval,
        # Unset, the deadline follows a short interval down rather than exceed it.
        timeout=libvirt_section.duration("timeout", min(defaults.timeout, interval)),
    )
    libvirt_section.finish()
    collectors.finish()
    root.finish()
    if libvirt.timeout > libvirt.interval:
        raise ConfigError("collectors.libvirt.timeout: must not be longer than the interval")

    enabled = tuple(
        name
        for name in COLLECTORS
        if (
            flags.collectors.get(name)
            if flags.collectors.get(name) is not None
            else enabled_in_file[name]
        )
    )
    web = load_web_config(flags.web_config_file) if flags.web_config_file else WebConfig()
    return Config(
        listen_host=host,
        listen_port=port,
        telemetry_path=flags.telemetry_path,
        web=web,
        enabled=enabled,
        libvirt=libvirt,
        once=flags.once,
        log_level=flags.log_level,
        log_format=flags.log_format,
    )
