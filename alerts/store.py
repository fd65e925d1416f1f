"""The bridge's durable state in one SQLite file (WAL): inbox, alarms, alerts, deliveries.

- ``inbox``: accepted webhooks not yet applied; a webhook is acknowledged (202) only after its
  row is committed, and a restart applies whatever is left.
- ``alarms``: one ``lifecycle.Record`` per alarm.
- ``alerts``: what Alertmanager is told, keyed by alarm id (plus retired label sets, which are
  resolved under their old labels when enrichment changes an alarm's labels).
- ``deliveries``: per Alertmanager and alert, the version to deliver and when it is next due.
  This is the outbox: a row stays due until that Alertmanager accepted that version.

Writes go through one connection behind one lock (SQLite allows one writer anyway) in short
transactions. Reads (the senders' queues, the metrics) use a connection per thread and never
wait for that lock: WAL readers see the last commit. Nothing per alarm is held in memory, so
memory does not grow with the number of alarms.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alerts.lifecycle import Event, InsufficientDataPolicy, Record, alarm_of, apply, left_alarm
from alerts.mapping import Mapping
from alerts.payload import Notification

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inbox(
    id INTEGER PRIMARY KEY, received REAL NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alarms(
    alarm_id TEXT PRIMARY KEY, name TEXT NOT NULL, severity TEXT NOT NULL,
    state TEXT NOT NULL, firing INTEGER NOT NULL, changed REAL NOT NULL, since REAL NOT NULL,
    state_ts REAL, reason TEXT NOT NULL, value TEXT NOT NULL, description TEXT NOT NULL,
    labels TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts(
    key TEXT PRIMARY KEY, alarm_id TEXT NOT NULL, labels TEXT NOT NULL,
    annotations TEXT NOT NULL, starts REAL NOT NULL, ends REAL, until REAL,
    generator TEXT NOT NULL, version INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_until ON alerts(until);
CREATE TABLE IF NOT EXISTS deliveries(
    target TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, due REAL NOT NULL,
    PRIMARY KEY(target, key));
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(target, due);
"""


class StoreError(Exception):
    """The state file cannot be opened or written."""


@dataclass(frozen=True, slots=True)
class Due:
    """One alert to deliver to one Alertmanager."""

    key: str
    version: int
    labels: dict[str, str]
    annotations: dict[str, str]
    starts: float
    ends: float | None
    until: float | None
    generator: str


@dataclass(frozen=True, slots=True)
class Change:
    """A record that changed: what the engine reports and counts."""

    before: Record | None
    after: Record


