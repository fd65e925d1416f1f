"""Periodic comparison with the Aodh API, so that Alertmanager is right even when a webhook
was lost, an alarm was deleted or disabled, or the bridge was down.

A listing is used only when every page arrived; an alarm missing from a complete listing
(all projects, only alarms with an action that points at the bridge) is treated as gone.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

from alerts.aodh import AodhAPI, ApiError
from alerts.engine import Engine
from alerts.lifecycle import Event, Gone, Observed
from alerts.metrics import Metrics
from alerts.plan import Change
from alerts.store import Store, StoreError
from alerts.workers import survived

log = logging.getLogger("aodh-alertmanager-bridge.reconcile")
CHUNK = 200


def difference(change: Change) -> str | None:
    """How a reconciliation's change shows up in ``reconcile_differences_total``."""
    before, after = change.before, change.after
    if after.state in ("deleted", "disabled"):
        return after.state if before is not None and before.state != after.state else None
    if before is None:
        return "unknown_firing" if after.firing else None
    changed = before.state != after.state or before.firing != after.firing
    return "state" if changed else None


class Reconciler(threading.Thread):
    def __init__(
        self,
        api: AodhAPI,
        store: Store,
        engine: Engine,
        metrics: Metrics,
        *,
        interval: float,
        pattern: re.Pattern[str],
        wake_senders: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name="reconcile", daemon=True)
        self._api = api
        self._store = store
        self._engine = engine
        self._metrics = metrics
        self._interval = interval
        self._pattern = pattern
        self._wake = wake_senders
        self._clock = clock
        self._stopping = threading.Event()
        self.first_done = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.once()
            except Exception:  # noqa: BLE001 - logged and counted by survived(); next run
                self._metrics.reconcile_runs.labels("error").inc()
                survived(self._metrics, "reconcile")
            # Done, even when failed (as when the API is down): ready means "tried once".
            self.first_done.set()
            self._stopping.wait(self._interval)

    def once(self) -> bool:
        seen = self._clock()
        try:
            alarms = self._api.list_watched(self._pattern)
        except ApiError as exc:
            self._metrics.reconcile_runs.labels("error").inc()
            log.warning("reconciliation failed; keeping what is known", extra={"err": str(exc)})
            return False
        listed = {a.alarm_id for a in alarms}
        events: list[tuple[Event, list[int]]] = [(Observed(a, seen), []) for a in alarms]
        changes: list[Change] = []
        try:
            events += [(Gone(i, seen), []) for i in self._store.live_alarms() if i not in listed]
            # In slices: one long transaction would hold up the webhooks' commits.
            for start in range(0, len(events), CHUNK):
                changes += self._store.apply(events[start : start + CHUNK], self._clock())
            self._store.refresh_firing(self._clock())
        except StoreError as exc:
            self._metrics.reconcile_runs.labels("error").inc()
            log.error("reconciliation not stored", extra={"err": str(exc)})
            return False
        kinds: dict[str, int] = {}
        for change in changes:
            kind = difference(change)
            if kind is not None:
                kinds[kind] = kinds.get(kind, 0) + 1
                self._metrics.reconcile_differences.labels(kind).inc()
        self._engine.count(changes)
        self._wake()
        self._metrics.reconcile_runs.labels("success").inc()
        self._metrics.last_reconcile.set(seen)
        log.info(
            "reconciled",
            extra={
                "alarms": len(alarms),
                "differences": sum(kinds.values()),
                **{f"diff_{k}": v for k, v in kinds.items()},
            },
        )
        return True
