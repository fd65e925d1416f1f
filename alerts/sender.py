"""One worker per Alertmanager replica: its own queue (rows of ``deliveries``), its own backoff.

A replica that is down only delays itself. Alertmanager inserts the valid alerts of a batch
before it answers 400 for the rest, so on a 4xx the batch is retried one alert at a time and
only the alert Alertmanager refuses on its own is dropped (logged and counted), never the queue.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from urllib.parse import unquote, urlsplit

from alerts.config import redact_url
from alerts.metrics import Metrics
from alerts.store import Due, Store, StoreError

log = logging.getLogger("aodh-alertmanager-bridge.sender")
MIN_BACKOFF = 0.5
MAX_BACKOFF = 30.0
IDLE_WAIT = 5.0
# Alerts that arrive within this of a first one share its POST: fewer requests and commits
# under load, for a delay far inside the end-to-end budget.
LINGER = 0.03
# An answer is read up to this; a longer one costs the connection (the unread rest would be
# taken for the answer to the next request), never the delivery.
READ_LIMIT = 64 * 1024


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


class RefusedError(Exception):
    """Alertmanager answered 4xx: this input will never be accepted as it is."""


class UnreachableError(Exception):
    """Connection failure, timeout or 5xx: worth retrying later."""


class AlertmanagerClient:
    """A keep-alive connection to one Alertmanager; credentials in the URL become Basic auth."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.name = redact_url(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path.rstrip("/") + "/api/v2/alerts"
        self._timeout = timeout
        self._headers = {
            "Content-Type": "application/json",
            "User-Agent": "aodh-alertmanager-bridge",
        }
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(
                    self._host,
                    self._port,
                    timeout=self._timeout,
                    context=ssl.create_default_context(),
                )
            else:
                self._conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._timeout
                )
        return self._conn

    def post(self, alerts: Sequence[str]) -> None:
        body = ("[" + ",".join(alerts) + "]").encode()
        try:
            conn = self._connection()
            conn.request("POST", self._path, body, self._headers)
            resp = conn.getresponse()
            detail = resp.read(READ_LIMIT).decode("utf-8", "replace").strip()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise UnreachableError(f"{type(exc).__name__}: {exc}") from None
        if not resp.isclosed():  # answer longer than READ_LIMIT: the connection is spent
            self.close()
        if resp.status == 200:
            return
        if 400 <= resp.status < 500 and resp.status not in (408, 429):
            raise RefusedError(f"HTTP {resp.status}: {detail[:300]}")
        self.close()
        raise UnreachableError(f"HTTP {resp.status}: {detail[:300]}")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


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
        try:
            self._send(due, now)
        except UnreachableError as exc:
            self.backoff = min(MAX_BACKOFF, max(MIN_BACKOFF, self.backoff * 2))
            self._metrics.requests.labels(self.client.name, "error").inc()
            self._metrics.alerts_sent.labels(self.client.name, "error").inc(len(due))
            log.warning(
                "Alertmanager unreachable; retrying",
                extra={"alertmanager": self.client.name, "err": str(exc), "in": self.backoff},
            )
            return self.backoff
        self.backoff = 0.0
        self._store.delivered(self.url, due, now, self._interval, self._firing_interval)
        return 0.0

    def _send(self, due: Sequence[Due], now: float) -> None:
        alerts = [alert_json(d, now, self._interval) for d in due]
        try:
            self.client.post(alerts)
            self._count("success", len(alerts))
            return
        except RefusedError:
            if len(alerts) == 1:
                self._refused(due[0])
                return
        for d, alert in zip(due, alerts, strict=True):  # find the one it refuses
            try:
                self.client.post([alert])
                self._count("success", 1)
            except RefusedError:
                self._refused(d)

    def _count(self, outcome: str, n: int) -> None:
        self._metrics.requests.labels(self.client.name, outcome).inc()
        self._metrics.alerts_sent.labels(self.client.name, outcome).inc(n)

    def _refused(self, d: Due) -> None:
        self._count("refused", 1)
        log.error(
            "Alertmanager refused an alert; dropped",
            extra={"alertmanager": self.client.name, "alert": d.key, "labels": d.labels_json},
        )
