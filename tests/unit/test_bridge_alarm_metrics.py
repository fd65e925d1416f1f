"""aodh_bridge_alarm_firing: one series per live alarm, read from a real state file at each
scrape, with Alertmanager's severity and the resource the alarm watches."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import generate_latest

from alerts.lifecycle import ApiAlarm, Gone, Observed, Webhook
from alerts.mapping import DEFAULT_SEVERITIES, Mapping
from alerts.metrics import ALARM_LABELS, Metrics
from alerts.payload import parse
from alerts.store import AlarmSummary, Store
from tests.support.bridge import aodh_payload
from tests.support.metrics import Samples, parse_samples
from tests.support.promtool import promtool_complaints

AM = "http://am-a:9093"
NAME = "aodh_bridge_alarm_firing"
SERVER = {
    "project_id": "p1",
    "alarm_type": "gnocchi_resources_threshold",
    "resource_type": "instance",
    "resource_id": "srv-1",
    "metric": "cpu",
}


def open_store(tmp_path: Path, severities: dict[str, str] | None = None) -> tuple[Store, Mapping]:
    mapping = Mapping(severities or DEFAULT_SEVERITIES, {"cloud": "test"}, "")
    return Store(tmp_path / "state.db", (AM,), mapping, "keep", 900.0), mapping


def webhook(store: Store, alarm_id: str, current: str, at: float, severity: str = "low") -> None:
    previous = "ok" if current != "ok" else "alarm"
    body = aodh_payload(alarm_id, current, previous, name=f"n-{alarm_id}", severity=severity)
    store.apply([(Webhook(parse(json.dumps(body).encode()), at), [])], at)


def observed(store: Store, alarm_id: str, state: str, at: float, *, enabled: bool = True) -> None:
    alarm = ApiAlarm(alarm_id, f"n-{alarm_id}", "critical", state, at, "why", enabled, "", SERVER)
    store.apply([(Observed(alarm, at), [])], at)


def scrape(store: Store, mapping: Mapping) -> tuple[str, Samples]:
    metrics = Metrics()
    metrics.watch(store, str, mapping)
    text = generate_latest(metrics.registry).decode()
    return text, parse_samples(text)


def firing_series(samples: Samples) -> dict[tuple[str, ...], float]:
    """Each series of the family by its label values, in ALARM_LABELS order."""
    out = {}
    for (name, labels), value in samples.items():
        if name == NAME:
            by_name = dict(labels)
            assert sorted(by_name) == sorted(ALARM_LABELS)
            out[tuple(by_name[k] for k in ALARM_LABELS)] = value
    return out


def test_one_series_per_live_alarm(tmp_path: Path) -> None:
    store, mapping = open_store(tmp_path)
    webhook(store, "a", "alarm", 100.0, severity="moderate")  # firing, no API labels
    observed(store, "b", "alarm", 101.0)  # firing, read from the API
    webhook(store, "c", "ok", 102.0)
    webhook(store, "d", "alarm", 103.0)
    webhook(store, "d", "insufficient data", 104.0)  # keep: still firing
    observed(store, "e", "alarm", 105.0)
    observed(store, "e", "alarm", 106.0, enabled=False)  # disabled: left out
    webhook(store, "f", "alarm", 107.0)
    store.apply([(Gone("f", 108.0), [])], 108.0)  # deleted: left out
    text, samples = scrape(store, mapping)
    assert firing_series(samples) == {
        ("a", "n-a", "warning", "alarm", "", "", ""): 1.0,
        ("b", "n-b", "critical", "alarm", "instance", "srv-1", "p1"): 1.0,
        ("c", "n-c", "info", "ok", "", "", ""): 0.0,
        ("d", "n-d", "info", "insufficient data", "", "", ""): 1.0,
    }
    assert (
        sum(firing_series(samples).values()) == samples[("aodh_bridge_firing_alarms", frozenset())]
    )
    assert f"# TYPE {NAME} gauge" in text
    assert promtool_complaints(text) == []


def test_a_transition_replaces_the_series(tmp_path: Path) -> None:
    store, mapping = open_store(tmp_path)
    observed(store, "b", "alarm", 100.0)
    observed(store, "b", "ok", 160.0)
    _, samples = scrape(store, mapping)
    assert firing_series(samples) == {
        ("b", "n-b", "critical", "ok", "instance", "srv-1", "p1"): 0.0,
    }


def test_severity_follows_the_configured_map(tmp_path: Path) -> None:
    store, mapping = open_store(tmp_path, {"low": "page", "moderate": "warning", "critical": "x"})
    webhook(store, "a", "alarm", 100.0, severity="low")
    _, samples = scrape(store, mapping)
    assert list(firing_series(samples)) == [("a", "n-a", "page", "alarm", "", "", "")]


def test_no_alarms_no_series(tmp_path: Path) -> None:
    store, mapping = open_store(tmp_path)
    text, samples = scrape(store, mapping)
    assert firing_series(samples) == {}
    assert f"# TYPE {NAME} gauge" in text
    assert promtool_complaints(text) == []


def test_store_summaries_read_only_the_live_alarms(tmp_path: Path) -> None:
    store, _ = open_store(tmp_path)
    observed(store, "b", "alarm", 100.0)
    webhook(store, "a", "ok", 101.0, severity="critical")
    store.apply([(Gone("a", 102.0), [])], 102.0)
    webhook(store, "c", "alarm", 103.0)
    assert store.alarm_summaries() == [
        AlarmSummary("b", "n-b", "critical", "alarm", True, "instance", "srv-1", "p1"),
        AlarmSummary("c", "n-c", "low", "alarm", True, "", "", ""),
    ]
