"""One worker per Alertmanager replica: its own queue (rows of ``deliveries``), its own backoff.

A replica that is down only delays itself. An alert is dropped only when Alertmanager itself
says it is invalid: a 400 or 422 to that alert alone, while the same path accepts others (or
an empty POST). Any other answer (401, 403, 404, 405, 5xx from a proxy, an auth layer, a wrong
prefix) or none at all keeps the queue and backs off; a 413 splits the batch in halves.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from alerts.alertmanager_client import (
    AlertmanagerClient,
    DeliveryError,
    RefusedError,
    TooLargeError,
)
from alerts.metrics import Metrics
from alerts.store import Due, Store, StoreError
from alerts.workers import survived

log = logging.getLogger("aodh-alertmanager-bridge.sender")
MIN_BACKOFF = 0.5
MAX_BACKOFF = 30.0
IDLE_WAIT = 5.0
# Alerts that arrive within this of a first one share its POST: fewer requests and commits
# under load, for a delay far inside the end-to-end budget.
LINGER = 0.03
FAILING = "Alertmanager not accepting alerts; retrying"
RECOVERED = "Alertmanager accepting alerts again"


def rfc3339(t: float) -> str:
    return (
        dt.datetime.fromtimestamp(t, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def alert_json(d: Due, now: float, interval: float) -> str:
    """One alert of a POST, as JSON text. Firing: ``endsAt`` four intervals ahead (Prometheus'
    rule); resolved: when it ended. Labels and annotations are spliced in as stored."""
    ends = d.ends if d.ends is not None else max(now, d.starts) + 4 * interval
    generator = f',"generatorURL":{json.dumps(d.generator)}' if d.generator else ""
    return (
        f'{{"labels":{d.labels_json},"annotations":{d.annotations_json},'
        f'"startsAt":"{rfc3339(d.starts)}","endsAt":"{rfc3339(ends)}"{generator}}}'
    )


@dataclass
class _Round:
    """What one round got through so far: kept when a later POST of the round fails."""

    accepted: list[Due] = field(default_factory=list)
    refused: list[tuple[Due, RefusedError]] = field(default_factory=list)


class Sender(threading.Thread):
    def __init__(
        self,
        url: str,
        store: Store,
        metrics: Metrics,
        *,
        interval: float,
        firing_interval: float | None = None,
        timeout: float,
        batch_size: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.client = AlertmanagerClient(url, timeout)
        super().__init__(name=f"sender {self.client.name}", daemon=True)
        self._store = store
        self._metrics = metrics
        self._interval = interval
        self._firing_interval = firing_interval or interval
        self._batch = batch_size
        self._clock = clock
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.backoff = 0.0
        self._failures = 0  # failed rounds since the last one that got through
        self._failing_since = 0.0
        metrics.alertmanager_up.labels(self.client.name).set(1)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                pause = self._round()
            except StoreError as exc:
                log.error("state store failed", extra={"err": str(exc)})
                pause = MAX_BACKOFF
            except Exception:  # noqa: BLE001 - logged and counted by survived(); next round
                survived(self._metrics, "sender")
                pause = MAX_BACKOFF
            if pause <= 0:
                continue
            if self.backoff > 0:
                # Backing off: new alerts do not hurry a replica that is down.
                self._stopping.wait(pause)
            elif self._wake.wait(pause):
                # Woken by new alerts: let the ones arriving right behind them join the POST.
                self._stopping.wait(LINGER)
            self._wake.clear()
        self.client.close()

    def _round(self) -> float:
        """Send what is due; return how long to wait before the next round."""
        now = self._clock()
        due = self._store.due(self.url, now, self._batch)
        if not due:
            nxt = self._store.next_due(self.url)
            return IDLE_WAIT if nxt is None else min(IDLE_WAIT, max(0.0, nxt - now) + 0.01)
        items = self._encode(due, now)
        due = [d for d, _ in items]
        if not due:
            return 0.0
        done = _Round()
        try:
            self._send(items, done)
        except DeliveryError as exc:
            # Refusals not confirmed as being about their alerts: kept, counted as failed.
            for _, refused in done.refused:
                self._request("error", refused.code)
            self._request("error", exc.code)
            if done.accepted:
                self._store.delivered(
                    self.url, done.accepted, now, self._interval, self._firing_interval
                )
            self._alerts("success", len(done.accepted))
            self._alerts("error", len(due) - len(done.accepted))
            self._failed(exc)
            return self.backoff
        self._store.delivered(self.url, due, now, self._interval, self._firing_interval)
        self._alerts("success", len(done.accepted))
        self._recovered()
        return 0.0

    def _send(self, items: list[tuple[Due, str]], done: _Round) -> None:
        """Deliver ``items`` and drop what Alertmanager refuses on its own; raise DeliveryError
        when an answer is not about the alerts (``done`` then holds what got through)."""
        self._post(items, done)
        if done.refused and not done.accepted:
            # Nothing passed: is it these alerts, or everything on this path (a proxy's 400)?
            # An empty list is valid for Alertmanager; whatever refuses it refuses the request.
            self.client.post([])
            self._request("success", "200")
        for d, exc in done.refused:
            self._drop(d, exc)
        done.refused.clear()

    def _encode(self, due: Sequence[Due], now: float) -> list[tuple[Due, str]]:
        """Each alert as JSON. One that cannot be encoded (a row damaged outside the bridge)
        is logged, counted and postponed by an interval, so it never holds up the others."""
        items: list[tuple[Due, str]] = []
        broken: list[Due] = []
        for d in due:
            try:
                items.append((d, alert_json(d, now, self._interval)))
            except Exception:  # noqa: BLE001 - one damaged row costs only its own alert
                survived(self._metrics, "sender")
                broken.append(d)
        if broken:
            self._store.postpone(self.url, broken, now + self._interval)
        return items

    def _post(self, items: list[tuple[Due, str]], done: _Round) -> None:
        """POST ``items``; on 400/422 find the alerts refused alone, on 413 try halves."""
        try:
            self.client.post([alert for _, alert in items])
        except RefusedError as exc:
            if len(items) == 1:
                done.refused.append((items[0][0], exc))
                return
            self._request("retried", exc.code)
            parts = [[item] for item in items]
        except TooLargeError as exc:
            if len(items) == 1:
                raise  # too large even alone: a limit on the way, not the alert's fault
            self._request("retried", exc.code)
            half = len(items) // 2
            parts = [items[:half], items[half:]]
        else:
            self._request("success", "200")
            done.accepted.extend(d for d, _ in items)
            return
        for part in parts:
            self._post(part, done)

    def _request(self, outcome: str, code: str) -> None:
        self._metrics.requests.labels(self.client.name, outcome, code).inc()

    def _alerts(self, outcome: str, n: int) -> None:
        if n:
            self._metrics.alerts_sent.labels(self.client.name, outcome).inc(n)

    def _drop(self, d: Due, exc: RefusedError) -> None:
        self._request("refused", exc.code)
        self._alerts("refused", 1)
        log.error(
            "Alertmanager refused an alert; dropped",
            extra={
                "alertmanager": self.client.name,
                "alert": d.key,
                "labels": d.labels_json,
                "code": exc.code,
                "err": str(exc),
            },
        )

    def _failed(self, exc: DeliveryError) -> None:
        """Back off; log only the change from delivering to failing, not every retry."""
        self.backoff = min(MAX_BACKOFF, max(MIN_BACKOFF, self.backoff * 2))
        self._metrics.alertmanager_up.labels(self.client.name).set(0)
        self._failures += 1
        fields = {
            "alertmanager": self.client.name,
            "code": exc.code,
            "err": str(exc),
            "in": self.backoff,
        }
        if self._failures == 1:
            self._failing_since = self._clock()
            log.warning(FAILING, extra=fields)
        else:
            log.debug("Alertmanager still not accepting alerts", extra=fields)

    def _recovered(self) -> None:
        self.backoff = 0.0
        self._metrics.alertmanager_up.labels(self.client.name).set(1)
        if self._failures:
            log.info(
                RECOVERED,
                extra={
                    "alertmanager": self.client.name,
                    "failed": self._failures,
                    "after": round(self._clock() - self._failing_since, 1),
                },
            )
            self._failures = 0
