"""The bridge's flags and YAML merged once; every mistake is one line naming the setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts.config import Flags, build_config, redact_url
from alerts.sender import alert_json, rfc3339
from alerts.store import Due
from otb_common.errors import ConfigError

AM = ("http://127.0.0.1:9093",)


def config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bridge.yml"
    path.write_text(text)
    return str(path)


def test_defaults() -> None:
    config = build_config(Flags(alertmanager_urls=AM))
    assert (config.listen_host, config.listen_port) == ("", 10199)
    assert config.resend_interval == 60.0
    assert config.resolved_resend_for == 900.0
    assert config.insufficient_data == "keep"
    assert config.severities == {"low": "info", "moderate": "warning", "critical": "critical"}
    assert config.os_cloud is None
    assert config.reconcile_interval == 60.0
    assert config.synchronous == "FULL"
    assert (config.threads, config.max_connections, config.idle_timeout) == (32, 1000, 60)


def test_server_limits(tmp_path: Path) -> None:
    path = config_file(tmp_path, "server: {threads: 4, max_connections: 50, idle_timeout: 2m}\n")
    config = build_config(Flags(alertmanager_urls=AM, config_file=path))
    assert (config.threads, config.max_connections, config.idle_timeout) == (4, 50, 120)


def test_file_and_flags_merge_flags_win(tmp_path: Path) -> None:
    path = config_file(
        tmp_path,
        "alertmanager:\n  urls: [http://am-1:9093, http://127.0.0.1:9093/]\n"
        "resend_interval: 30s\ninsufficient_data: resolve\n"
        "severity: {low: warning}\nlabels: {region: r1}\n"
        "aodh: {cloud: prod, reconcile_interval: 2m}\n"
        "webhook: {keystone_tokens: true, keystone_roles: [admin]}\n",
    )
    config = build_config(Flags(alertmanager_urls=AM, config_file=path, resend_interval="20s"))
    assert config.alertmanagers == ("http://am-1:9093", "http://127.0.0.1:9093")
    assert config.resend_interval == 20.0
    assert config.insufficient_data == "resolve"
    assert config.severities["low"] == "warning"
    assert config.static_labels == {"region": "r1"}
    assert (config.os_cloud, config.reconcile_interval) == ("prod", 120.0)
    assert (config.keystone_tokens, config.keystone_roles) == (True, ("admin",))


@pytest.mark.parametrize(
    ("text", "flags", "message"),
    [
        ("", {"alertmanager_urls": ()}, "no Alertmanager"),
        ("", {"alertmanager_urls": ("ftp://x",)}, "--alertmanager.url"),
        ("", {"alertmanager_urls": ("http://u:secret@h:99999",)}, "bad port"),
        ("", {"resend_interval": "soon"}, "--resend-interval"),
        ("", {"resend_interval": "0s"}, "greater than zero"),
        ("nonsense: 1\n", {}, "nonsense: unknown key"),
        ("insufficient_data: ignore\n", {}, "insufficient_data"),
        ("severity: {urgent: page}\n", {}, "severity.urgent"),
        ("labels: {alertname: x}\n", {}, "labels.alertname"),
        ("labels: {'bad-name': x}\n", {}, "labels.bad-name"),
        ("webhook: {keystone_tokens: true}\n", {}, "needs --os-cloud"),
        ("aodh: {action_match: '('}\n", {}, "aodh.action_match"),
        ("state: {synchronous: off}\n", {}, "state.synchronous"),
        ("server: {threads: 0}\n", {}, "server.threads"),
        ("server: {max_connections: 0}\n", {}, "server.max_connections"),
        ("server: {max_connections: true}\n", {}, "server.max_connections"),
        ("server: {idle_timeout: 500ms}\n", {}, "server.idle_timeout"),
        ("server: {idle_timeout: 1.5s}\n", {}, "server.idle_timeout"),
        ("server: {idle_timeout: 2h}\n", {}, "server.idle_timeout"),
        ("alertmanager: {batch_size: -1}\n", {}, "alertmanager.batch_size"),
    ],
)
def test_bad_config_is_one_line(
    tmp_path: Path, text: str, flags: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"alertmanager_urls": AM, "config_file": config_file(tmp_path, text)}
    args.update(flags)
    with pytest.raises(ConfigError) as info:
        build_config(Flags(**args))  # type: ignore[arg-type]
    text_of = str(info.value)
    assert message in text_of
    assert "\n" not in text_of
    assert "secret" not in text_of


def test_credentials_never_leave_a_url() -> None:
    assert redact_url("http://user:pw@am:9093/p") == "http://am:9093/p"
    assert redact_url("https://[::1]:9093") == "https://[::1]:9093"


def test_alert_json_firing_and_resolved() -> None:
    firing = Due("a", 1, '{"alertname":"x"}', '{"reason":"r"}', 100.0, None, None, "http://g")
    body = json.loads(alert_json(firing, now=200.0, interval=60.0))
    assert body == {
        "labels": {"alertname": "x"},
        "annotations": {"reason": "r"},
        "startsAt": rfc3339(100.0),
        "endsAt": rfc3339(440.0),
        "generatorURL": "http://g",
    }
    resolved = Due("a", 2, '{"alertname":"x"}', "{}", 100.0, 150.0, 1050.0, "")
    body = json.loads(alert_json(resolved, now=300.0, interval=60.0))
    assert body["endsAt"] == rfc3339(150.0)
    assert "generatorURL" not in body
    assert rfc3339(0.5) == "1970-01-01T00:00:00.500Z"
