"""The bridge between Aodh's own REST notifier and two real, clustered Alertmanager replicas.

Nothing is imitated: the webhooks are posted by ``aodh.notifier.rest`` (testbed/seed/
aodh_notify.py, in the OpenStack environment), the bridge runs as ``python -m alerts``, and
the alerts are read back from each Alertmanager's API v2. The replicas have a short
``resolve_timeout`` and the bridge a short resend interval, so an alert that stays active
well past both is one the bridge keeps re-sending.

The replicas run in a testbed directory of this module's own: the shared testbed's state
file is written by every process that records something in it, and it must not see these
short-lived replicas as members of its ``alertmanager`` service.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from testbed.bed import Bed, tail_of
from testbed.services import alertmanager
from tests.support import alertmanager as am
from tests.support.bridge import BridgeProcess, aodh_payload, run_bridge, state_args
from tests.support.metrics import Samples, parse_samples
from tests.support.servers import require
from tests.support.testbed import Testbed, poll

pytestmark = pytest.mark.testbed

NOTIFY = Path(__file__).resolve().parents[2] / "testbed" / "seed" / "aodh_notify.py"
RESOLVE_TIMEOUT = 10.0
RESEND = 2.0
# An alert nobody re-sends ends by itself after 4 resend intervals (its endsAt) or, without
# endsAt, after resolve_timeout: watched for longer than both.
WATCH = max(RESOLVE_TIMEOUT, 4 * RESEND) + 3.0


class AodhNotifier:
    """One ``aodh_notify.py --serve`` process for the module: Aodh's setup costs seconds of
    CPU, paid once and while the replicas start."""

    def __init__(self, python: str, log: Path) -> None:
        self.log = log
        self._err = log.open("wb")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OS_", "VIRTUAL_ENV", "PYTHON")) and k != "CI"
        }
        self.proc = subprocess.Popen(
            [python, str(NOTIFY), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            env={**env, "EVENTLET_NO_GREENDNS": "yes"},
            cwd=log.parent,
        )
        self._lines: queue.Queue[bytes] = queue.Queue()
        self._ready = False
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(b"")

    def _answer(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"aodh_notify: no answer in {timeout:.0f}s\n{tail_of(self.log)}")
        if not line:
            pytest.fail(f"aodh_notify exited\n{tail_of(self.log)}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def notify(self, *notifications: dict[str, Any]) -> list[dict[str, Any]]:
        """Post through Aodh's REST notifier, in order; its result per post."""
        if not self._ready:
            assert self._answer(180).get("ready"), tail_of(self.log)
            self._ready = True
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(list(notifications)).encode() + b"\n")
        self.proc.stdin.flush()
        results: list[dict[str, Any]] = self._answer(60)["results"]
        return results

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # EOF: it exits
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._err.close()


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="bridge-am-", dir="/tmp"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def aodh(testbed: Testbed, workdir: Path) -> Iterator[AodhNotifier]:
    notifier = AodhNotifier(testbed.bed.os_bin("python"), workdir / "aodh-notify.log")
    try:
        yield notifier
    finally:
        notifier.close()


@pytest.fixture(scope="module")
def replicas(testbed: Testbed, workdir: Path) -> Iterator[list[str]]:
    """Two clustered Alertmanagers of this module, stopped after it."""
    require(os.access(alertmanager.BINARY, os.X_OK), f"{alertmanager.BINARY} missing")
    # One directory per replica, to stop them one at a time: a replica stopping while its
    # only peer stops too waits 10 s for its leave message to be acknowledged.
    beds = [Bed(workdir / name, testbed.bed.venv) for name in ("bridge-am-1", "bridge-am-2")]
    timeout = f"{RESOLVE_TIMEOUT:g}s"
    try:
        _, first, address = alertmanager.launch(beds[0], "bridge-am-1", resolve_timeout=timeout)
        _, second, _ = alertmanager.launch(
            beds[1], "bridge-am-2", peers=[address], resolve_timeout=timeout
        )
        urls = [first, second]
        poll("both replicas in one cluster", lambda: all(am.peers(u) == 2 for u in urls), 30)
        yield urls
    finally:
        for bed in reversed(beds):
            bed.stop()
            assert bed.leftovers() == []


def action(url: str, alarm_id: str, current: str, previous: str, **kw: Any) -> dict[str, Any]:
    return {"url": url, **aodh_payload(alarm_id, current, previous, **kw)}


def on_every(urls: list[str], alarm_id: str) -> list[dict[str, Any]] | None:
    """The alarm's alert as each replica holds it, once every replica holds it active."""
    found = [am.alerts(u, alarm_id=alarm_id) for u in urls]
    if all(len(a) == 1 and a[0]["status"]["state"] == "active" for a in found):
        return [a[0] for a in found]
    return None


