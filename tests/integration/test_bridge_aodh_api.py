"""The bridge against the testbed's real Aodh (API, evaluator, notifier) and Keystone.

One bridge per module reads the ``testbed`` cloud and sends to both testbed Alertmanagers.
Its alarms' actions carry a query string unique to this run, and ``aodh.action_match``
selects on it, so the bridge reconciles only this module's alarms; a static ``bridge_it``
label keeps its alerts apart from any other bridge's alerts for the same alarms.

Alarms that the evaluator must leave alone are ``event`` alarms (the evaluator skips them;
the listener never sees their event type), whose state only ``PUT .../state`` changes, and
that call notifies nobody: every webhook here is either the real notifier's or the test's.
"""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from testbed.bed import http_json
from testbed.services import keystone
from tests.support import alertmanager as am_api
from tests.support.bridge import BridgeProcess, aodh_payload, start_bridge, state_args
from tests.support.testbed import Testbed, poll

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

RUN = uuid.uuid4().hex[:8]
PREFIX = f"bridge-it-{RUN}"
SEED = Path(__file__).resolve().parents[2] / "testbed" / "seed" / "aodh_alarms.py"
TRANSITIONS = "aodh_bridge_alarm_transitions_total"
DIFFERENCES = "aodh_bridge_reconcile_differences_total"
WEBHOOKS = "aodh_bridge_webhooks_received_total"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(bed: Testbed, base: Path, ams: list[str], port: int, config: Any) -> BridgeProcess:
    """The bridge on ``port`` as the ``testbed`` cloud, with state and config under ``base``."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "bridge.yml").write_text(json.dumps(config))
    args = state_args(
        base / "state.db",
        ams,
        "--os-cloud",
        "testbed",
        "--resend-interval",
        "2s",
        "--config.file",
        str(base / "bridge.yml"),
    )
    env = {"OS_CLIENT_CONFIG_FILE": str(bed.clouds_yaml)}
    return start_bridge(args, env=env, listen=f"127.0.0.1:{port}")


def cpu_alarm(bed: Testbed, name: str, actions: list[str]) -> dict[str, Any]:
    """A copy of the testbed's alarm (in breach while the measures feeder runs), to ``actions``."""
    return {
        "op": "create",
        "alarm": {
            "name": name,
            "type": "gnocchi_resources_threshold",
            "severity": "moderate",
            "description": "CPU of the testbed server above 80 % (bridge test)",
            "repeat_actions": False,
            "alarm_actions": actions,
            "ok_actions": actions,
            "gnocchi_resources_threshold_rule": dict(bed.info("aodh")["rule"]),
        },
    }


