"""The bridge's background workers, in-process: one failed unit of work is logged, counted
and survived; a worker that ends anyway fails /healthz and ends ``Bridge.watch``.

Store failures are real SQLite errors (a table renamed away under the running bridge); the
Aodh API is ``AodhDouble``, a test double, because these tests need it to fail on cue.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.metrics import MetricWrapperBase

from alerts import bridge as bridge_module
from alerts.app import create_app
from alerts.bridge import Bridge
from alerts.config import Flags, build_config
from alerts.lifecycle import ApiAlarm
from alerts.payload import Notification, parse
from alerts.plan import Change
from tests.support.aodh_double import AodhDouble, api_alarm
from tests.support.bridge import aodh_payload
from tests.support.testbed import poll

ERRORS = "aodh_bridge_worker_errors_total"
RUNS = "aodh_bridge_reconcile_runs_total"
# A worker that ends on SystemExit is the case under test in some cases below.
ends_in_thread = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture
def bridges(tmp_path: Path) -> Iterator[Callable[[AodhDouble | None], Bridge]]:
    """Bridges on ``tmp_path/state.db`` (an Alertmanager nobody listens on; reconciliation
    every 50 ms), stopped at the end."""
    made: list[Bridge] = []

    def make(api: AodhDouble | None) -> Bridge:
        flags = Flags(alertmanager_urls=("http://127.0.0.1:9",), state_path=str(state(tmp_path)))
        config = dataclasses.replace(build_config(flags), reconcile_interval=0.05)
        made.append(Bridge(config, api))
        return made[-1]

    yield make
    for b in made:
        b.stop()


def state(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


def rename_table(path: Path, old: str, new: str) -> None:
    """From another connection, as an operator's sqlite3 shell would."""
    db = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        db.execute(f"ALTER TABLE {old} RENAME TO {new}")
    finally:
        db.close()


def value(bridge: Bridge, name: str, **labels: str) -> float:
    """A counter's sample (0 when absent), read without the store, whose tables some tests
    take away: a scrape of the whole registry would fail there."""
    for metric in vars(bridge.metrics).values():
        if isinstance(metric, MetricWrapperBase):
            for family in metric.collect():
                for s in family.samples:
                    if s.name == name and s.labels == labels:
                        return float(s.value)
    return 0.0


def note(alarm_id: str, current: str, previous: str) -> Notification:
    return parse(json.dumps(aodh_payload(alarm_id, current, previous)).encode())


def record(bridge: Bridge, alarm_id: str) -> tuple[str, bool] | None:
    rows = bridge.store.raw("SELECT state, firing FROM alarms WHERE alarm_id=?", (alarm_id,))
    return (str(rows[0][0]), bool(rows[0][1])) if rows else None


def test_reconciler_survives_a_store_error(
    bridges: Callable[[AodhDouble | None], Bridge], tmp_path: Path
) -> None:
    """Item 3, reconciler: a real SQLite error in ``live_alarms`` (the alarms table is gone)
    fails each run, not the thread; the bridge is ready and healthy, and once the table is
    back the next run stores the listing."""
    api = AodhDouble()
    api.listing = lambda _p: [api_alarm("r-1")]
    bridge = bridges(api)
    rename_table(state(tmp_path), "alarms", "alarms_away")
    client = create_app(bridge).test_client()  # before the workers: see the healthz test
    bridge.start()
    poll(
        "a failed reconciliation, or the reconciler gone",
        lambda: value(bridge, RUNS, outcome="error") >= 2 or bridge.problems(),
        timeout=10,
        interval=0.02,
    )
    assert bridge.problems() == []
    assert client.get("/readyz").status_code == 200
    rename_table(state(tmp_path), "alarms_away", "alarms")
    poll("the alarm stored", lambda: record(bridge, "r-1"), timeout=10, interval=0.02)
    assert record(bridge, "r-1") == ("alarm", True)
    assert value(bridge, RUNS, outcome="success") >= 1


def test_reconciler_survives_an_unexpected_error(
    bridges: Callable[[AodhDouble | None], Bridge],
) -> None:
    """Item 3, reconciler, with the API double raising ValueError (what a listing that is
    not JSON raised before aodh.py wrapped it): counted as a worker error, then it goes on."""
    api = AodhDouble()
    calls: list[int] = []

    def listing(_pattern: re.Pattern[str]) -> list[ApiAlarm]:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("Expecting value: line 1 column 1 (char 0)")
        return [api_alarm("r-2")]

    api.listing = listing
    bridge = bridges(api)
    bridge.start()
    poll("the alarm stored", lambda: record(bridge, "r-2") or bridge.problems(), timeout=10)
    assert bridge.problems() == []
    assert value(bridge, ERRORS, worker="reconcile") == 1
    assert value(bridge, RUNS, outcome="error") == 1


