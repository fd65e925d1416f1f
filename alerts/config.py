"""Flags and the YAML file merged into one validated ``BridgeConfig``; errors are one line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from alerts.lifecycle import INSUFFICIENT_DATA_POLICIES, InsufficientDataPolicy
from alerts.mapping import DEFAULT_SEVERITIES
from alerts.payload import SEVERITIES
from otb_common.durations import parse_duration
from otb_common.errors import ConfigError
from otb_common.flags import parse_listen_address as _parse_address
from otb_common.logs import LOG_FORMATS, LOG_LEVELS
from otb_common.section import Section, load_config_file
from otb_common.webconfig import WebConfig, load_web_config

# Next to the exporter's 10198; the evidence is in exporter/config.py and docs/deployment.md
# ("Ports"): free in kolla-ansible, absent from Prometheus' default port allocations list
# (whose 10200 is Hardware Observer Operator), no IANA name. The old 9199 is that list's
# Cloudflare exporter.
DEFAULT_LISTEN_ADDRESS = ":10199"
DEFAULT_STATE_PATH = "/var/lib/aodh-alertmanager-bridge/state.db"
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_RESERVED_LABELS = ("alertname", "alarm_id", "severity", "source")


@dataclass(frozen=True, slots=True)
class Flags:
    listen_address: str = DEFAULT_LISTEN_ADDRESS
    web_config_file: str | None = None
    config_file: str | None = None
    alertmanager_urls: tuple[str, ...] = ()
    state_path: str | None = None
    resend_interval: str | None = None
    os_cloud: str | None = None
    log_level: str = "info"
    log_format: str = "logfmt"


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    listen_host: str
    listen_port: int
    web: WebConfig
    alertmanagers: tuple[str, ...]
    state_path: Path
    resend_interval: float
    resolved_resend_for: float
    alertmanager_timeout: float
    batch_size: int
    insufficient_data: InsufficientDataPolicy
    severities: dict[str, str]
    static_labels: dict[str, str]
    generator_url: str | None  # None: derive from the Aodh endpoint when there is one
    os_cloud: str | None
    api_timeout: float
    reconcile_interval: float
    action_match: re.Pattern[str]
    keystone_tokens: bool
    keystone_roles: tuple[str, ...]
    synchronous: str
    log_level: str = "info"
    log_format: str = "logfmt"
    threads: int = 32
    max_connections: int = 1000
    idle_timeout: int = 60  # whole seconds: the HTTP server counts in seconds


def _duration_flag(name: str, text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    if seconds <= 0:
        raise ConfigError(f"{name}: must be greater than zero")
    return seconds


def _alertmanager_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"--alertmanager.url {redact_url(text)!r}: expected http(s)://HOST:PORT[/PREFIX]"
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"--alertmanager.url {redact_url(text)!r}: bad port") from None
    return text.rstrip("/")


def redact_url(url: str) -> str:
    """A URL safe for logs and metric labels: credentials removed."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _string_map(section: Section, key: str, where: str) -> dict[str, str]:
    raw = section.value(key)
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ConfigError(f"{where}: expected a mapping of strings to strings")
    return dict(raw)


def _string_list(section: Section, key: str, where: str) -> tuple[str, ...]:
    raw = section.value(key)
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
        raise ConfigError(f"{where}: expected a list of strings")
    return tuple(raw)


def _bounded_int(section: Section, key: str, default: int, most: int) -> int:
    raw = section.value(key)
    value = default if raw is None else raw
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
        raise ConfigError(f"server.{key}: expected an integer from 1 to {most}")
    return value


