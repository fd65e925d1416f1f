"""Aodh's REST notifier body, validated before anything is stored.

Aodh sends ``alarm_name, alarm_id, severity, previous, current, reason, reason_data`` as JSON
and never retries a refusal, so every refusal names its reason precisely.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

STATES = ("ok", "alarm", "insufficient data")
SEVERITIES = ("low", "moderate", "critical")
MAX_BODY = 1024 * 1024
# Label values end up in Alertmanager's index and in every notification: keep them sane.
MAX_NAME = 255
MAX_REASON = 64 * 1024


class PayloadError(Exception):
    """A refused webhook: HTTP status, a stable error code for metrics, a readable message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Notification:
    alarm_id: str
    alarm_name: str
    severity: str
    previous: str
    current: str
    reason: str
    reason_data: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(
            {
                "alarm_id": self.alarm_id,
                "alarm_name": self.alarm_name,
                "severity": self.severity,
                "previous": self.previous,
                "current": self.current,
                "reason": self.reason,
                "reason_data": self.reason_data,
            },
            separators=(",", ":"),
        )


def check_content_type(value: str | None) -> None:
    media = (value or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise PayloadError(415, "unsupported_media_type", "Content-Type must be application/json")


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _text(data: dict[str, Any], key: str, limit: int, *, empty: bool = False) -> str:
    if key not in data:
        raise PayloadError(422, "missing_field", f"field {key!r} is required")
    value = data[key]
    if not isinstance(value, str):
        raise PayloadError(422, "invalid_field", f"field {key!r} must be a string")
    if not empty and not value.strip():
        raise PayloadError(422, "invalid_field", f"field {key!r} must not be empty")
    if len(value) > limit:
        raise PayloadError(422, "invalid_field", f"field {key!r} is longer than {limit}")
    return value


def _choice(data: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = _text(data, key, MAX_NAME)
    if value not in allowed:
        raise PayloadError(
            422, "invalid_field", f"field {key!r} must be one of {', '.join(allowed)}"
        )
    return value


def parse(body: bytes) -> Notification:
    """Raise PayloadError(400) for what is not JSON, (422) for JSON of the wrong shape."""
    try:
        text = body.decode("utf-8")
        data = json.loads(text, parse_constant=_no_constants)
        # Lone surrogates (\ud800) parse but cannot be encoded to UTF-8 again: Alertmanager
        # would refuse the alert forever, so refuse the webhook now.
        # 1e999 parses as infinity, which is not JSON either: refuse it before it is stored.
        json.dumps(data, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        raise PayloadError(400, "bad_json", "body is not valid UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise PayloadError(422, "invalid_body", "body must be a JSON object")
    reason_data = data.get("reason_data")
    if reason_data is None:
        reason_data = {}
    if not isinstance(reason_data, dict):
        raise PayloadError(422, "invalid_field", "field 'reason_data' must be an object")
    return Notification(
        alarm_id=_text(data, "alarm_id", MAX_NAME),
        alarm_name=_text(data, "alarm_name", MAX_NAME),
        severity=_choice(data, "severity", SEVERITIES),
        previous=_choice(data, "previous", STATES),
        current=_choice(data, "current", STATES),
        reason=_text(data, "reason", MAX_REASON, empty=True),
        reason_data=reason_data,
    )