def test_aodh_read_raising_anything_applies_the_webhook_as_sent(
    bridges: Callable[[AodhDouble | None], Bridge],
) -> None:
    """Item 3, aodh-read, with the API double raising ValueError on every read: each webhook
    is applied as sent, none stays in the inbox, and the alarm's next webhook is applied too
    (it is no longer stuck in the set of reads in flight)."""
    api = AodhDouble()

    def reading(_alarm_id: str) -> ApiAlarm | None:
        raise ValueError("Expecting value: line 1 column 1 (char 0)")

    api.reading = reading
    bridge = bridges(api)
    bridge.start()
    bridge.accepter.accept(note("x-1", "alarm", "ok"))
    poll("the webhook applied", lambda: record(bridge, "x-1"), timeout=10, interval=0.02)
    assert record(bridge, "x-1") == ("alarm", True)
    bridge.accepter.accept(note("x-1", "ok", "alarm"))
    poll(
        "the next webhook applied",
        lambda: record(bridge, "x-1") == ("ok", False),
        timeout=10,
        interval=0.02,
    )
    assert bridge.store.inbox() == []
    assert value(bridge, ERRORS, worker="aodh-read") == 2
    assert value(bridge, "aodh_bridge_aodh_api_requests_total", outcome="error") == 2
    assert bridge.problems() == []


def test_engine_survives_an_event_it_can_neither_apply_nor_drop(
    bridges: Callable[[AodhDouble | None], Bridge], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 3, engine: the store (patched, a double) fails three times with a non-store
    error, so the engine cannot apply the batch, nor the event alone, nor drop it; the
    engine logs it, counts it, and applies the next webhook."""
    api = AodhDouble()
    api.reading = api_alarm
    bridge = bridges(api)
    real_apply = bridge.store.apply
    failures = [RuntimeError("bug 1"), RuntimeError("bug 2"), RuntimeError("bug 3")]

    def apply(*args: object, **kwargs: object) -> list[Change]:
        if failures:
            raise failures.pop(0)
        return real_apply(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bridge.store, "apply", apply)
    bridge.start()
    bridge.accepter.accept(note("e-1", "alarm", "ok"))
    poll("the failures used up", lambda: not failures, timeout=10, interval=0.02)
    bridge.accepter.accept(note("e-2", "alarm", "ok"))
    poll(
        "the next webhook applied, or the engine gone",
        lambda: record(bridge, "e-2") or bridge.problems(),
        timeout=10,
        interval=0.02,
    )
    assert bridge.problems() == []
    assert value(bridge, ERRORS, worker="engine") == 1


def kill_with_system_exit(
    bridge: Bridge, api: AodhDouble, worker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Make one unit of ``worker``'s work raise SystemExit, which no worker catches."""

    def leave(*_args: object, **_kwargs: object) -> None:
        raise SystemExit(3)

    if worker == "reconcile":
        monkeypatch.setattr(api, "listing", leave)
    elif worker == "aodh-read":
        monkeypatch.setattr(api, "reading", leave)
    elif worker == "engine":
        monkeypatch.setattr(bridge.store, "apply", leave)
    elif worker == "sender":
        monkeypatch.setattr(bridge.store, "due", leave)
    else:
        monkeypatch.setattr(bridge.store, "gc", leave)


@ends_in_thread
@pytest.mark.parametrize("worker", ["reconcile", "aodh-read", "engine", "sender", "housekeeper"])
def test_a_worker_that_ends_fails_healthz(
    bridges: Callable[[AodhDouble | None], Bridge],
    monkeypatch: pytest.MonkeyPatch,
    worker: str,
) -> None:
    """Item 3, health: whatever worker ends, /healthz answers 503 and names it (the aodh-read
    threads and the housekeeper were not looked at before)."""
    monkeypatch.setattr(bridge_module, "HOUSEKEEPING", 0.05)
    api = AodhDouble()
    api.reading = api_alarm
    bridge = bridges(api)
    kill_with_system_exit(bridge, api, worker, monkeypatch)
    # The app first: building its routes calls ast.parse, and CPython 3.11's ast module is not
    # safe against a worker thread formatting a traceback (which parses source lines) at the
    # same moment ("SystemError: AST constructor recursion depth mismatch").
    client = create_app(bridge).test_client()
    bridge.start()
    bridge.accepter.accept(note("k-1", "alarm", "ok"))
    poll(
        f"/healthz failing once {worker} ended",
        lambda: client.get("/healthz").status_code == 503,
        timeout=5,
        interval=0.02,
    )
    problems = client.get("/healthz").get_json()["problems"]
    assert len(problems) == 1
    assert problems[0].startswith(worker)
    assert problems[0].endswith(" stopped")


@ends_in_thread
def test_watch_returns_when_a_worker_is_gone(
    bridges: Callable[[AodhDouble | None], Bridge], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 3, restart: systemd's ``Restart=`` acts only on a process that exits, so the
    CLI's wait (``Bridge.watch``) ends when a worker is gone, not only on a signal."""
    api = AodhDouble()
    bridge = bridges(api)
    kill_with_system_exit(bridge, api, "reconcile", monkeypatch)
    bridge.start()
    assert bridge.watch(threading.Event(), every=0.02) == ["reconcile stopped"]


def test_watch_returns_nothing_on_a_stop_signal(
    bridges: Callable[[AodhDouble | None], Bridge],
) -> None:
    bridge = bridges(None)
    bridge.start()
    stopping = threading.Event()
    threading.Timer(0.1, stopping.set).start()
    assert bridge.watch(stopping, every=0.02) == []
