"""The bridge's Aodh reads through a proxy that answers some of them itself, with status 200
and an HTML page: a real HTTP answer that is not JSON, for the real bridge process and the
testbed's real Keystone and Aodh behind the proxy (``http_proxy`` in the bridge's
environment; the Alertmanager sender does not use it)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from tests.support.alertmanager_process import alertmanagers
from tests.support.bridge import aodh_payload, run_bridge, state_args
from tests.support.proxy import Answer, http_proxy
from tests.support.testbed import Testbed, poll

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

INBOX = "aodh_bridge_inbox_webhooks"
READS = "aodh_bridge_aodh_api_requests_total"
MAINTENANCE = b"<html><body><h1>Aodh is under maintenance</h1></body></html>\n"


def one_alarm_read(method: str, path: str) -> Answer | None:
    """The proxy answers every single-alarm read itself; listings and Keystone pass."""
    if method == "GET" and re.fullmatch(r".*/v2/alarms/[^/]+", path):
        return 200, "text/html", MAINTENANCE
    return None


def test_a_read_answered_with_html_applies_the_webhook_as_sent(
    testbed: Testbed, tmp_path: Path
) -> None:
    """Item 3, aodh-read, real failure source: each webhook is applied as sent (and reaches
    Alertmanager), and the alarm's next webhook too. Before the fix the first read's
    exception ended in the read pool's future, unlogged, and the alarm stayed "read in
    flight": both webhooks stayed in the inbox."""
    testbed.need("aodh")
    run = uuid.uuid4().hex[:8]
    config = {"aodh": {"reconcile_interval": "1h", "action_match": f"proxy={run}"}}
    (tmp_path / "bridge.yml").write_text(json.dumps(config))
    with alertmanagers(tmp_path / "am") as ams, http_proxy(one_alarm_read) as proxy:
        am = ams.new("am")
        args = state_args(
            tmp_path / "state.db",
            [am.url],
            "--os-cloud",
            "testbed",
            "--config.file",
            str(tmp_path / "bridge.yml"),
        )
        env = {
            "OS_CLIENT_CONFIG_FILE": str(testbed.clouds_yaml),
            "http_proxy": proxy.url,
            "HTTP_PROXY": proxy.url,
            "no_proxy": "",
            "NO_PROXY": "",
        }
        with run_bridge(args, env=env) as bridge:
            alarm_id = str(uuid.uuid4())
            assert bridge.post(aodh_payload(alarm_id, "alarm", "ok")).status == 202
            poll(
                "the webhook applied as sent",
                lambda: bridge.metric(READS, outcome="error") == 1 and bridge.metric(INBOX) == 0,
                timeout=30,
            )
            poll("the alert in Alertmanager", lambda: alarm_id in am.firing_ids(), timeout=30)

            assert bridge.post(aodh_payload(alarm_id, "ok", "alarm")).status == 202
            poll(
                "the next webhook applied as sent",
                lambda: bridge.metric(READS, outcome="error") == 2 and bridge.metric(INBOX) == 0,
                timeout=30,
            )
            poll("the alert resolved", lambda: alarm_id not in am.firing_ids(), timeout=30)
            assert am.received("resolved") >= 1
            assert proxy.answered == [proxy.answered[0]] * 2
            assert proxy.answered[0].endswith(f"/v2/alarms/{alarm_id}")
            warning = "Aodh API read failed; applying the webhook as sent"
            assert warning in bridge.logs()
            assert "the answer is not JSON" in bridge.logs()  # aodh.py names the cause
            assert bridge.request("GET", "/healthz").status == 200
