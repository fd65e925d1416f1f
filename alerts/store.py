"""The bridge's durable state in one SQLite file (WAL): inbox, alarms, alerts, deliveries.

- ``inbox``: accepted webhooks not yet applied; a webhook is acknowledged (202) only after its
  row is committed, and a restart applies whatever is left.
- ``alarms``: one ``lifecycle.Record`` per alarm.
- ``alerts``: what Alertmanager is told, keyed by alarm id (plus retired label sets, which are
  resolved under their old labels when enrichment changes an alarm's labels).
- ``deliveries``: per Alertmanager and alert, the version to deliver and when it is next due.
  This is the outbox: a row stays due until that Alertmanager accepted that version.

Writes go through one connection behind one lock (SQLite allows one writer anyway) in short
transactions. Reads (the senders' queues, the metrics) use one read-only connection and never
wait for that lock: WAL readers see the last commit. Nothing per alarm is held in memory, so
memory does not grow with the number of alarms.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alerts.lifecycle import Event, InsufficientDataPolicy, Record, alarm_of
from alerts.mapping import Mapping
from alerts.payload import Notification, parse
from alerts.plan import AlertRow, Change, Plan
from alerts.records import from_dict, to_json

log = logging.getLogger("aodh-alertmanager-bridge.store")
SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inbox(
    id INTEGER PRIMARY KEY, received REAL NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alarms(
    alarm_id TEXT PRIMARY KEY, state TEXT NOT NULL, firing INTEGER NOT NULL,
    changed REAL NOT NULL, record TEXT NOT NULL) WITHOUT ROWID;
-- What /metrics counts by state: a narrow covering index, not a scan of every record
-- (16 ms instead of 134 ms at 100,000 alarms).
CREATE INDEX IF NOT EXISTS alarms_state ON alarms(state, firing);
-- key: the alarm id, or "<alarm id>#<hash>" for a retired label set (found by key range).
CREATE TABLE IF NOT EXISTS alerts(
    key TEXT PRIMARY KEY, alarm_id TEXT NOT NULL, labels TEXT NOT NULL,
    annotations TEXT NOT NULL, starts REAL NOT NULL, ends REAL, until REAL,
    generator TEXT NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries(
    target TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, due REAL NOT NULL,
    PRIMARY KEY(target, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(target, due);
"""
# Each statement below touches many rows in one step (rows travel as one JSON parameter):
# see alerts/plan.py for why.
_LOAD = """
SELECT
  (SELECT '[' || ifnull(group_concat(record, ','), '') || ']' FROM alarms
     WHERE alarm_id IN (SELECT value FROM json_each(?1))),
  (SELECT json_group_array(json_array(a.key, a.alarm_id, a.labels, a.annotations, a.starts,
                                      a.ends, a.until, a.generator, a.version))
     FROM json_each(?1) i JOIN alerts a ON a.key >= i.value AND a.key <= i.value || '#~'
     WHERE a.alarm_id = i.value)
"""
_SAVE_ALARMS = """
INSERT OR REPLACE INTO alarms(alarm_id, state, firing, changed, record)
  SELECT value->>0, value->>1, value->>2, value->>3, value->>4 FROM json_each(?)
"""
_SAVE_ALERTS = """
INSERT OR REPLACE INTO alerts
  SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6,
         value->>7, value->>8 FROM json_each(?)
"""
_QUEUE = """
INSERT INTO deliveries(target, key, version, due)
  SELECT t.value, q.value->>0, q.value->>1, ? FROM json_each(?) t, json_each(?) q WHERE true
  ON CONFLICT(target, key) DO UPDATE SET version=excluded.version, due=excluded.due
"""
# Every alarm not known to be gone, with the fields of its record that /metrics labels it by;
# read in SQL so that a scrape parses no record in Python.
_SUMMARIES = """
SELECT alarm_id, record->>'name', record->>'severity', state, firing,
       ifnull(record->>'$.labels.resource_type', ''), ifnull(record->>'$.labels.resource_id', ''),
       ifnull(record->>'$.labels.project_id', '')
  FROM alarms WHERE state NOT IN ('deleted', 'disabled') ORDER BY alarm_id
"""
_DROP_INBOX = "DELETE FROM inbox WHERE id IN (SELECT value FROM json_each(?))"
_DUE = """
SELECT json_group_array(json_array(d.key, d.version, a.labels, a.annotations, a.starts,
                                   a.ends, a.until, a.generator))
  FROM (SELECT key, version FROM deliveries WHERE target=? AND due<=? ORDER BY due LIMIT ?) d
  JOIN alerts a ON a.key = d.key
"""
_RESCHEDULE = """
UPDATE deliveries SET due=? WHERE target=?
  AND (key, version) IN (SELECT value->>0, value->>1 FROM json_each(?))
"""
_DELIVERED = """
DELETE FROM deliveries WHERE target=?
  AND (key, version) IN (SELECT value->>0, value->>1 FROM json_each(?))
"""


