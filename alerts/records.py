"""How a ``lifecycle.Record`` is kept in SQLite: one JSON document per alarm."""

from __future__ import annotations

import json
from typing import Any

from alerts.lifecycle import Record


def dumps(data: object) -> str:
    """Compact JSON with sorted keys: equal label sets compare equal as text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def to_json(record: Record) -> str:
    # Spelled out: dataclasses.asdict deep-copies, and cost more than the rest of a write.
    return dumps(
        {
            "alarm_id": record.alarm_id,
            "name": record.name,
            "severity": record.severity,
            "state": record.state,
            "firing": record.firing,
            "changed": record.changed,
            "since": record.since,
            "state_ts": record.state_ts,
            "reason": record.reason,
            "value": record.value,
            "description": record.description,
            "labels": record.labels,
        }
    )


def from_dict(data: dict[str, Any]) -> Record:
    return Record(**data)
