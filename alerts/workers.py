"""What the bridge's background workers share: how one of them survives an error it did not
foresee, and the housekeeper, the smallest of them.

A worker's loop catches what one unit of work raises (a reconciliation, a round of sends, a
batch of events, one alarm's read), logs it with its traceback, counts it in
``aodh_bridge_worker_errors_total{worker}`` and goes on: a silent dead thread stops alerts
for good. A thread that ends anyway shows in ``Bridge.problems`` (/healthz), and the CLI
then exits, so that the service manager starts the bridge again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from alerts.metrics import Metrics
from alerts.store import Store, StoreError

log = logging.getLogger("aodh-alertmanager-bridge.workers")


def survived(metrics: Metrics, worker: str) -> None:
    """Log the exception being handled, with its traceback, and count it for ``worker``;
    call it from the ``except Exception`` that ends one unit of work."""
    metrics.worker_errors.labels(worker).inc()
    log.error(
        "worker error; going on",
        exc_info=True,
        extra={"worker": worker, "thread_name": threading.current_thread().name},
    )


class Housekeeper(threading.Thread):
    """Forgets what is over (resolutions past their window, alarms gone for a day)."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name="housekeeper", daemon=True)
        self._store = store
        self._metrics = metrics
        self._interval = interval
        self._clock = clock
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self._store.gc(self._clock())
            except StoreError as exc:
                log.error("housekeeping failed", extra={"err": str(exc)})
            except Exception:  # noqa: BLE001 - logged and counted by survived(); next run
                survived(self._metrics, "housekeeper")
