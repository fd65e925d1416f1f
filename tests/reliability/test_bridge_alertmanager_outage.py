"""One Alertmanager replica down: the other gets every alert at once, the down one's queue
waits (and shows it in the metrics), and the returning replica gets everything: nothing lost."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from alerts.sender import MAX_BACKOFF
from tests.support.alertmanager_process import Alertmanager, Alertmanagers
from tests.support.bridge import BridgeProcess, aodh_payload, run_bridge, state_args
from tests.support.testbed import poll

pytestmark = pytest.mark.slow
ALARMS = 200
RESOLVED = 50  # the first RESOLVED alarms go back to ok after firing


def _post_all(bridge: BridgeProcess, ids: list[str]) -> list[int]:
    """Each alarm fires; the first RESOLVED then resolve, each after its own ``alarm``."""

    def one(index_id: tuple[int, str]) -> list[int]:
        index, alarm_id = index_id
        codes = [bridge.post(aodh_payload(alarm_id, "alarm", "ok")).status]
        if index < RESOLVED:
            codes.append(bridge.post(aodh_payload(alarm_id, "ok", "alarm")).status)
        return codes

    with ThreadPoolExecutor(8) as pool:
        return [code for codes in pool.map(one, enumerate(ids)) for code in codes]


def test_down_replica_gets_everything_when_back(ams: Alertmanagers, tmp_path: Path) -> None:
    a, b = ams.new("a"), ams.new("b")
    args = state_args(tmp_path / "state.db", [a.url, b.url], "--resend-interval", "2s")
    with run_bridge(args) as bridge:
        b.stop()
        ids = [f"outage-{i:03d}" for i in range(ALARMS)]
        codes = _post_all(bridge, ids)
        assert codes == [202] * (ALARMS + RESOLVED)
        firing = set(ids[RESOLVED:])

        # A is not held back by B: every firing alert, and none of the resolved ones.
        def queued(what: str, am: Alertmanager = b) -> float:
            return bridge.metric(what, alertmanager=am.url)

        poll("A has every firing alert", lambda: a.firing_ids() == firing, timeout=30)
        poll("A's queue empty", lambda: queued("aodh_bridge_queue_alerts", a) == 0, 10, 0.1)
        assert a.received("resolved") >= RESOLVED

        # B's queue waits, visibly: every alert (firing and resolved) and a growing age.
        poll("B's queue full", lambda: queued("aodh_bridge_queue_alerts") == ALARMS, 10, 0.1)
        first = queued("aodh_bridge_queue_oldest_age_seconds")
        poll(
            "B's oldest age grows",
            lambda: queued("aodh_bridge_queue_oldest_age_seconds") > first + 1,
            timeout=10,
            interval=0.2,
        )

        b.start()  # the same port and storage, as a restarted replica
        back = time.monotonic()
        poll("B has every firing alert", lambda: b.firing_ids() == firing, MAX_BACKOFF + 15)
        poll("B got every resolution", lambda: b.received("resolved") >= RESOLVED, 15)
        poll("B's queue empty", lambda: queued("aodh_bridge_queue_alerts") == 0, 15, 0.1)
        assert time.monotonic() - back < MAX_BACKOFF + 15
        assert a.firing_ids() == firing
        assert bridge.alive()
