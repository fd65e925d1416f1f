"""The bridge process whose sender meets an alert it cannot encode: a row of the state file
changed from outside (a start time that is not a number), a real error in a real round."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.support.alertmanager_process import Alertmanagers
from tests.support.bridge import aodh_payload, run_bridge, state_args
from tests.support.testbed import poll

pytestmark = pytest.mark.slow
ERRORS = "aodh_bridge_worker_errors_total"


def write(state: Path, sql: str, *args: object) -> None:
    db = sqlite3.connect(state, isolation_level=None, timeout=10)
    try:
        db.execute(sql, args)
    finally:
        db.close()


def test_sender_survives_a_round_that_raises(tmp_path: Path, ams: Alertmanagers) -> None:
    """Item 3, sender: the failed round is logged and counted, /healthz stays 200, and once
    the row is repaired the next webhook's wake-up delivers both alerts. Before the fix the
    TypeError ended the sender thread: nothing more reached that Alertmanager."""
    am = ams.new("am")
    state = tmp_path / "state.db"
    with run_bridge(state_args(state, [am.url], "--resend-interval", "1s")) as bridge:
        assert bridge.post(aodh_payload("send-1")).status == 202
        poll("send-1 in Alertmanager", lambda: "send-1" in am.firing_ids(), timeout=30)
        write(state, "UPDATE alerts SET starts='not a time' WHERE alarm_id='send-1'")
        poll(
            "a failed round, or the sender gone",
            lambda: (
                bridge.metric(ERRORS, worker="sender") >= 1
                or bridge.request("GET", "/healthz").status != 200
            ),
            timeout=30,
        )
        health = bridge.request("GET", "/healthz")
        assert health.status == 200, health.body
        assert "worker error; going on" in bridge.logs()
        assert "TypeError" in bridge.logs()  # the traceback is in the log

        write(state, "UPDATE alerts SET starts=1 WHERE alarm_id='send-1'")
        assert bridge.post(aodh_payload("send-2")).status == 202
        poll("send-2 in Alertmanager", lambda: "send-2" in am.firing_ids(), timeout=30)
        assert "send-1" in am.firing_ids()


def test_a_damaged_alert_never_holds_up_the_others(tmp_path: Path, ams: Alertmanagers) -> None:
    """The damaged row stays damaged: it is counted and kept (postponed), and every alert
    after it is still delivered. Before, each round raised on it first and delivered nothing."""
    am = ams.new("am")
    state = tmp_path / "state.db"
    with run_bridge(state_args(state, [am.url], "--resend-interval", "1s")) as bridge:
        assert bridge.post(aodh_payload("bad-1")).status == 202
        poll("bad-1 in Alertmanager", lambda: "bad-1" in am.firing_ids(), timeout=30)
        write(state, "UPDATE alerts SET starts='not a time' WHERE alarm_id='bad-1'")
        poll("bad-1 met", lambda: bridge.metric(ERRORS, worker="sender") >= 1, timeout=30)
        for i in range(5):
            assert bridge.post(aodh_payload(f"good-{i}")).status == 202
        want = {f"good-{i}" for i in range(5)}
        poll("every good alert delivered", lambda: want <= am.firing_ids(), timeout=30)
        kept = bridge_rows(state, "bad-1")
        assert kept == 1, "the damaged alert's delivery was dropped"
        assert bridge.request("GET", "/healthz").status == 200


def bridge_rows(state: Path, alarm_id: str) -> int:
    db = sqlite3.connect(state, timeout=10)
    try:
        row = db.execute("SELECT count(*) FROM deliveries WHERE key=?", (alarm_id,)).fetchone()
        return int(row[0])
    finally:
        db.close()