class StoreError(Exception):
    """The state file cannot be opened or written."""


@dataclass(frozen=True, slots=True)
class Due:
    """One alert to deliver to one Alertmanager."""

    key: str
    version: int
    labels_json: str  # as stored: the sender splices them into its POST without re-encoding
    annotations_json: str
    starts: float
    ends: float | None
    until: float | None
    generator: str

    @property
    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = json.loads(self.labels_json)
        return labels

    @property
    def annotations(self) -> dict[str, str]:
        notes: dict[str, str] = json.loads(self.annotations_json)
        return notes


@dataclass(frozen=True, slots=True)
class AlarmSummary:
    """One alarm as /metrics shows it; ``severity`` is Aodh's (unmapped), labels "" if unknown."""

    alarm_id: str
    name: str
    severity: str
    state: str
    firing: bool
    resource_type: str
    resource_id: str
    project_id: str


class Store:
    def __init__(
        self,
        path: Path,
        targets: Sequence[str],
        mapping: Mapping,
        policy: InsufficientDataPolicy,
        resolved_resend: float,
        *,
        synchronous: str = "FULL",
    ) -> None:
        self._targets = tuple(targets)
        self._mapping = mapping
        self._policy = policy
        self._resolved_resend = resolved_resend
        self._lock = threading.RLock()
        self._synchronous = synchronous
        self._level: str | None = None  # the write connection's synchronous level now
        self._path = path
        self._read_lock = threading.Lock()
        self._reader: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=30
            )
            self._db.row_factory = sqlite3.Row
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"{path}: cannot use WAL journal mode (got {mode})")
            self._set_synchronous(synchronous)
            self._db.executescript(_SCHEMA)
            self._check_version(path)
        except OSError as exc:
            raise StoreError(f"{path}: {exc.strerror or exc}") from None
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: {exc}") from None

    def _check_version(self, path: Path) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif row[0] != str(SCHEMA_VERSION):
            raise StoreError(f"{path}: schema version {row[0]}, this bridge knows {SCHEMA_VERSION}")

    @contextmanager
    def _tx(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction. ``durable=False`` skips the fsync (WAL, synchronous=NORMAL):
        for what can be redone after a power loss (a delivery mark means at most one more
        send; an applied inbox row is applied again; an API answer is read again). The next
        durable commit makes everything before it durable too.

        Whatever fails, the transaction is over when this returns (SQLite keeps it open
        after a COMMIT that fails for a deferred constraint or SQLITE_BUSY, and every later
        BEGIN would fail), and the error raised is the first one, as StoreError."""
        with self._lock:
            try:
                if self._db.in_transaction:  # left over by a ROLLBACK that failed
                    self._rollback()
                self._set_synchronous("NORMAL" if not durable else self._synchronous)
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            except sqlite3.Error as exc:
                raise StoreError(f"{self._path}: {exc}") from None

    def _set_synchronous(self, level: str) -> None:
        """Outside a transaction only (SQLite refuses it inside one); set only on change."""
        if self._level != level:
            self._level = None  # unknown until the PRAGMA returns
            self._db.execute(f"PRAGMA synchronous={level}")
            self._level = level

    def _rollback(self) -> None:
        """End the transaction if SQLite has not already (it rolls back by itself on a full
        disk or an I/O error); a failure here is logged, never raised over the first error."""
        if not self._db.in_transaction:
            return
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            log.error("rollback failed", extra={"err": f"{self._path}: {exc}"})

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """A read on the one read-only connection: WAL readers never wait for the writer.
        One connection, not one per thread: each holds its own page cache, and the request
        threads that serve /metrics would otherwise each grow one (32 x 2 MiB)."""
        with self._read_lock:
            try:
                if self._reader is None:
                    self._reader = sqlite3.connect(
                        str(self._path), check_same_thread=False, timeout=30
                    )
                    self._reader.row_factory = sqlite3.Row
                    self._reader.execute("PRAGMA query_only=1")
                return self._reader.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"{self._path}: {exc}") from None

    def close(self) -> None:
        with self._lock, self._read_lock:
            if self._reader is not None:
                self._reader.close()
            self._db.close()

    # -- the accept path ------------------------------------------------------------------

    def accept(self, items: Sequence[tuple[Notification, float]]) -> list[int]:
        """Commit webhooks to the inbox in one transaction (one fsync for the whole batch):
        for when they must wait for the Aodh API before they can be applied."""
        rows = json.dumps([[t, n.to_json()] for n, t in items])
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO inbox(received, body) SELECT value->>0, value->>1 FROM json_each(?)",
                (rows,),
            )
            last = int(cur.lastrowid or 0)
        # One statement under the write lock: the rows took consecutive ids.
        return list(range(last - len(items) + 1, last + 1))

    def inbox(self) -> list[tuple[int, Notification, float]]:
        rows = self._query("SELECT id, received, body FROM inbox ORDER BY id")
        return [(r["id"], parse(r["body"].encode()), r["received"]) for r in rows]

    # -- applying what was learned ----------------------------------------------------------

    def live_alarms(self) -> set[str]:
        """Alarms not known to be gone: what a reconciliation compares with the API."""
        rows = self._query("SELECT alarm_id FROM alarms WHERE state NOT IN ('deleted', 'disabled')")
        return {r[0] for r in rows}

    def apply(
        self,
        events: Sequence[tuple[Event, Sequence[int]]],
        now: float,
        *,
        durable: bool = False,
        drop: Sequence[int] = (),
    ) -> list[Change]:
        """Apply events in order, drop their inbox rows, queue deliveries; one transaction.
        Durable only when nothing else keeps the events (webhooks applied as they arrive)."""
        ids = list(dict.fromkeys(alarm_of(e) for e, _ in events))
        done = [i for _, inbox_ids in events for i in inbox_ids] + list(drop)
        with self._tx(durable=durable) as db:
            records, alerts = self._load(db, ids)
            plan = Plan(
                records,
                alerts,
                mapping=self._mapping,
                policy=self._policy,
                resolved_resend=self._resolved_resend,
                now=now,
            )
            for event, _ in events:
                plan.apply(event)
            self._write(db, plan, done, now)
        return plan.changes

    def _load(
        self, db: sqlite3.Connection, ids: list[str]
    ) -> tuple[dict[str, Record], dict[str, AlertRow]]:
        if not ids:
            return {}, {}
        found_records, found_alerts = db.execute(_LOAD, (json.dumps(ids),)).fetchone()
        records = {r["alarm_id"]: from_dict(r) for r in json.loads(found_records)}
        alerts = {a[0]: AlertRow(*a) for a in json.loads(found_alerts)}
        return records, alerts

    def _write(self, db: sqlite3.Connection, plan: Plan, done: list[int], now: float) -> None:
        if plan.saved:
            rows = [
                [r.alarm_id, r.state, int(r.firing), r.changed, to_json(r)]
                for r in plan.saved.values()
            ]
            db.execute(_SAVE_ALARMS, (json.dumps(rows),))
        if plan.written:
            db.execute(_SAVE_ALERTS, (json.dumps([a.as_list() for a in plan.written.values()]),))
        if plan.queued:
            queued = json.dumps(list(plan.queued.items()))
            db.execute(_QUEUE, (now, json.dumps(self._targets), queued))
        if done:
            db.execute(_DROP_INBOX, (json.dumps(done),))

    # -- the outbox -----------------------------------------------------------------------

    def sync_targets(self, now: float) -> None:
        """A new Alertmanager gets every live alert; a removed one's queue is dropped."""
        with self._tx() as db:
            marks = ",".join("?" * len(self._targets)) or "''"
            db.execute(f"DELETE FROM deliveries WHERE target NOT IN ({marks})", self._targets)  # noqa: S608 - placeholders only
            for target in self._targets:
                db.execute(
                    "INSERT OR IGNORE INTO deliveries SELECT ?, key, version, ? FROM alerts"
                    " WHERE until IS NULL OR until > ?",
                    (target, now, now),
                )

    def due(self, target: str, now: float, limit: int) -> list[Due]:
        (found,) = self._query(_DUE, (target, now, limit))[0]
        return [Due(*row) for row in json.loads(found)]

    def next_due(self, target: str) -> float | None:
        row = self._query("SELECT min(due) FROM deliveries WHERE target=?", (target,))[0]
        return None if row[0] is None else float(row[0])

    def delivered(
        self,
        target: str,
        sent: Sequence[Due],
        now: float,
        interval: float,
        firing_interval: float | None = None,
    ) -> None:
        """Resolutions come due again every interval until their end; firing alerts after
        ``firing_interval`` (or sooner, when a reconciliation calls ``refresh_firing``)."""
        nxt = now + interval
        firing_nxt = now + (firing_interval or interval)
        firing = [[d.key, d.version] for d in sent if d.ends is None]
        again = [[d.key, d.version] for d in sent if d.ends is not None and nxt <= (d.until or 0)]
        over = [[d.key, d.version] for d in sent if d.ends is not None and nxt > (d.until or 0)]
        with self._tx(durable=False) as db:
            if firing:
                db.execute(_RESCHEDULE, (firing_nxt, target, json.dumps(firing)))
            if again:
                db.execute(_RESCHEDULE, (nxt, target, json.dumps(again)))
            if over:
                db.execute(_DELIVERED, (target, json.dumps(over)))

    def postpone(self, target: str, items: Sequence[Due], until: float) -> None:
        """Keep these deliveries but make them due only at ``until``."""
        keys = json.dumps([[d.key, d.version] for d in items])
        with self._tx(durable=False) as db:
            db.execute(_RESCHEDULE, (until, target, keys))

    def refresh_firing(self, now: float) -> int:
        """Make every firing alert due now: the API has just confirmed (or corrected) them."""
        with self._tx(durable=False) as db:
            cur = db.execute(
                "UPDATE deliveries SET due=? WHERE due>? AND key IN"
                " (SELECT key FROM alerts WHERE ends IS NULL)",
                (now, now),
            )
            return cur.rowcount

    def gc(self, now: float, keep_gone: float = 86400.0) -> int:
        """Forget resolutions past their resend window and alarms gone for a day."""
        with self._tx(durable=False) as db:
            n = db.execute("DELETE FROM alerts WHERE until IS NOT NULL AND until < ?", (now,))
            removed = n.rowcount
            db.execute("DELETE FROM deliveries WHERE key NOT IN (SELECT key FROM alerts)")
            db.execute(
                "DELETE FROM alarms WHERE state IN ('deleted', 'disabled') AND changed < ?"
                " AND alarm_id NOT IN (SELECT alarm_id FROM alerts)",
                (now - keep_gone,),
            )
        return removed

    # -- what /metrics shows ----------------------------------------------------------------

    def queue_stats(self, now: float) -> dict[str, tuple[int, float]]:
        """Per Alertmanager: alerts due now and the age of the oldest of them."""
        out = {}
        for target in self._targets:
            row = self._query(
                "SELECT count(*), min(due) FROM deliveries WHERE target=? AND due<=?",
                (target, now),
            )[0]
            out[target] = (int(row[0]), now - row[1] if row[1] is not None else 0.0)
        return out

    def alarm_counts(self) -> dict[tuple[str, bool], int]:
        rows = self._query("SELECT state, firing, count(*) FROM alarms GROUP BY state, firing")
        return {(r[0], bool(r[1])): int(r[2]) for r in rows}

    def alarm_summaries(self) -> list[AlarmSummary]:
        """Every alarm not deleted or disabled, in alarm id order: one SELECT."""
        return [
            AlarmSummary(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7])
            for r in self._query(_SUMMARIES)
        ]

    def inbox_depth(self) -> int:
        return int(self._query("SELECT count(*) FROM inbox")[0][0])

    def raw(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Read-only access for tests and the benchmark."""
        return self._query(sql, args)