@dataclass
class Env:
    """The module's bridge (restartable on the same port and state) and its Aodh alarms."""

    bed: Testbed
    base: Path
    ams: list[str]
    port: int = field(default_factory=_free_port)
    created: list[str] = field(default_factory=list)
    bridge: BridgeProcess | None = None

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/aodh?run={RUN}"

    @property
    def aodh_url(self) -> str:
        return str(self.bed.info("aodh")["url"])

    @property
    def state(self) -> Path:
        return self.base / "state.db"

    @property
    def b(self) -> BridgeProcess:
        assert self.bridge is not None
        return self.bridge

    def start(self) -> BridgeProcess:
        config = {
            "aodh": {"reconcile_interval": "3s", "action_match": f"run={RUN}"},
            "labels": {"bridge_it": RUN},
        }
        self.bridge = launch(self.bed, self.base, self.ams, self.port, config)
        return self.bridge

    def aodh(self, *ops: dict[str, Any]) -> list[Any]:
        """Operations of testbed/seed/aodh_alarms.py, in one process; their results."""
        bed = self.bed.bed
        out = bed.python(
            "aodh",
            "bridge-it-alarms",
            SEED,
            json.dumps(list(ops)),
            env=keystone.client_env(bed),
            timeout=120,
        )
        results: list[Any] = json.loads(out.strip().splitlines()[-1])
        for result in results:
            if isinstance(result, dict) and "alarm_id" in result:
                self.created.append(str(result["alarm_id"]))
        return results

    def event_alarms(self, *names: str, state: str = "insufficient data") -> list[str]:
        """Event alarms (never evaluated) whose actions point at the bridge; their ids."""
        ops = [
            {
                "op": "create",
                "alarm": {
                    "name": f"{PREFIX}-{name}",
                    "state": state,
                    "type": "event",
                    "severity": "critical",
                    "description": f"{name}: changed by the test only",
                    "alarm_actions": [self.webhook],
                    "ok_actions": [self.webhook],
                    "event_rule": {"event_type": f"{PREFIX}.never"},
                },
            }
            for name in names
        ]
        return [str(a["alarm_id"]) for a in self.aodh(*ops)]

    def set_states(self, states: dict[str, str]) -> None:
        self.aodh(*({"op": "state", "alarm_id": i, "state": s} for i, s in states.items()))

    def api_alarm(self, alarm_id: str) -> dict[str, Any]:
        headers = {"X-Auth-Token": keystone.admin_token(self.bed.bed)}
        status, body, _ = http_json("GET", f"{self.aodh_url}/v2/alarms/{alarm_id}", headers=headers)
        assert status == 200, (status, body)
        assert isinstance(body, dict)
        return body

    def record(self, alarm_id: str) -> tuple[str, bool] | None:
        """The bridge's belief (state, firing) from its state file, read-only."""
        db = sqlite3.connect(f"file:{self.state}?mode=ro", uri=True, timeout=5)
        try:
            row = db.execute(
                "SELECT state, firing FROM alarms WHERE alarm_id=?", (alarm_id,)
            ).fetchone()
        finally:
            db.close()
        return None if row is None else (str(row[0]), bool(row[1]))

    def firing(self, alarm_id: str, timeout: float = 60.0) -> list[dict[str, Any]]:
        """The alert for ``alarm_id``, one in each Alertmanager."""
        return poll(
            f"alert for {alarm_id} in {self.ams}",
            lambda: am_api.in_every(self.ams, alarm_id=alarm_id, bridge_it=RUN),
            timeout=timeout,
        )

    def resolved(self, alarm_id: str, timeout: float = 60.0) -> None:
        poll(
            f"alert for {alarm_id} resolved in {self.ams}",
            lambda: am_api.in_none(self.ams, alarm_id=alarm_id, bridge_it=RUN),
            timeout=timeout,
        )

    def drained(self) -> None:
        """Every accepted webhook applied (its Aodh read done)."""
        poll("bridge inbox empty", lambda: self.b.metric("aodh_bridge_inbox_webhooks") == 0, 30)

    def count(self, name: str, label: str, *values: str) -> float:
        return sum(self.b.metric(name, **{label: v}) for v in values)

    def transitions_to(self, state: str) -> float:
        return sum(
            self.b.metric(TRANSITIONS, state=state, source=s) for s in ("webhook", "aodh_api")
        )


@pytest.fixture(scope="module")
def env(testbed: Testbed) -> Iterator[Env]:
    testbed.need("aodh", "alertmanager")
    base = Path(tempfile.mkdtemp(prefix="bridge-it-"))
    handle = Env(testbed, base, list(testbed.info("alertmanager")["urls"]))
    handle.start()
    try:
        yield handle
    finally:
        if handle.bridge is not None:
            handle.bridge.stop()
        try:
            if handle.created:
                handle.aodh(*({"op": "delete", "alarm_id": i} for i in handle.created))
        finally:
            shutil.rmtree(base, ignore_errors=True)


def test_evaluator_and_notifier_fire_and_resolve_an_enriched_alert(env: Env) -> None:
    """The real path: evaluator -> notifier -> webhook -> API read -> both Alertmanagers."""
    rule = dict(env.bed.info("aodh")["rule"])
    server_id = env.bed.info("measures")["server_id"]
    assert rule["resource_id"] == server_id
    accepted = env.b.metric(WEBHOOKS, outcome="accepted")
    [alarm] = env.aodh(cpu_alarm(env.bed, f"{PREFIX}-cpu", [env.webhook]))
    alarm_id = str(alarm["alarm_id"])
    alerts = env.firing(alarm_id, timeout=90)
    # The notifier's webhook, not only a reconciliation, reached the bridge.
    poll("the notifier's webhook", lambda: env.b.metric(WEBHOOKS, outcome="accepted") > accepted)
    assert env.api_alarm(alarm_id)["state"] == "alarm"
    project = keystone.project_id(env.bed.bed, "admin")
    for alert in alerts:
        labels = alert["labels"]
        assert labels == {
            "alertname": f"{PREFIX}-cpu",
            "alarm_id": alarm_id,
            "severity": "warning",
            "source": "aodh",
            "bridge_it": RUN,
            "project_id": project,
            "alarm_type": "gnocchi_resources_threshold",
            "resource_id": server_id,
            "resource_type": "instance",
            "metric": "cpu",
        }
        notes = alert["annotations"]
        assert notes["description"] == "CPU of the testbed server above 80 % (bridge test)"
        assert notes["aodh_state"] == "alarm"
        assert alert["generatorURL"] == f"{env.aodh_url}/v2/alarms/{alarm_id}"

    env.aodh(
        {
            "op": "update",
            "alarm_id": alarm_id,
            "changes": {"gnocchi_resources_threshold_rule": {**rule, "threshold": 1e18}},
        }
    )
    env.resolved(alarm_id, timeout=90)
    assert env.record(alarm_id) == ("ok", False)
    assert env.api_alarm(alarm_id)["state"] == "ok"
    # Two notifications: to alarm, then to ok.
    poll("the ok webhook", lambda: env.b.metric(WEBHOOKS, outcome="accepted") >= accepted + 2)
    env.aodh({"op": "delete", "alarm_id": alarm_id})


