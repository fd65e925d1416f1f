"""A 202 is a promise: the bridge answers it only after the webhook is on disk, so a SIGKILL
at any moment after it (before delivery, mid-burst, with alerts waiting in the outbox) loses
no alert once the bridge runs again on the same ``--state.path``."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.alertmanager_process import Alertmanager, Alertmanagers
from tests.support.bridge import BridgeProcess, aodh_payload, start_bridge, state_args
from tests.support.testbed import poll

pytestmark = pytest.mark.slow


@pytest.fixture
def bridges() -> Iterator[list[BridgeProcess]]:
    """Bridges a test starts; whichever still runs at the end is killed."""
    started: list[BridgeProcess] = []
    yield started
    for bridge in started:
        if bridge.alive():
            bridge.kill()


@dataclass
class Burst:
    """Webhooks posted by many clients until the bridge dies: what got a 202, what was tried."""

    bridge: BridgeProcess
    kill_after: int
    accepted: set[tuple[str, str]] = field(default_factory=set)  # (alarm_id, state)
    tried: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, ids: list[str], resolve_every: int) -> None:
        """One keep-alive client; every ``resolve_every``-th alarm goes back to ok after."""
        conn = http.client.HTTPConnection(self.bridge.host, self.bridge.port, timeout=10)
        plan = []
        for n, alarm_id in enumerate(ids):
            plan.append((alarm_id, "alarm", "ok"))
            if resolve_every and n % resolve_every == 0:
                plan.append((alarm_id, "ok", "alarm"))
        try:
            for alarm_id, current, previous in plan:
                with self._lock:
                    self.tried.add((alarm_id, current))
                body = json.dumps(aodh_payload(alarm_id, current, previous)).encode()
                conn.request("POST", "/v1/aodh", body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                assert resp.status == 202, resp.status
                self._answered(alarm_id, current)
        except (OSError, http.client.HTTPException):
            return  # the bridge died under this request: it may or may not have been stored
        finally:
            conn.close()

    def _answered(self, alarm_id: str, current: str) -> None:
        with self._lock:
            self.accepted.add((alarm_id, current))
            if len(self.accepted) == self.kill_after:
                self.bridge.proc.send_signal(signal.SIGKILL)  # now, from this client

    def run(self, clients: int, per_client: int, resolve_every: int = 0) -> None:
        threads = [
            threading.Thread(
                target=self.client,
                args=([f"c{c:02d}-{i:04d}" for i in range(per_client)], resolve_every),
            )
            for c in range(clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.bridge.proc.wait(10)
        assert len(self.accepted) >= self.kill_after

    def must_fire(self) -> set[str]:
        """Alarms whose ``alarm`` got a 202 and whose ``ok`` was never even tried."""
        return {a for a, s in self.accepted if s == "alarm" and (a, "ok") not in self.tried}

    def must_not_fire(self) -> set[str]:
        return {a for a, s in self.accepted if s == "ok"}

    def may_fire(self) -> set[str]:
        return {a for a, s in self.tried if s == "alarm"}


def _check_delivered(am: Alertmanager, burst: Burst, timeout: float = 40) -> None:
    must = burst.must_fire()
    poll(f"all {len(must)} alarms answered 202 arrive", lambda: must <= am.firing_ids(), timeout)
    firing = am.firing_ids()
    assert not firing & burst.must_not_fire(), "an alarm resolved with a 202 still fires"
    assert firing <= burst.may_fire(), "an alert for an alarm nobody posted"
    resolved = len(burst.must_not_fire())
    poll("every 202'd resolution arrives", lambda: am.received("resolved") >= resolved, timeout)


def test_kill_right_after_202_before_any_delivery(
    ams: Alertmanagers, bridges: list[BridgeProcess], tmp_path: Path
) -> None:
    """The Alertmanager is not running: every 202'd webhook exists only in the state file."""
    am = ams.new("am", start=False)
    args = state_args(tmp_path / "state.db", [am.url])
    bridges.append(start_bridge(args))
    burst = Burst(bridges[-1], kill_after=150)
    burst.run(clients=6, per_client=50, resolve_every=4)
    assert burst.must_fire()
    assert burst.must_not_fire()

    am.start()
    bridges.append(start_bridge(args))  # same --state.path
    _check_delivered(am, burst)


