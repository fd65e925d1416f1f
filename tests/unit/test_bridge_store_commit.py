"""A COMMIT that fails must not leave the write connection inside its transaction.

In WAL mode SQLite rolls back by itself when a COMMIT fails for a full disk or an I/O error,
but not when it fails for a deferred constraint or SQLITE_BUSY: then the transaction stays
open. The test makes COMMIT fail the first way: a trigger (added to the state file from
outside) inserts a row that breaks a deferred foreign key, for one alarm only, and foreign
keys are enforced on the store's write connection (the one thing set from inside).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from alerts.lifecycle import Webhook
from alerts.mapping import DEFAULT_SEVERITIES, Mapping
from alerts.payload import Notification, parse
from alerts.store import Store, StoreError
from tests.support.bridge import aodh_payload

AM = "http://am:9093"
POISON = """
CREATE TABLE poison_parent(id INTEGER PRIMARY KEY);
CREATE TABLE poison(parent INTEGER REFERENCES poison_parent(id) DEFERRABLE INITIALLY DEFERRED);
CREATE TRIGGER poison_inbox AFTER INSERT ON inbox WHEN NEW.body LIKE '%"poison-inbox"%'
  BEGIN INSERT INTO poison VALUES (1); END;
CREATE TRIGGER poison_alarms AFTER INSERT ON alarms WHEN NEW.alarm_id = 'poison-alarm'
  BEGIN INSERT INTO poison VALUES (1); END;
CREATE TRIGGER poison_deliveries AFTER UPDATE ON deliveries WHEN NEW.key = 'poison-delivery'
  BEGIN INSERT INTO poison VALUES (1); END;
"""


def note(alarm_id: str) -> Notification:
    return parse(json.dumps(aodh_payload(alarm_id, "alarm", "ok")).encode())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    path = tmp_path / "state.db"
    mapping = Mapping(DEFAULT_SEVERITIES, {}, "")
    opened = Store(path, (AM,), mapping, "keep", 900.0)
    outside = sqlite3.connect(path)
    outside.executescript(POISON)
    outside.close()
    opened._db.execute("PRAGMA foreign_keys=ON")  # see the module docstring
    return opened


def test_a_failed_commit_is_rolled_back_and_the_next_write_works(store: Store) -> None:
    """Item 4, durable write (the webhook path)."""
    with pytest.raises(StoreError, match="FOREIGN KEY constraint failed"):
        store.accept([(note("poison-inbox"), 1.0)])
    # Before the fix: "cannot start a transaction within a transaction", forever.
    (inbox_id,) = store.accept([(note("next"), 2.0)])
    assert [(i, n.alarm_id) for i, n, _ in store.inbox()] == [(inbox_id, "next")]


def test_a_failed_relaxed_commit_raises_store_error_and_the_next_write_works(
    store: Store,
) -> None:
    """Item 4, a write without fsync (``durable=False``, a sender's delivery mark): the
    PRAGMA that restored ``synchronous`` ran inside the open transaction, failed, and
    replaced the StoreError with a bare sqlite3 error that the sender does not catch."""
    for alarm_id in ("poison-delivery", "other"):
        store.apply([(Webhook(note(alarm_id), 1.0), ())], 1.0, durable=True)
    due = store.due(AM, 1.0, 10)
    assert {d.key for d in due} == {"poison-delivery", "other"}
    with pytest.raises(StoreError, match="FOREIGN KEY constraint failed"):
        store.delivered(AM, due, 1.0, 60.0)
    assert {d.key for d in store.due(AM, 1.0, 10)} == {"poison-delivery", "other"}  # rolled back
    store.delivered(AM, [d for d in due if d.key == "other"], 1.0, 60.0)
    assert [d.key for d in store.due(AM, 1.0, 10)] == ["poison-delivery"]


def test_a_failed_commit_inside_apply_keeps_its_own_error(store: Store) -> None:
    """Item 4: the error raised is the COMMIT's, and the store takes the next event."""
    with pytest.raises(StoreError, match="FOREIGN KEY constraint failed"):
        store.apply([(Webhook(note("poison-alarm"), 1.0), ())], 1.0)
    store.apply([(Webhook(note("fine"), 2.0), ())], 2.0)
    assert store.alarm_counts() == {("alarm", True): 1}