def test_stale_webhook_after_resolution_is_ordered_by_the_api(env: Env) -> None:
    """``ok -> alarm`` arriving after ``alarm -> ok``: the API's state (ok) wins."""
    [alarm_id] = env.event_alarms("order", state="alarm")
    assert env.b.post(aodh_payload(alarm_id, "alarm", "insufficient data")).status == 202
    env.firing(alarm_id)

    env.set_states({alarm_id: "ok"})
    assert env.api_alarm(alarm_id)["state"] == "ok"
    to_alarm = env.transitions_to("alarm")
    assert env.b.post(aodh_payload(alarm_id, "ok", "alarm")).status == 202
    assert env.b.post(aodh_payload(alarm_id, "alarm", "ok")).status == 202  # the late one
    env.drained()
    assert env.record(alarm_id) == ("ok", False)
    assert env.transitions_to("alarm") == to_alarm
    env.resolved(alarm_id)


def test_duplicate_webhooks_make_one_transition(env: Env) -> None:
    to_alarm = env.transitions_to("alarm")
    accepted = env.b.metric(WEBHOOKS, outcome="accepted")
    [alarm_id] = env.event_alarms("dup", state="alarm")
    payload = aodh_payload(alarm_id, "alarm", "insufficient data")
    for _ in range(3):
        assert env.b.post(payload).status == 202
        env.drained()  # each copy read from the API on its own
    assert env.b.metric(WEBHOOKS, outcome="accepted") == accepted + 3
    assert env.transitions_to("alarm") == to_alarm + 1
    alerts = env.firing(alarm_id)
    assert all(a["annotations"]["aodh_state"] == "alarm" for a in alerts)


def test_lost_webhook_is_found_by_reconciliation(env: Env) -> None:
    [alarm_id] = env.event_alarms("lost")
    poll("alarm known from a listing", lambda: env.record(alarm_id) is not None, 30)
    kinds = ("state", "unknown_firing")
    differences = env.count(DIFFERENCES, "kind", *kinds)
    accepted = env.b.metric(WEBHOOKS, outcome="accepted")
    env.set_states({alarm_id: "alarm"})
    env.firing(alarm_id, timeout=30)
    assert env.count(DIFFERENCES, "kind", *kinds) == differences + 1
    assert env.b.metric(WEBHOOKS, outcome="accepted") == accepted
    env.aodh({"op": "delete", "alarm_id": alarm_id})


def test_deleted_and_disabled_alarms_resolve(env: Env) -> None:
    deleted, disabled = env.event_alarms("deleted", "disabled", state="alarm")
    env.firing(deleted, timeout=30)
    env.firing(disabled, timeout=30)
    before = {k: env.b.metric(DIFFERENCES, kind=k) for k in ("deleted", "disabled")}
    env.aodh(
        {"op": "delete", "alarm_id": deleted},
        {"op": "update", "alarm_id": disabled, "changes": {"enabled": False}},
    )
    env.resolved(deleted, timeout=30)
    env.resolved(disabled, timeout=30)
    assert env.record(deleted) == ("deleted", False)
    assert env.record(disabled) == ("disabled", False)
    assert env.b.metric(DIFFERENCES, kind="deleted") == before["deleted"] + 1
    assert env.b.metric(DIFFERENCES, kind="disabled") == before["disabled"] + 1
    # Enabled again while still in ``alarm``: it fires again.
    env.aodh({"op": "update", "alarm_id": disabled, "changes": {"enabled": True}})
    env.firing(disabled, timeout=30)
    assert env.record(disabled) == ("alarm", True)


