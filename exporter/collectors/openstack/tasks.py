"""Calls that run side by side under one deadline, each on its own daemon thread.

A service that hangs must cost its own signals and nothing else: its call is left behind at
the deadline (api_timeout ends it later), reported as timed out, and not started again while
it is still running, so a frozen API holds one thread, never one per cycle.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from otb_common.cloud import cloud_errors, describe

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    value: Any = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


Errors = Callable[[], tuple[type[Exception], ...]]
Describe = Callable[[BaseException], str]


class _Call:
    def __init__(self, key: str, fn: Callable[[], Any], errors: Errors, explain: Describe) -> None:
        self.key = key
        self._errors, self._explain = errors, explain
        self.started = time.monotonic()
        self.finished = self.started
        self.done = threading.Event()
        self.outcome: Outcome | None = None
        self._fn = fn
        threading.Thread(target=self._run, name=f"openstack-{key}", daemon=True).start()

    def _run(self) -> None:
        try:
            value = self._fn()
            error = None
        except self._errors() as exc:
            value, error = None, self._explain(exc)
        except Exception as exc:
            log.exception("openstack call crashed", extra={"call": self.key})
            value, error = None, f"internal error: {type(exc).__name__}"
        self.finished = time.monotonic()
        self.outcome = Outcome(value, error, self.finished - self.started)
        self.done.set()


Started = dict[str, "_Call | Outcome"]
"""Calls started, by key; an Outcome for a call not started (its previous run still hangs)."""


class Calls:
    """Keeps the calls still running from earlier cycles, by key."""

    def __init__(self, errors: Errors = cloud_errors, explain: Describe = describe) -> None:
        """``errors`` are the expected failures, told by ``explain`` in one line; anything
        else is logged with its traceback as a crash."""
        self._errors, self._explain = errors, explain
        self._running: dict[str, _Call] = {}
        self._lock = threading.Lock()

    def run(self, calls: Mapping[str, Callable[[], Any]], deadline: float) -> dict[str, Outcome]:
        """Start every call (unless its previous run still hangs) and wait until ``deadline``
        (a ``time.monotonic()`` value) at most."""
        return self.wait(self.start(calls), deadline)

    def start(self, calls: Mapping[str, Callable[[], Any]]) -> Started:
        """Start every call whose previous run does not still hang; ``wait`` for them."""
        started: Started = {}
        with self._lock:
            for key, fn in calls.items():
                old = self._running.get(key)
                if old is not None and not old.done.is_set():
                    started[key] = Outcome(
                        error="still blocked in an earlier cycle",
                        seconds=time.monotonic() - old.started,
                    )
                    continue
                started[key] = self._running[key] = _Call(key, fn, self._errors, self._explain)
        return started

    def wait(self, started: Started, deadline: float) -> dict[str, Outcome]:
        """The outcomes of started calls, waited for until ``deadline`` at most."""
        out: dict[str, Outcome] = {}
        for key, call in started.items():
            if isinstance(call, Outcome):
                out[key] = call
                continue
            call.done.wait(max(0.0, deadline - time.monotonic()))
            if call.outcome is not None:
                out[key] = call.outcome
            else:
                out[key] = Outcome(
                    error="timed out (cycle deadline)", seconds=time.monotonic() - call.started
                )
        with self._lock:
            for key, call in started.items():
                if (
                    isinstance(call, _Call)
                    and call.done.is_set()
                    and self._running.get(key) is call
                ):
                    del self._running[key]
        return out