def _dumps(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _record(row: sqlite3.Row) -> Record:
    return Record(
        alarm_id=row["alarm_id"],
        name=row["name"],
        severity=row["severity"],
        state=row["state"],
        firing=bool(row["firing"]),
        changed=row["changed"],
        since=row["since"],
        state_ts=row["state_ts"],
        reason=row["reason"],
        value=row["value"],
        description=row["description"],
        labels=json.loads(row["labels"]),
    )


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
        self._path = path
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=30
            )
            self._db.row_factory = sqlite3.Row
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"{path}: cannot use WAL journal mode (got {mode})")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
            self._check_version(path)
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
        durable commit makes everything before it durable too."""
        with self._lock:
            relaxed = not durable and self._synchronous == "FULL"
            try:
                if relaxed:
                    self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"{self._path}: {exc}") from None
            finally:
                if relaxed:
                    self._db.execute("PRAGMA synchronous=FULL")

    def _read(self) -> sqlite3.Connection:
        """This thread's read-only connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(str(self._path), check_same_thread=False, timeout=30)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA query_only=1")
            except sqlite3.Error as exc:
                raise StoreError(f"{self._path}: {exc}") from None
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._read().execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"{self._path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            for conn in self._readers:
                conn.close()
            self._db.close()

    # -- the accept path ------------------------------------------------------------------

    def accept(self, items: Sequence[tuple[Notification, float]]) -> list[int]:
        """Commit webhooks to the inbox in one transaction (one fsync for the whole batch):
        for when they must wait for the Aodh API before they can be applied."""
        with self._tx() as db:
            return [
                int(
                    db.execute(
                        "INSERT INTO inbox(received, body) VALUES (?, ?)", (t, n.to_json())
                    ).lastrowid
                    or 0
                )
                for n, t in items
            ]

    def inbox(self) -> list[tuple[int, Notification, float]]:
        from alerts.payload import parse  # noqa: PLC0415 - only at start, avoids a cycle

        rows = self._query("SELECT id, received, body FROM inbox ORDER BY id")
        return [(r["id"], parse(r["body"].encode()), r["received"]) for r in rows]

    # -- applying what was learned ----------------------------------------------------------

    def record(self, alarm_id: str) -> Record | None:
        rows = self._query("SELECT * FROM alarms WHERE alarm_id=?", (alarm_id,))
        return _record(rows[0]) if rows else None

    def live_alarms(self) -> dict[str, Record]:
        """Alarms not known to be gone: what a reconciliation compares with the API."""
        rows = self._query("SELECT * FROM alarms WHERE state NOT IN ('deleted', 'disabled')")
        return {r["alarm_id"]: _record(r) for r in rows}

    def apply(
        self,
        events: Iterable[tuple[Event, Sequence[int]]],
        now: float,
        *,
        durable: bool = False,
        drop: Sequence[int] = (),
    ) -> list[Change]:
        """Apply events in order, drop their inbox rows, queue deliveries; one transaction.
        Durable only when nothing else keeps the events (webhooks applied as they arrive)."""
        changes: list[Change] = []
        with self._tx(durable=durable) as db:
            for event, inbox_ids in events:
                alarm_id = alarm_of(event)
                row = db.execute("SELECT * FROM alarms WHERE alarm_id=?", (alarm_id,)).fetchone()
                before = _record(row) if row else None
                after = apply(before, event, self._policy)
                if after is not None and after != before:
                    self._save(db, after)
                    self._alert(db, after, now, left_alarm(event))
                    changes.append(Change(before, after))
                db.executemany("DELETE FROM inbox WHERE id=?", [(i,) for i in inbox_ids])
            db.executemany("DELETE FROM inbox WHERE id=?", [(i,) for i in drop])
        return changes

    def _save(self, db: sqlite3.Connection, r: Record) -> None:
        db.execute(
            "INSERT OR REPLACE INTO alarms VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                r.alarm_id,
                r.name,
                r.severity,
                r.state,
                int(r.firing),
                r.changed,
                r.since,
                r.state_ts,
                r.reason,
                r.value,
                r.description,
                _dumps(r.labels),
            ),
        )

    def _alert(self, db: sqlite3.Connection, r: Record, now: float, left_alarm: bool) -> None:
        labels = _dumps(self._mapping.labels(r))
        notes = _dumps(self._mapping.annotations(r))
        row = db.execute(
            "SELECT labels, starts, ends, version FROM alerts WHERE key=?", (r.alarm_id,)
        ).fetchone()
        if r.firing:
            if row is None:
                db.execute(
                    "INSERT INTO alerts VALUES (?,?,?,?,?,NULL,NULL,?,1)",
                    (r.alarm_id, r.alarm_id, labels, notes, r.since, self._mapping.generator(r)),
                )
                self._queue(db, r.alarm_id, 1, now)
                return
            relabelled = row["labels"] != labels
            if relabelled:
                ended = row["ends"] if row["ends"] is not None else now
                self._retire(db, r.alarm_id, row["labels"], row["starts"], ended)
            bump = relabelled or row["ends"] is not None
            version = row["version"] + int(bump)
            db.execute(
                "UPDATE alerts SET labels=?, annotations=?, starts=?, ends=NULL, until=NULL,"
                " generator=?, version=? WHERE key=?",
                (labels, notes, r.since, self._mapping.generator(r), version, r.alarm_id),
            )
            if bump:
                self._queue(db, r.alarm_id, version, now)
            return
        if row is None:
            if left_alarm:
                # Fired elsewhere (another replica): resolve it under the same labels.
                db.execute(
                    "INSERT INTO alerts VALUES (?,?,?,?,?,?,?,?,1)",
                    (
                        r.alarm_id,
                        r.alarm_id,
                        labels,
                        notes,
                        now,
                        now,
                        now + self._resolved_resend,
                        self._mapping.generator(r),
                    ),
                )
                self._queue(db, r.alarm_id, 1, now)
            return  # otherwise it never fired: Alertmanager has nothing to resolve
        if row["ends"] is None:
            # Resolve under the labels it fired with, or Alertmanager sees another alert.
            ends = max(now, row["starts"])
            version = row["version"] + 1
            db.execute(
                "UPDATE alerts SET annotations=?, ends=?, until=?, version=? WHERE key=?",
                (notes, ends, ends + self._resolved_resend, version, r.alarm_id),
            )
            self._queue(db, r.alarm_id, version, now)
        else:
            db.execute("UPDATE alerts SET annotations=? WHERE key=?", (notes, r.alarm_id))

    def _retire(
        self, db: sqlite3.Connection, alarm_id: str, labels: str, starts: float, ended: float
    ) -> None:
        """Resolve a label set the alarm no longer has (enrichment arrived, alarm renamed)."""
        key = f"{alarm_id}#{hashlib.sha256(labels.encode()).hexdigest()[:16]}"
        old = db.execute("SELECT version FROM alerts WHERE key=?", (key,)).fetchone()
        version = old["version"] + 1 if old else 1
        ends = max(ended, starts)
        now = ended
        db.execute(
            "INSERT OR REPLACE INTO alerts VALUES (?,?,?,?,?,?,?,?,?)",
            (key, alarm_id, labels, "{}", starts, ends, ends + self._resolved_resend, "", version),
        )
        self._queue(db, key, version, now)

    def _queue(self, db: sqlite3.Connection, key: str, version: int, now: float) -> None:
        db.executemany(
            "INSERT INTO deliveries VALUES (?,?,?,?) ON CONFLICT(target, key)"
            " DO UPDATE SET version=excluded.version, due=excluded.due",
            [(t, key, version, now) for t in self._targets],
        )

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
        rows = self._query(
            "SELECT d.key, d.version, a.labels, a.annotations, a.starts, a.ends, a.until,"
            " a.generator FROM deliveries d JOIN alerts a ON a.key = d.key"
            " WHERE d.target=? AND d.due<=? ORDER BY d.due LIMIT ?",
            (target, now, limit),
        )
        return [
            Due(
                key=r["key"],
                version=r["version"],
                labels=json.loads(r["labels"]),
                annotations=json.loads(r["annotations"]),
                starts=r["starts"],
                ends=r["ends"],
                until=r["until"],
                generator=r["generator"],
            )
            for r in rows
        ]

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
        again = [
            (firing_nxt if d.ends is None else nxt, target, d.key, d.version)
            for d in sent
            if d.until is None or nxt <= d.until
        ]
        done = [(target, d.key, d.version) for d in sent if d.until is not None and nxt > d.until]
        with self._tx(durable=False) as db:
            db.executemany(
                "UPDATE deliveries SET due=? WHERE target=? AND key=? AND version=?", again
            )
            db.executemany("DELETE FROM deliveries WHERE target=? AND key=? AND version=?", done)

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

    def inbox_depth(self) -> int:
        return int(self._query("SELECT count(*) FROM inbox")[0][0])

    def raw(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Read-only access for tests and the benchmark."""
        return self._query(sql, args)
