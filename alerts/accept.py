"""Group commit for the webhook path: requests wait while one thread commits them together.

A webhook is answered 202 only after its inbox row is committed; with many concurrent
webhooks, one transaction (one fsync) carries all that arrived during the previous one.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable

from alerts.payload import Notification
from alerts.store import StoreError

log = logging.getLogger("aodh-alertmanager-bridge.accept")
MAX_BATCH = 512


class UnavailableError(Exception):
    """The state store did not commit the webhook: it was not accepted."""


class _Pending:
    __slots__ = ("done", "error", "notification", "received")

    def __init__(self, notification: Notification, received: float) -> None:
        self.notification = notification
        self.received = received
        self.done = threading.Event()
        self.error: str | None = None


# Commits a batch durably (raising StoreError if it cannot): see ``Engine.commit``.
Commit = Callable[[list[tuple[Notification, float]]], None]


class Accepter(threading.Thread):
    def __init__(self, commit: Commit) -> None:
        super().__init__(name="accept", daemon=True)
        self._commit_batch = commit
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()

    def accept(self, notification: Notification, timeout: float = 10.0) -> None:
        item = _Pending(notification, time.time())
        self._queue.put(item)
        if not item.done.wait(timeout):
            # Too late to answer 202; if it commits anyway, it is applied (at most a duplicate).
            raise UnavailableError("state store too slow")
        if item.error is not None:
            raise UnavailableError(item.error)

    def stop(self) -> None:
        self._queue.put(None)

    def run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        error = self._try(batch)
        if error == "not stored" and len(batch) > 1:
            # Something in this batch cannot be stored: only that webhook is refused.
            for p in batch:
                self._commit([p])
            return
        for p in batch:
            p.error = error
            p.done.set()

    def _try(self, batch: list[_Pending]) -> str | None:
        error = None
        try:
            self._commit_batch([(p.notification, p.received) for p in batch])
        except (StoreError, sqlite3.Error) as exc:
            log.error("cannot store webhooks", extra={"err": str(exc), "count": len(batch)})
            error = "state store unavailable"
        except Exception:
            log.exception("webhooks not stored", extra={"count": len(batch)})
            error = "not stored"
        return error
