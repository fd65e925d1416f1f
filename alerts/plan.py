"""What a batch of events does to the alarms and alerts it touches, computed in memory.

The store reads every row the batch needs in one statement, applies the events here, and
writes the result in a few statements. That matters more than it seems: SQLite releases the
GIL for every row it steps, and with a dozen request threads each release is a context
switch; row-at-a-time statements cost the webhook path most of its CPU.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from alerts.lifecycle import Event, InsufficientDataPolicy, Record, alarm_of, apply, left_alarm
from alerts.mapping import Mapping
from alerts.records import dumps


@dataclass(frozen=True, slots=True)
class AlertRow:
    """A row of ``alerts``: what Alertmanager is told about one label set."""

    key: str
    alarm_id: str
    labels: str  # JSON, sorted keys: compared as text
    annotations: str
    starts: float
    ends: float | None
    until: float | None
    generator: str
    version: int

    def as_list(self) -> list[object]:
        return [
            self.key,
            self.alarm_id,
            self.labels,
            self.annotations,
            self.starts,
            self.ends,
            self.until,
            self.generator,
            self.version,
        ]


@dataclass(frozen=True, slots=True)
class Change:
    """A record that changed: what the engine reports and counts."""

    before: Record | None
    after: Record


class Plan:
    def __init__(
        self,
        records: dict[str, Record],
        alerts: dict[str, AlertRow],
        *,
        mapping: Mapping,
        policy: InsufficientDataPolicy,
        resolved_resend: float,
        now: float,
    ) -> None:
        self.records = records
        self.alerts = alerts
        self._mapping = mapping
        self._policy = policy
        self._resolved_resend = resolved_resend
        self._now = now
        self.saved: dict[str, Record] = {}
        self.written: dict[str, AlertRow] = {}
        self.queued: dict[str, int] = {}  # alert key -> version to deliver now
        self.changes: list[Change] = []

    def apply(self, event: Event) -> None:
        alarm_id = alarm_of(event)
        before = self.records.get(alarm_id)
        after = apply(before, event, self._policy)
        if after is None or after == before:
            return
        self.records[alarm_id] = self.saved[alarm_id] = after
        self._alert(after, left_alarm(event))
        self.changes.append(Change(before, after))

    def _put(self, row: AlertRow, *, queue: bool) -> None:
        self.alerts[row.key] = self.written[row.key] = row
        if queue:
            self.queued[row.key] = row.version

    def _alert(self, r: Record, left_alarm: bool) -> None:
        now = self._now
        labels = dumps(self._mapping.labels(r))
        notes = dumps(self._mapping.annotations(r))
        generator = self._mapping.generator(r)
        row = self.alerts.get(r.alarm_id)
        if r.firing:
            if row is None:
                new = AlertRow(
                    r.alarm_id, r.alarm_id, labels, notes, r.since, None, None, generator, 1
                )
                self._put(new, queue=True)
                return
            relabelled = row.labels != labels
            if relabelled:
                self._retire(row, row.ends if row.ends is not None else now)
            bump = relabelled or row.ends is not None
            fired = replace(
                row,
                labels=labels,
                annotations=notes,
                starts=r.since,
                ends=None,
                until=None,
                generator=generator,
                version=row.version + int(bump),
            )
            self._put(fired, queue=bump)
            return
        if row is None:
            if left_alarm:
                # Fired elsewhere (another replica): resolve it under the same labels.
                until = now + self._resolved_resend
                self._put(
                    AlertRow(r.alarm_id, r.alarm_id, labels, notes, now, now, until, generator, 1),
                    queue=True,
                )
            return  # otherwise it never fired: Alertmanager has nothing to resolve
        if row.ends is None:
            # Resolve under the labels it fired with, or Alertmanager sees another alert.
            ends = max(now, row.starts)
            resolved = replace(
                row,
                annotations=notes,
                ends=ends,
                until=ends + self._resolved_resend,
                version=row.version + 1,
            )
            self._put(resolved, queue=True)
        else:
            self._put(replace(row, annotations=notes), queue=False)

    def _retire(self, row: AlertRow, ended: float) -> None:
        """Resolve a label set the alarm no longer has (enrichment arrived, alarm renamed)."""
        key = f"{row.alarm_id}#{hashlib.sha256(row.labels.encode()).hexdigest()[:16]}"
        old = self.alerts.get(key)
        ends = max(ended, row.starts)
        retired = AlertRow(
            key,
            row.alarm_id,
            row.labels,
            "{}",
            row.starts,
            ends,
            ends + self._resolved_resend,
            "",
            old.version + 1 if old else 1,
        )
        self._put(retired, queue=True)
