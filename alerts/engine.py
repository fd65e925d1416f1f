"""Applies what was accepted (and what the Aodh API says) to the alarms' state, one thread.

Without the Aodh API a webhook is applied as it stands, in arrival order. With it, a webhook
is a prompt: the alarm is read from the API by one of the ``aodh-read`` threads (at most one
read in flight per alarm; webhooks that arrive during a read cause one more read) and the
API's state, ordered by its ``state_timestamp``, is applied. If the read fails, whatever the
error, the webhook is applied as it stands and the next reconciliation corrects it if needed.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence

from alerts.aodh import AodhAPI, ApiError
from alerts.lifecycle import Event, Gone, Observed, Webhook, alarm_of, value_of
from alerts.metrics import Metrics
from alerts.payload import Notification
from alerts.plan import Change
from alerts.store import Store, StoreError
from alerts.workers import survived

log = logging.getLogger("aodh-alertmanager-bridge.engine")
Item = tuple[int, Notification, float]
FETCHERS = 4
# Events per transaction: small enough that the webhook path never waits long for the lock.
MAX_BATCH = 200


def as_sent(items: list[Item]) -> list[tuple[Event, Sequence[int]]]:
    """The webhooks applied as they stand, each dropping its own inbox row."""
    return [(Webhook(n, t), [i]) for i, n, t in items]


class Engine(threading.Thread):
    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        wake_senders: Callable[[], None],
        api: AodhAPI | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name="engine", daemon=True)
        self._store = store
        self._metrics = metrics
        self._wake = wake_senders
        self._api = api
        self._clock = clock
        self._queue: queue.SimpleQueue[list[tuple[Event, Sequence[int]]] | None] = (
            queue.SimpleQueue()
        )
        # Alarms to read. Threads of our own, not a pool, so that /healthz sees one that
        # ended; the bridge starts and watches them with the others.
        self._reads: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.readers = [
            threading.Thread(target=self._reader, name=f"aodh-read-{n}", daemon=True)
            for n in range(1, FETCHERS + 1)
            if api is not None
        ]
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._waiting: dict[str, list[Item]] = {}  # alarm id -> webhooks for the next read
        self._reading: set[str] = set()

    def commit(self, batch: list[tuple[Notification, float]]) -> None:
        """The accept thread's durable commit of a batch of webhooks. Without the API they
        are applied in that very transaction; with it they go to the inbox and wait for
        their alarm's read."""
        if self._api is None:
            changes = self._store.apply(
                [(Webhook(n, t), ()) for n, t in batch], self._clock(), durable=True
            )
            self.count(changes)
            return
        ids = self._store.accept(batch)
        self.accepted([(i, n, t) for i, (n, t) in zip(ids, batch, strict=True)])

    def accepted(self, items: list[Item]) -> None:
        """Inbox rows to apply: each alarm is read from the API first."""
        if self._api is None:
            self._queue.put([(Webhook(n, t), [i]) for i, n, t in items])
            return
        for item in items:
            alarm_id = item[1].alarm_id
            with self._lock:
                self._waiting.setdefault(alarm_id, []).append(item)
                if alarm_id in self._reading:
                    continue
                self._reading.add(alarm_id)
            self._reads.put(alarm_id)

    def _reader(self) -> None:
        while (alarm_id := self._reads.get()) is not None and not self._stopping.is_set():
            self._read(alarm_id)

    def _read(self, alarm_id: str) -> None:
        """Read until no webhook of the alarm waits; never raises (short of BaseException),
        or the alarm would stay "read in flight" and its later webhooks would never apply."""
        while True:
            with self._lock:
                items = self._waiting.pop(alarm_id, [])
                if not items:
                    self._reading.discard(alarm_id)
                    return
            try:
                events = self._events(alarm_id, items)
            except Exception:  # noqa: BLE001 - logged and counted by survived()
                self._metrics.api_requests.labels("error").inc()
                survived(self._metrics, "aodh-read")
                events = as_sent(items)
            self._queue.put(events)

    def _events(self, alarm_id: str, items: list[Item]) -> list[tuple[Event, Sequence[int]]]:
        """What the API says about the alarm of these webhooks (or the webhooks as sent)."""
        if self._api is None:
            return as_sent(items)
        seen = self._clock()
        ids = [i for i, _, _ in items]
        try:
            alarm = self._api.get(alarm_id)
        except ApiError as exc:
            self._metrics.api_requests.labels("error").inc()
            log.warning(
                "Aodh API read failed; applying the webhook as sent",
                extra={"alarm_id": alarm_id, "err": str(exc)},
            )
            return as_sent(items)
        if alarm is None:
            self._metrics.api_requests.labels("not_found").inc()
            log.warning(
                "Aodh API does not know the alarm of a webhook; treated as deleted"
                " (if it exists, the bridge's cloud user cannot see its project)",
                extra={"alarm_id": alarm_id},
            )
            return [(Gone(alarm_id, seen), ids)]
        self._metrics.api_requests.labels("success").inc()
        last = items[-1][1]
        value = value_of(last.reason_data) if last.current == alarm.state else ""
        previous = items[0][1].previous
        return [(Observed(alarm, seen, value, previous), ids)]

    def replay_inbox(self) -> int:
        """Webhooks accepted before a restart but not applied: apply them now."""
        items = self._store.inbox()
        if items:
            self.accepted(items)
        return len(items)

    def stop(self) -> None:
        """Reads not started yet are dropped: their inbox rows are applied at the next start."""
        self._stopping.set()
        for _ in self.readers:
            self._reads.put(None)
        self._queue.put(None)

    def run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            events = list(first)
            last = False
            while len(events) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    last = True
                    break
                events.extend(more)
            try:
                self._apply(events)
            except Exception:  # noqa: BLE001 - logged and counted; the inbox rows stay
                survived(self._metrics, "engine")
            if last:
                return

    def _apply(self, events: list[tuple[Event, Sequence[int]]]) -> None:
        try:
            changes = self._store.apply(events, self._clock())
        except (StoreError, sqlite3.Error) as exc:
            # The inbox rows stay; a restart applies them.
            log.error("cannot apply events", extra={"err": str(exc), "count": len(events)})
            return
        except Exception:  # noqa: BLE001 - one bad event must not stop every later one
            changes = self._apply_one_by_one(events)
        self.count(changes)

    def _apply_one_by_one(self, events: list[tuple[Event, Sequence[int]]]) -> list[Change]:
        """Find the event that cannot be applied; drop it (logged) so the rest goes on."""
        changes: list[Change] = []
        for event, ids in events:
            try:
                changes += self._store.apply([(event, ids)], self._clock())
            except (StoreError, sqlite3.Error) as exc:
                log.error("cannot apply event", extra={"err": str(exc)})
            except Exception as exc:  # noqa: BLE001 - see _apply
                log.error(
                    "event cannot be applied; dropped",
                    extra={"alarm_id": alarm_of(event), "err": type(exc).__name__},
                )
                self._store.apply([], self._clock(), drop=ids)
        return changes

    def count(self, changes: list[Change]) -> None:
        for change in changes:
            if change.before is None or change.before.state != change.after.state:
                source = "webhook" if change.after.state_ts is None else "aodh_api"
                self._metrics.transitions.labels(change.after.state, source).inc()
                # Debug: at a thousand transitions a second, one line each would cost a tenth
                # of the bridge's CPU; transitions are counted in the metrics.
                log.debug(
                    "alarm state",
                    extra={
                        "alarm_id": change.after.alarm_id,
                        "state": change.after.state,
                        "firing": change.after.firing,
                        "via": source,
                    },
                )
        if changes:
            self._wake()
