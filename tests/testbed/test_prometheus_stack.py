"""The testbed's Prometheus and Alertmanager pair, started on their own (no OpenStack)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import yaml

from testbed.bed import http_json
from testbed.services.prometheus import RULES
from tests.support.testbed import Testbed, poll

pytestmark = pytest.mark.testbed


def test_alertmanagers_form_one_cluster_and_share_alerts(testbed: Testbed) -> None:
    urls = testbed.need("alertmanager").info("alertmanager")["urls"]
    assert len(urls) == 2
    for url in urls:
        status, body, _ = http_json("GET", f"{url}/api/v2/status")
        assert status == 200
        assert len(body["cluster"]["peers"]) == 2
    ends = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat()
    alert = [{"labels": {"alertname": "TestbedSmoke", "replica": "first"}, "endsAt": ends}]
    status, _, _ = http_json("POST", f"{urls[0]}/api/v2/alerts", alert)
    assert status == 200

    # Alerts are not gossiped, only silences and notification logs: the second replica must
    # not know an alert posted to the first one (why clients post to every replica).
    silence = {
        "matchers": [{"name": "alertname", "value": "TestbedSmoke", "isRegex": False}],
        "startsAt": dt.datetime.now(dt.UTC).isoformat(),
        "endsAt": ends,
        "createdBy": "testbed",
        "comment": "gossip check",
    }
    status, _, _ = http_json("POST", f"{urls[0]}/api/v2/silences", silence)
    assert status == 200

    def on_second() -> bool:
        status, silences, _ = http_json("GET", f"{urls[1]}/api/v2/silences")
        return status == 200 and any(s["createdBy"] == "testbed" for s in silences)

    poll("silence gossiped to the second replica", on_second)
    _, second_alerts, _ = http_json("GET", f"{urls[1]}/api/v2/alerts")
    assert [a for a in second_alerts if a["labels"]["alertname"] == "TestbedSmoke"] == []


def test_prometheus_loads_the_project_rules_and_finds_both_alertmanagers(
    testbed: Testbed,
) -> None:
    url = testbed.need("prometheus").info("prometheus")["url"]
    _, rules, _ = http_json("GET", f"{url}/api/v1/rules")
    loaded = {(r["name"], r["health"]) for g in rules["data"]["groups"] for r in g["rules"]}
    # Every alert of the rule pack (rule_files holds the glob deploy/prometheus/rules/*.rules).
    pack = {
        rule["alert"]
        for path in RULES.parent.glob(RULES.name)
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    }
    assert "OpenStackTelemetryExporterDown" in pack
    assert {name for name, _ in loaded} == pack
    assert {health for _, health in loaded} <= {"ok", "unknown"}

    def managers() -> list[Any]:
        _, body, _ = http_json("GET", f"{url}/api/v1/alertmanagers")
        found: list[Any] = body["data"]["activeAlertmanagers"]
        return found if len(found) == 2 else []

    poll("both Alertmanagers active in Prometheus", managers)

    def scraped() -> list[Any]:
        _, body, _ = http_json("GET", f"{url}/api/v1/query?query=up")
        result: list[Any] = body["data"]["result"]
        return [r for r in result if r["value"][1] == "1"]

    assert poll("Prometheus scraped itself", scraped)[0]["metric"]["job"] == "prometheus"
