"""The sender against a stand-in Alertmanager on 127.0.0.1 (tests/support/front.py), one
round at a time with a fixed clock: which answers drop an alert, which only delay it, how a
413 is split, and that a long error answer leaves the connection usable."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from alerts.alertmanager_client import AlertmanagerClient, RefusedError
from alerts.lifecycle import Webhook
from alerts.mapping import DEFAULT_SEVERITIES, Mapping
from alerts.metrics import Metrics
from alerts.payload import parse
from alerts.sender import MIN_BACKOFF, Sender
from alerts.store import Store
from tests.support.bridge import aodh_payload
from tests.support.front import Front, front

NOW = 1000.0
SHORT = b'"refused"'
LONG = b'"' + b"x" * 3070 + b'"'  # 3 KiB: more than the old 2 KiB read


def alarm_ids(body: bytes) -> set[str]:
    return {a["labels"]["alarm_id"] for a in json.loads(body)}


@dataclass
class Script:
    """What the stand-in answers. ``status`` other than 200: every POST gets it. Otherwise
    a POST with an alarm in ``bad`` gets ``bad_status`` (Alertmanager's answer to an invalid
    alert), one with more than ``max_alerts`` alerts gets 413, and the rest 200."""

    status: int = 200
    body: bytes = SHORT
    bad: set[str] = field(default_factory=set)
    bad_status: int = 400
    max_alerts: int | None = None

    def __call__(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.status != 200:
            return self.status, self.body
        if self.max_alerts is not None and len(json.loads(body)) > self.max_alerts:
            return 413, self.body
        if alarm_ids(body) & self.bad:
            return self.bad_status, self.body
        return 200, b""


@dataclass
class Rig:
    script: Script
    am: Front
    store: Store
    metrics: Metrics
    sender: Sender

    def queue(self, *ids: str) -> None:
        for alarm_id in ids:
            note = parse(json.dumps(aodh_payload(alarm_id)).encode())
            (inbox_id,) = self.store.accept([(note, NOW)])
            self.store.apply([(Webhook(note, NOW), [inbox_id])], NOW)

    def queued(self) -> set[str]:
        return {d.labels["alarm_id"] for d in self.store.due(self.am.url, NOW, 100)}

    def delivered(self) -> set[str]:
        return {i for s in self.am.seen() if s.status == 200 for i in alarm_ids(s.body)}

    def value(self, name: str, **labels: str) -> float:
        found = self.metrics.registry.get_sample_value(
            name, {"alertmanager": self.am.url, **labels}
        )
        return 0.0 if found is None else found

    def requests(self, outcome: str, code: str) -> float:
        return self.value("aodh_bridge_alertmanager_requests_total", outcome=outcome, code=code)

    def alerts(self, outcome: str) -> float:
        return self.value("aodh_bridge_alerts_sent_total", outcome=outcome)

    def up(self) -> float:
        return self.value("aodh_bridge_alertmanager_up")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    script = Script()
    with front(script) as am:
        mapping = Mapping(DEFAULT_SEVERITIES, {}, "")
        store = Store(tmp_path / "state.db", (am.url,), mapping, "keep", 900.0)
        metrics = Metrics()
        sender = Sender(
            am.url, store, metrics, interval=60.0, timeout=5.0, batch_size=100, clock=lambda: NOW
        )
        yield Rig(script, am, store, metrics, sender)
        sender.client.close()
        store.close()


# Answers that are not about the alerts: kept, backed off.


@pytest.mark.parametrize("status", [401, 403, 404, 405, 408, 429, 500, 502, 503])
@pytest.mark.parametrize("body", [SHORT, LONG], ids=["short", "3KiB"])
def test_an_answer_not_about_the_alerts_keeps_them_and_backs_off(
    rig: Rig, status: int, body: bytes
) -> None:
    rig.queue("a", "b")
    rig.script.status, rig.script.body = status, body
    assert rig.sender._round() == MIN_BACKOFF
    assert rig.queued() == {"a", "b"}, "dropped"
    assert rig.alerts("refused") == 0
    assert rig.requests("error", str(status)) == 1
    assert rig.alerts("error") == 2
    assert rig.up() == 0

    rig.script.status = 200
    assert rig.sender._round() == 0.0
    assert rig.delivered() == {"a", "b"}
    assert rig.queued() == set()
    assert rig.up() == 1


def test_no_answer_is_counted_with_code_none(tmp_path: Path) -> None:
    mapping = Mapping(DEFAULT_SEVERITIES, {}, "")
    dead = "http://127.0.0.1:9"  # discard port on loopback: nothing listens
    store = Store(tmp_path / "state.db", (dead,), mapping, "keep", 900.0)
    metrics = Metrics()
    sender = Sender(dead, store, metrics, interval=60.0, timeout=5.0, batch_size=10)
    note = parse(json.dumps(aodh_payload("a")).encode())
    (inbox_id,) = store.accept([(note, NOW)])
    store.apply([(Webhook(note, NOW), [inbox_id])], NOW)
    try:
        assert sender._round() == MIN_BACKOFF
        labels = {"alertmanager": dead, "outcome": "error", "code": "none"}
        assert metrics.registry.get_sample_value("aodh_bridge_alertmanager_requests_total", labels)
    finally:
        store.close()


def test_state_changes_are_logged_once_not_per_retry(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aodh-alertmanager-bridge.sender")
    rig.queue("a")
    rig.script.status = 401
    pauses = [rig.sender._round() for _ in range(4)]
    assert pauses == [0.5, 1.0, 2.0, 4.0]
    rig.script.status = 200
    assert rig.sender._round() == 0.0
    rig.queue("b")
    assert rig.sender._round() == 0.0
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "Alertmanager not accepting alerts; retrying"),
        (logging.INFO, "Alertmanager accepting alerts again"),
    ]
    failing, recovered = caplog.records
    assert failing.__dict__["code"] == "401"
    assert failing.__dict__["alertmanager"] == rig.am.url
    assert recovered.__dict__["failed"] == 4
    assert rig.requests("error", "401") == 4


# Answers that are about an alert: dropped, and only that alert.


@pytest.mark.parametrize("bad_status", [400, 422])
@pytest.mark.parametrize("body", [SHORT, LONG], ids=["short", "3KiB"])
def test_the_alert_alertmanager_refuses_is_dropped_the_others_delivered(
    rig: Rig, bad_status: int, body: bytes
) -> None:
    rig.queue("a", "bad", "c")
    rig.script.bad, rig.script.bad_status, rig.script.body = {"bad"}, bad_status, body
    assert rig.sender._round() == 0.0
    assert rig.delivered() == {"a", "c"}
    assert rig.queued() == set()  # the refused one too: dropped until its next resend
    assert rig.alerts("refused") == 1
    assert rig.alerts("success") == 2
    assert rig.requests("retried", str(bad_status)) == 1
    assert rig.requests("refused", str(bad_status)) == 1
    assert rig.requests("error", str(bad_status)) == 0
    assert rig.up() == 1


def test_a_lone_invalid_alert_is_dropped_once_an_empty_post_passes(rig: Rig) -> None:
    rig.queue("bad")
    rig.script.bad = {"bad"}
    assert rig.sender._round() == 0.0
    assert [(s.body, s.status) for s in rig.am.seen()][1:] == [(b"[]", 200)]
    assert rig.queued() == set()
    assert rig.alerts("refused") == 1


def test_a_400_to_every_request_is_a_delivery_failure(rig: Rig) -> None:
    """A proxy's 400 for the request itself: every alert refused alone, and the empty POST
    too. Nothing is about an alert; nothing is dropped."""
    rig.queue("a", "b")
    rig.script.status = 400
    assert rig.sender._round() == MIN_BACKOFF
    assert rig.queued() == {"a", "b"}, "dropped"
    assert rig.alerts("refused") == 0
    assert rig.alerts("error") == 2
    assert rig.up() == 0
    rig.script.status = 200
    assert rig.sender._round() == 0.0
    assert rig.delivered() == {"a", "b"}


def test_413_splits_the_batch_until_it_fits(rig: Rig) -> None:
    rig.queue("a", "b", "c", "d", "e")
    rig.script.max_alerts = 2
    assert rig.sender._round() == 0.0
    assert rig.delivered() == {"a", "b", "c", "d", "e"}
    assert all(len(json.loads(s.body)) <= 2 for s in rig.am.seen() if s.status == 200)
    assert rig.requests("retried", "413") >= 1
    assert rig.alerts("refused") == rig.alerts("error") == 0


@pytest.mark.parametrize("body", [SHORT, LONG], ids=["short", "3KiB"])
def test_413_for_a_single_alert_keeps_it_and_backs_off(rig: Rig, body: bytes) -> None:
    rig.queue("a")
    rig.script.max_alerts, rig.script.body = 0, body
    assert rig.sender._round() == MIN_BACKOFF
    assert rig.queued() == {"a"}, "dropped"
    assert rig.alerts("refused") == 0
    assert rig.requests("error", "413") == 1


# An error answer longer than the 2 KiB the client used to read.


@pytest.mark.parametrize("size", [3 * 1024, 256 * 1024])
def test_a_long_error_answer_leaves_the_connection_usable(rig: Rig, size: int) -> None:
    client = AlertmanagerClient(rig.am.url, 5.0)
    alert = '{"labels":{"alarm_id":"a"}}'
    rig.script.status, rig.script.body = 400, b"x" * size
    with pytest.raises(RefusedError):
        client.post([alert])
    rig.script.status = 200
    client.post([alert])
    client.close()
    assert [s.status for s in rig.am.seen()] == [400, 200]
