"""The SQLite state: inbox, alerts and the per-Alertmanager outbox, with a clock we set."""

from __future__ import annotations

import json
from pathlib import Path

from alerts.lifecycle import ApiAlarm, Observed, Webhook
from alerts.mapping import DEFAULT_SEVERITIES, Mapping
from alerts.payload import Notification, parse
from alerts.store import Store
from tests.support.bridge import aodh_payload

A, B = "http://am-a:9093", "http://am-b:9093"
INTERVAL = 60.0


def note(alarm_id: str, current: str, previous: str = "ok") -> Notification:
    return parse(json.dumps(aodh_payload(alarm_id, current, previous, name="cpu")).encode())


def open_store(path: Path, targets: tuple[str, ...] = (A, B)) -> Store:
    mapping = Mapping(DEFAULT_SEVERITIES, {"cloud": "test"}, "http://aodh/v2/alarms/{alarm_id}")
    return Store(path / "state.db", targets, mapping, "keep", 900.0)


def webhook(store: Store, alarm_id: str, current: str, at: float) -> None:
    n = note(alarm_id, current, "ok" if current == "alarm" else "alarm")
    (inbox_id,) = store.accept([(n, at)])
    store.apply([(Webhook(n, at), [inbox_id])], at)


def test_accepted_webhooks_survive_a_reopen(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    ids = store.accept([(note("a", "alarm"), 1.0), (note("b", "ok"), 2.0)])
    store.close()
    again = open_store(tmp_path)
    assert [(i, n.alarm_id, t) for i, n, t in again.inbox()] == [
        (ids[0], "a", 1.0),
        (ids[1], "b", 2.0),
    ]


def test_firing_alert_is_due_for_every_alertmanager(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    webhook(store, "a", "alarm", 100.0)
    assert store.inbox() == []
    for target in (A, B):
        (due,) = store.due(target, 100.0, 10)
        assert due.labels == {
            "alertname": "cpu",
            "alarm_id": "a",
            "severity": "warning",
            "source": "aodh",
            "cloud": "test",
        }
        assert due.annotations["value"] == "95"
        assert (due.starts, due.ends, due.generator) == (100.0, None, "http://aodh/v2/alarms/a")
    assert store.queue_stats(130.0) == {A: (1, 30.0), B: (1, 30.0)}


def test_delivery_schedules_the_resend_per_alertmanager(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    webhook(store, "a", "alarm", 100.0)
    store.delivered(A, store.due(A, 100.0, 10), 100.0, INTERVAL)
    assert store.due(A, 159.0, 10) == []
    assert len(store.due(A, 160.0, 10)) == 1
    assert len(store.due(B, 100.0, 10)) == 1  # B not delivered yet: still due


def test_resolution_is_resent_until_its_window_ends(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    webhook(store, "a", "alarm", 100.0)
    store.delivered(A, store.due(A, 100.0, 10), 100.0, INTERVAL)
    webhook(store, "a", "ok", 130.0)
    (due,) = store.due(A, 130.0, 10)
    assert (due.ends, due.until, due.version) == (130.0, 1030.0, 2)
    now = 130.0
    sends = 0
    while store.due(A, now, 10):
        store.delivered(A, store.due(A, now, 10), now, INTERVAL)
        sends += 1
        now += INTERVAL
    assert sends == 16  # the resolution, then one re-send a minute for 15 minutes
    assert store.next_due(A) is None
    assert store.gc(2000.0) == 1
    assert store.raw("SELECT count(*) FROM alerts")[0][0] == 0


def test_acknowledging_an_old_version_keeps_the_new_one_due(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    webhook(store, "a", "alarm", 100.0)
    in_flight = store.due(A, 100.0, 10)
    webhook(store, "a", "ok", 101.0)  # resolved while the firing version was being sent
    store.delivered(A, in_flight, 100.0, INTERVAL)
    (due,) = store.due(A, 101.0, 10)
    assert due.ends == 101.0


def test_never_fired_alarm_sends_nothing(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    n = note("a", "ok", "insufficient data")
    store.apply([(Webhook(n, 100.0), store.accept([(n, 100.0)]))], 100.0)
    assert store.due(A, 100.0, 10) == []
    assert store.alarm_counts() == {("ok", False): 1}


def test_end_of_an_alarm_fired_elsewhere_is_sent(tmp_path: Path) -> None:
    """Another replica behind the same URL saw it fire; this one sees it end."""
    store = open_store(tmp_path)
    webhook(store, "a", "ok", 100.0)  # previous: alarm
    (due,) = store.due(A, 100.0, 10)
    assert (due.labels["alarm_id"], due.ends) == ("a", 100.0)


def test_new_labels_resolve_the_old_label_set(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    webhook(store, "a", "alarm", 100.0)
    store.delivered(A, store.due(A, 100.0, 10), 100.0, INTERVAL)
    alarm = ApiAlarm("a", "cpu", "moderate", "alarm", 99.0, "why", True, "", {"project_id": "p"})
    store.apply([(Observed(alarm, 105.0), [])], 105.0)
    due = {d.key: d for d in store.due(A, 105.0, 10)}
    assert due["a"].labels["project_id"] == "p"
    assert due["a"].ends is None
    (old,) = [d for k, d in due.items() if k != "a"]
    assert "project_id" not in old.labels
    assert old.ends == 105.0


def test_added_alertmanager_gets_live_alerts_and_removed_one_is_dropped(tmp_path: Path) -> None:
    store = open_store(tmp_path, (A,))
    webhook(store, "a", "alarm", 100.0)
    store.close()
    store = open_store(tmp_path, (B,))
    store.sync_targets(200.0)
    assert [d.key for d in store.due(B, 200.0, 10)] == ["a"]
    assert store.raw("SELECT count(*) FROM deliveries WHERE target=?", (A,))[0][0] == 0


def test_with_the_api_firing_alerts_wait_for_the_next_reconciliation(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    webhook(store, "a", "alarm", 100.0)
    store.delivered(A, store.due(A, 100.0, 10), 100.0, INTERVAL, 2 * INTERVAL)
    assert store.due(A, 219.0, 10) == []  # the fallback timer: two intervals
    assert store.refresh_firing(130.0) == 1  # confirmed by a reconciliation (B was still due)
    assert [d.key for d in store.due(A, 130.0, 10)] == ["a"]