def test_alarm_fires_on_both_replicas_stays_firing_and_resolves(
    aodh: AodhNotifier, replicas: list[str], tmp_path: Path
) -> None:
    """Firing on both replicas, kept firing by re-sends, then resolved on both by ``ok``."""
    urls = replicas
    alarm_id = str(uuid.uuid4())
    args = state_args(tmp_path / "state.db", urls, "--resend-interval", f"{RESEND:g}s")
    with run_bridge(args) as bridge:
        hook = f"{bridge.url}/v1/aodh"
        fired = action(hook, alarm_id, "alarm", "insufficient data", name="cpu-high", value=95.5)
        [result] = aodh.notify(fired)
        assert result.get("status") == 202, result
        assert {"content-type", "x-openstack-request-id"} <= set(result["headers"])
        assert "authorization" not in result["headers"]

        first = poll("alert active on both replicas", lambda: on_every(urls, alarm_id), 30)
        for alert in first:
            assert alert["labels"] == {
                "alertname": "cpu-high",
                "alarm_id": alarm_id,
                "severity": "warning",  # Aodh's moderate
                "source": "aodh",
            }
            assert alert["annotations"]["reason"] == fired["reason"]
            assert alert["annotations"]["value"] == "95.5"
            assert alert["annotations"]["aodh_state"] == "alarm"
        assert first[0]["startsAt"] == first[1]["startsAt"]

        # Past every way an alert could end by itself, it never stops being active.
        until = time.monotonic() + WATCH
        while time.monotonic() < until:
            assert on_every(urls, alarm_id) is not None, "alert ended while still firing"
            time.sleep(0.5)
        later = on_every(urls, alarm_id)
        assert later is not None
        for before, after in zip(first, later, strict=True):
            assert am.timestamp(after["endsAt"]) > am.timestamp(before["endsAt"])
            assert after["startsAt"] == before["startsAt"]
        for url in urls:
            assert am.received(url, "firing") > 1, url  # re-sent, not posted once
            assert (
                bridge.metric("aodh_bridge_alerts_sent_total", alertmanager=url, outcome="success")
                > 1
            )

        [result] = aodh.notify(action(hook, alarm_id, "ok", "alarm", name="cpu-high"))
        assert result.get("status") == 202, result

        def resolved() -> bool:
            return all(
                not am.alerts(u, alarm_id=alarm_id) and am.received(u, "resolved") > 0 for u in urls
            )

        poll("alert resolved on both replicas", resolved, 30)
        assert bridge.metric("aodh_bridge_webhooks_received_total", outcome="accepted") == 2
        assert bridge.metric("aodh_bridge_firing_alarms") == 0
        for url in urls:
            for outcome in ("refused", "error"):
                assert (
                    bridge.metric(
                        "aodh_bridge_alerts_sent_total", alertmanager=url, outcome=outcome
                    )
                    == 0
                ), (url, outcome, bridge.logs())


def _samples(bridge: BridgeProcess, authorization: str) -> Samples:
    """The bridge's metrics, behind the same basic auth as its webhook."""
    resp = bridge.request("GET", "/metrics", headers={"Authorization": authorization})
    assert resp.status == 200, resp
    return parse_samples(resp.body.decode())


def test_basic_auth_in_the_action_url(
    aodh: AodhNotifier, replicas: list[str], tmp_path: Path
) -> None:
    """Credentials in Aodh's action URL pass; wrong or missing ones are refused, sent nowhere."""
    urls = replicas
    password = secrets.token_urlsafe(12)  # this test's own: no testbed credential
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(f'basic_auth_users:\n  aodh: "{hashed}"\n')
    args = state_args(
        tmp_path / "state.db",
        urls,
        "--resend-interval",
        f"{RESEND:g}s",
        "--web.config.file",
        str(web),
    )
    with run_bridge(args, ready=False) as bridge:
        authorization = "Basic " + base64.b64encode(f"aodh:{password}".encode()).decode()
        poll(
            "bridge ready",
            lambda: (
                bridge.request("GET", "/readyz", headers={"Authorization": authorization}).status
                == 200
            ),
            30,
        )
        right = f"{bridge.url.replace('://', f'://aodh:{password}@')}/v1/aodh"
        wrong = f"{bridge.url.replace('://', '://aodh:wrong-password@')}/v1/aodh"
        anonymous = f"{bridge.url}/v1/aodh"
        denied, nameless, allowed = (str(uuid.uuid4()) for _ in range(3))
        results = aodh.notify(
            action(wrong, denied, "alarm", "ok"),
            action(anonymous, nameless, "alarm", "ok"),
            action(right, allowed, "alarm", "ok", severity="critical"),
        )
        assert [r.get("status") for r in results] == [401, 401, 202], results
        # Aodh turned the URL's credentials into the header; the anonymous post had none.
        assert ["authorization" in r["headers"] for r in results] == [True, False, True]

        alerts = poll("allowed alarm on both replicas", lambda: on_every(urls, allowed), 30)
        assert {a["labels"]["severity"] for a in alerts} == {"critical"}
        # Posted before the allowed one and sent with it had they been accepted.
        for url in urls:
            assert am.alerts(url, alarm_id=denied) == []
            assert am.alerts(url, alarm_id=nameless) == []

        samples = _samples(bridge, authorization)
        webhooks = "aodh_bridge_webhooks_received_total"
        assert samples[(webhooks, frozenset({("outcome", "unauthorized")}))] == 2
        assert samples[(webhooks, frozenset({("outcome", "accepted")}))] == 1
        assert sum(v for (name, _), v in samples.items() if name == "aodh_bridge_alarms") == 1
        assert bridge.request("GET", "/metrics").status == 401