def build_config(flags: Flags) -> BridgeConfig:  # noqa: PLR0912,PLR0915 - one pass, one place
    if flags.log_level not in LOG_LEVELS:
        raise ConfigError(f"--log.level {flags.log_level!r}: expected one of {LOG_LEVELS}")
    if flags.log_format not in LOG_FORMATS:
        raise ConfigError(f"--log.format {flags.log_format!r}: expected one of {LOG_FORMATS}")
    host, port = _parse_address(flags.listen_address)
    web = load_web_config(flags.web_config_file) if flags.web_config_file else WebConfig()
    top = Section(load_config_file(flags.config_file) if flags.config_file else {}, "")

    am = top.section("alertmanager")
    urls = [*_string_list(am, "urls", "alertmanager.urls"), *flags.alertmanager_urls]
    alertmanagers = tuple(dict.fromkeys(_alertmanager_url(u) for u in urls))
    if not alertmanagers:
        raise ConfigError("no Alertmanager: give --alertmanager.url (once per replica)")
    timeout = am.duration("timeout", 10.0)
    batch = am.value("batch_size")
    batch_size = 500 if batch is None else batch
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigError("alertmanager.batch_size: expected a positive integer")
    am.finish()

    resend = top.duration("resend_interval", 60.0)
    if flags.resend_interval is not None:
        resend = _duration_flag("--resend-interval", flags.resend_interval)
    resolved_for = top.duration("resolved_resend_for", 900.0)

    policy = top.string("insufficient_data", "keep")
    if policy not in INSUFFICIENT_DATA_POLICIES:
        raise ConfigError(
            f"insufficient_data {policy!r}: expected one of {', '.join(INSUFFICIENT_DATA_POLICIES)}"
        )
    severities = {**DEFAULT_SEVERITIES, **_string_map(top, "severity", "severity")}
    for name in sorted(set(severities) - set(SEVERITIES)):
        raise ConfigError(f"severity.{name}: not an Aodh severity ({', '.join(SEVERITIES)})")
    labels = _string_map(top, "labels", "labels")
    for name in labels:
        if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
            raise ConfigError(f"labels.{name}: not a valid Prometheus label name")
        if name in _RESERVED_LABELS:
            raise ConfigError(f"labels.{name}: set by the bridge itself")
    generator = top.value("generator_url")
    if generator is not None and not isinstance(generator, str):
        raise ConfigError("generator_url: expected a string (a URL with {alarm_id})")

    aodh = top.section("aodh")
    cloud = flags.os_cloud or aodh.string("cloud", "") or None
    api_timeout = aodh.duration("api_timeout", 10.0)
    reconcile = aodh.duration("reconcile_interval", resend)
    match_text = aodh.string("action_match", "/v1/aodh")
    try:
        action_match = re.compile(match_text)
    except re.error as exc:
        raise ConfigError(f"aodh.action_match: not a regular expression: {exc}") from None
    aodh.finish()

    hook = top.section("webhook")
    keystone_tokens = hook.boolean("keystone_tokens", False)
    roles = _string_list(hook, "keystone_roles", "webhook.keystone_roles")
    hook.finish()
    if keystone_tokens and not cloud:
        raise ConfigError("webhook.keystone_tokens needs --os-cloud (tokens are checked there)")

    state = top.section("state")
    path = flags.state_path or state.string("path", DEFAULT_STATE_PATH)
    synchronous = state.string("synchronous", "full").upper()
    if synchronous not in ("FULL", "NORMAL"):
        raise ConfigError("state.synchronous: expected full or normal")
    state.finish()
    server = top.section("server")
    threads = _bounded_int(server, "threads", 32, 256)
    max_connections = _bounded_int(server, "max_connections", 1000, 10_000)
    idle = server.duration("idle_timeout", 60.0)
    if not 1 <= idle <= 3600 or idle != int(idle):
        raise ConfigError("server.idle_timeout: expected whole seconds from 1s to 1h")
    server.finish()
    top.finish()
    return BridgeConfig(
        listen_host=host,
        listen_port=port,
        web=web,
        alertmanagers=alertmanagers,
        state_path=Path(path),
        resend_interval=resend,
        resolved_resend_for=resolved_for,
        alertmanager_timeout=timeout,
        batch_size=batch_size,
        insufficient_data=policy,
        severities=severities,
        static_labels=labels,
        generator_url=generator,
        os_cloud=cloud,
        api_timeout=api_timeout,
        reconcile_interval=reconcile,
        action_match=action_match,
        keystone_tokens=keystone_tokens,
        keystone_roles=roles,
        synchronous=synchronous,
        log_level=flags.log_level,
        log_format=flags.log_format,
        threads=threads,
        max_connections=max_connections,
        idle_timeout=int(idle),
    )