def test_reconcile_on_start_corrects_a_change_made_while_down(env: Env) -> None:
    [alarm_id] = env.event_alarms("downtime", state="ok")
    poll("bridge knows the alarm is ok", lambda: env.record(alarm_id) == ("ok", False), 30)
    env.b.stop()
    env.set_states({alarm_id: "alarm"})
    bridge = env.start()  # ready only once its first reconciliation is done
    assert bridge.metric(DIFFERENCES, kind="state") >= 1
    env.firing(alarm_id, timeout=30)
    assert env.record(alarm_id) == ("alarm", True)
    assert bridge.metric(WEBHOOKS, outcome="accepted") == 0


def test_keystone_tokens_guard_the_webhook(env: Env) -> None:
    """Tokens checked against Keystone: a real one passes, a forged one or none does not,
    and the notifier's trust-scoped token (a ``trust+http`` action) passes too."""
    port = _free_port()
    config = {
        "webhook": {"keystone_tokens": True},
        "aodh": {"reconcile_interval": "3s", "action_match": f"tokens={RUN}"},
        "labels": {"bridge_it": f"{RUN}-tokens"},
    }
    bridge = launch(env.bed, env.base / "tokens", env.ams, port, config)
    try:
        payload = aodh_payload(str(uuid.uuid4()), name=f"{PREFIX}-token")
        token = keystone.admin_token(env.bed.bed)
        forged = token[:20] + ("B" if token[20] != "B" else "C") + token[21:]
        tokens = [{"X-Auth-Token": t} for t in (token, forged, "not-a-token")]
        # Statuses only in the assertion: a failure must not print a live token.
        statuses = [bridge.post(payload, h).status for h in [*tokens, {}]]
        assert statuses == [202, 401, 401, 401]
        assert bridge.metric(WEBHOOKS, outcome="accepted") == 1
        assert bridge.metric(WEBHOOKS, outcome="unauthorized") == 3

        action = f"trust+http://127.0.0.1:{port}/v1/aodh?tokens={RUN}"
        [alarm] = env.aodh(cpu_alarm(env.bed, f"{PREFIX}-trust", [action]))
        alarm_id = str(alarm["alarm_id"])
        poll(
            "the notifier's webhook with a trust token",
            lambda: bridge.metric(WEBHOOKS, outcome="accepted") == 2,
            timeout=90,
        )
        assert bridge.metric(WEBHOOKS, outcome="unauthorized") == 3
        poll(
            f"alert for {alarm_id}",
            lambda: am_api.in_every(env.ams, alarm_id=alarm_id, bridge_it=f"{RUN}-tokens"),
        )
        env.aodh({"op": "delete", "alarm_id": alarm_id})
    finally:
        bridge.stop()


def test_two_bridges_behind_one_url_agree(env: Env) -> None:
    """Each webhook reaches one replica; both end in Aodh's state, and the one that never
    saw the ``ok`` does not fire the alarm again afterwards."""
    config = {
        "aodh": {"reconcile_interval": "3s", "action_match": f"run={RUN}"},
        "labels": {"bridge_it": RUN},
    }
    other = launch(env.bed, env.base / "replica", env.ams, _free_port(), config)
    try:
        [alarm_id] = env.event_alarms("replicas", state="alarm")
        assert env.b.post(aodh_payload(alarm_id, "alarm", "insufficient data")).status == 202
        first = env.firing(alarm_id)
        poll("the other replica knows it fires", lambda: other.metric("aodh_bridge_firing_alarms"))
        env.set_states({alarm_id: "ok"})
        assert other.post(aodh_payload(alarm_id, "ok", "alarm")).status == 202
        env.resolved(alarm_id, timeout=30)
        # From now on, through several resend intervals and reconciliations, it stays
        # resolved: the first replica re-sends a firing alert only once a reconciliation has
        # confirmed it, and its next one says ok.
        for _ in range(24):
            assert am_api.in_none(env.ams, alarm_id=alarm_id, bridge_it=RUN)
            time.sleep(0.5)
        assert env.record(alarm_id) == ("ok", False)
        assert all(a["labels"]["alarm_id"] == alarm_id for a in first)
    finally:
        other.stop()