def test_kill_mid_burst_with_many_clients(
    ams: Alertmanagers, bridges: list[BridgeProcess], tmp_path: Path
) -> None:
    """The Alertmanager runs: at the kill some alerts are delivered, some only applied, some
    only in the inbox; a client whose request died may or may not have been stored."""
    am = ams.new("am")
    args = state_args(tmp_path / "state.db", [am.url])
    bridges.append(start_bridge(args))
    burst = Burst(bridges[-1], kill_after=400)
    burst.run(clients=32, per_client=40, resolve_every=5)
    assert len(burst.tried) > len(burst.accepted), "the kill came after the burst"

    bridges.append(start_bridge(args))
    _check_delivered(am, burst)


def test_outbox_survives_kill(
    ams: Alertmanagers, bridges: list[BridgeProcess], tmp_path: Path
) -> None:
    """Alerts applied and queued for a down Alertmanager (inbox empty) survive SIGKILL."""
    am = ams.new("am", start=False)
    args = state_args(tmp_path / "state.db", [am.url])
    bridge = start_bridge(args)
    bridges.append(bridge)
    ids = {f"outbox-{i:03d}" for i in range(100)}
    for alarm_id in sorted(ids):
        assert bridge.post(aodh_payload(alarm_id)).status == 202
    poll("inbox applied", lambda: bridge.metric("aodh_bridge_inbox_webhooks") == 0, 10, 0.1)
    queued = {"alertmanager": am.url}
    poll("all queued", lambda: bridge.metric("aodh_bridge_queue_alerts", **queued) == 100, 10)
    bridge.kill()

    again = start_bridge(args)
    bridges.append(again)
    assert again.metric("aodh_bridge_queue_alerts", **queued) == 100
    am.start()
    poll("every queued alert arrives", lambda: am.firing_ids() == ids, 40)
    poll("queue drained", lambda: again.metric("aodh_bridge_queue_alerts", **queued) == 0, 10)


# Webhooks the validator accepts whose numbers the rest of the bridge cannot handle.
def _raw_body(alarm_id: str, reason_data: str) -> bytes:
    body = json.dumps(aodh_payload(alarm_id, value=None)).encode()
    return body.replace(b'"reason_data": {', b'"reason_data": {' + reason_data.encode() + b", ")


def test_huge_integer_value_does_not_stop_the_engine(
    ams: Alertmanagers, bridges: list[BridgeProcess], tmp_path: Path
) -> None:
    """``most_recent`` of 400 digits: refused, or accepted and applied without harm."""
    am = ams.new("am")
    bridge = start_bridge(state_args(tmp_path / "state.db", [am.url]))
    bridges.append(bridge)
    status = bridge.post(_raw_body("huge", '"most_recent": 1' + "0" * 400)).status
    assert status in (202, 422)
    assert bridge.post(aodh_payload("after-huge")).status == 202
    poll("later webhooks still applied", lambda: "after-huge" in am.firing_ids(), 20)
    assert bridge.request("GET", "/healthz").status == 200, bridge.logs()[-3000:]


def test_non_finite_number_is_refused(bridges: list[BridgeProcess], tmp_path: Path) -> None:
    """``1e999`` parses as infinity and cannot be written back as JSON: stored in the inbox,
    it would make every restart fail to read it; so it must be refused up front."""
    bridge = start_bridge(state_args(tmp_path / "state.db", ["http://127.0.0.1:9"]))
    bridges.append(bridge)
    resp = bridge.post(_raw_body("inf", '"extra": 1e999'))
    assert resp.status == 400, resp


def test_sigterm_exits_cleanly(bridges: list[BridgeProcess], tmp_path: Path) -> None:
    """An orderly stop (SIGTERM) exits 0, with no traceback, after committing its state."""
    bridge = start_bridge(state_args(tmp_path / "state.db", ["http://127.0.0.1:9"]))
    bridges.append(bridge)
    assert bridge.post(aodh_payload("term")).status == 202
    bridge.proc.send_signal(signal.SIGTERM)
    try:
        code = bridge.proc.wait(20)
    except subprocess.TimeoutExpired:
        pytest.fail("bridge did not stop on SIGTERM")
    time.sleep(0.2)  # the log reader drains the last lines
    assert "Traceback" not in bridge.logs(), bridge.logs()[-3000:]
    assert code == 0
