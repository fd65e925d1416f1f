"""A reverse proxy in front of a real Alertmanager answers 401, 404 or 413 (short bodies and
3 KiB ones) for a while, then forwards: the bridge drops nothing, shows the failure by status
while it lasts, logs it once, and delivers every alert within its backoff, not at the next
resend (10 minutes here)."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from alerts.sender import MAX_BACKOFF
from tests.support.alertmanager_process import alertmanagers
from tests.support.bridge import aodh_payload, run_bridge, state_args
from tests.support.front import Front, forward, front
from tests.support.metrics import parse_samples
from tests.support.testbed import poll

pytestmark = pytest.mark.slow
ALARMS = 5
SHORT = b"<html>refused by the front</html>\n"
LONG = b"<html>" + b"x" * 3072 + b"</html>\n"
# One bridge sender per route: each meets one kind of refusal, all at once.
ROUTES = {
    f"{size}-{status}": (status, body)
    for status in (401, 404, 413)
    for size, body in (("short", SHORT), ("long", LONG))
}
FAILING = "Alertmanager not accepting alerts; retrying"
RECOVERED = "Alertmanager accepting alerts again"


class Proxy:
    """Refuses each route with its status until ``forwarding`` is set; then passes every POST
    to the Alertmanager, without the route prefix."""

    def __init__(self, alertmanager: str) -> None:
        self.alertmanager = alertmanager
        self.forwarding = threading.Event()

    def __call__(self, path: str, body: bytes) -> tuple[int, bytes]:
        route, _, rest = path.lstrip("/").partition("/")
        if not self.forwarding.is_set():
            return ROUTES[route]
        return forward(self.alertmanager, "/" + rest, body)


def _route(path: str) -> str:
    return path.lstrip("/").partition("/")[0]


def _refused_rounds(proxy: Front, route: str) -> int:
    """Refused POSTs of the whole queue: one per round of the sender, whatever it tries next
    within the round (413: halves)."""
    return sum(
        1
        for s in proxy.seen()
        if _route(s.path) == route and s.status != 200 and s.body.count(b'"alarm_id"') == ALARMS
    )


def _forwarded(proxy: Front, route: str) -> set[str]:
    """Alarms of the POSTs the Alertmanager accepted through ``route``."""
    return {
        alarm
        for s in proxy.seen()
        if _route(s.path) == route and s.status == 200
        for alarm in (a["labels"]["alarm_id"] for a in json.loads(s.body))
    }


def _lines(logs: str, msg: str, url: str) -> list[str]:
    return [
        line
        for line in logs.splitlines()
        if f'msg="{msg}"' in line and re.search(rf"alertmanager={re.escape(url)}( |$)", line)
    ]


def test_a_refusing_front_loses_no_alert(tmp_path: Path) -> None:
    with alertmanagers(tmp_path / "am") as pool:
        am = pool.new("am")
        proxy = Proxy(am.url)
        with front(proxy) as fr:
            urls = {route: f"{fr.url}/{route}" for route in ROUTES}
            args = state_args(
                tmp_path / "state.db", list(urls.values()), "--resend-interval", "10m"
            )
            with run_bridge(args) as bridge:
                ids = {f"front-{i}" for i in range(ALARMS)}
                assert [bridge.post(aodh_payload(i)).status for i in sorted(ids)] == [202] * ALARMS

                def retried_or_drained() -> bool:
                    # A route whose queue emptied while refused has dropped its alerts: stop
                    # waiting for retries and let the assertions below say so.
                    return all(
                        _refused_rounds(fr, route) >= 3
                        or bridge.metric("aodh_bridge_queue_alerts", alertmanager=url) == 0
                        for route, url in urls.items()
                    )

                poll("every route refused three rounds", retried_or_drained, 30, 0.2)

                # While the front refuses: nothing dropped, the failure visible by status.
                samples = parse_samples(bridge.metrics())

                def value(name: str, **labels: str) -> float:
                    return samples.get((name, frozenset(labels.items())), 0.0)

                for route, url in urls.items():
                    status = str(ROUTES[route][0])
                    assert value("aodh_bridge_queue_alerts", alertmanager=url) == ALARMS, route
                    sent = "aodh_bridge_alerts_sent_total"
                    assert value(sent, alertmanager=url, outcome="refused") == 0, route
                    requests = "aodh_bridge_alertmanager_requests_total"
                    assert value(requests, alertmanager=url, outcome="error", code=status) >= 3
                    if status == "413":  # halves tried first, down to a single alert
                        assert value(requests, alertmanager=url, outcome="retried", code=status)
                    assert value("aodh_bridge_alertmanager_up", alertmanager=url) == 0, route
                assert am.firing_ids() == set()

                proxy.forwarding.set()
                # The bound is a poll timeout: one full backoff and some slack, far inside the
                # 10-minute resend interval that would otherwise be the next chance.
                bound = MAX_BACKOFF + 15
                poll("every alert in Alertmanager", lambda: am.firing_ids() == ids, bound)
                poll(
                    "every route forwarded every alert",
                    lambda: all(_forwarded(fr, route) == ids for route in ROUTES),
                    bound,
                )
                up = "aodh_bridge_alertmanager_up"
                poll(
                    "every Alertmanager up again",
                    lambda: all(bridge.metric(up, alertmanager=u) == 1 for u in urls.values()),
                    bound,
                )
            logs = bridge.logs()

    # One line when each Alertmanager started failing and one when it recovered, although
    # every route was retried several times.
    assert "dropped" not in logs
    for route, url in urls.items():
        failing = _lines(logs, FAILING, url)
        assert len(failing) == 1, (route, failing)
        assert f"code={ROUTES[route][0]}" in failing[0]
        assert len(_lines(logs, RECOVERED, url)) == 1, route
