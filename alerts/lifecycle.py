"""What an alarm's state becomes after each thing the bridge learns about it.

Three sources, in decreasing authority: the Aodh API (its ``state_timestamp`` orders every
transition, whatever order webhooks arrive in), a webhook (ordered only by arrival), and the
absence of the alarm from a complete API listing (deleted or no longer pointed at us).
Pure functions: no clock, no I/O, so every ordering can be tested.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from alerts.payload import Notification

InsufficientDataPolicy = Literal["keep", "resolve", "fire"]
INSUFFICIENT_DATA_POLICIES: tuple[InsufficientDataPolicy, ...] = ("keep", "resolve", "fire")


@dataclass(frozen=True, slots=True)
class ApiAlarm:
    """One alarm as the Aodh API shows it; ``labels`` are the stable facts for Alertmanager."""

    alarm_id: str
    name: str
    severity: str
    state: str
    state_ts: float
    state_reason: str
    enabled: bool
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Record:
    """The bridge's belief about one alarm (a row of the ``alarms`` table)."""

    alarm_id: str
    name: str
    severity: str
    state: str  # an Aodh state, or "deleted" / "disabled"
    firing: bool
    changed: float  # bridge clock: when this belief was formed
    since: float  # startsAt of the current firing episode
    state_ts: float | None = None  # Aodh's state_timestamp, once the API confirmed the state
    reason: str = ""
    value: str = ""
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Webhook:
    notification: Notification
    received: float


@dataclass(frozen=True, slots=True)
class Observed:
    alarm: ApiAlarm
    seen: float  # bridge clock when the API request started
    value: str = ""  # the webhook's most recent value, when the read followed a webhook
    previous: str = ""  # and that webhook's previous state


@dataclass(frozen=True, slots=True)
class Gone:
    alarm_id: str
    seen: float


Event = Webhook | Observed | Gone


def alarm_of(event: Event) -> str:
    if isinstance(event, Webhook):
        return event.notification.alarm_id
    if isinstance(event, Observed):
        return event.alarm.alarm_id
    return event.alarm_id


def left_alarm(event: Event) -> bool:
    """The event reports a transition out of ``alarm``: whoever saw it fire (another bridge
    replica behind the same URL, or this one before its state was lost) must see it end."""
    if isinstance(event, Webhook):
        return event.notification.previous == "alarm"
    return isinstance(event, Observed) and event.previous == "alarm"


def fires(state: str, policy: InsufficientDataPolicy, was_firing: bool) -> bool:
    if state == "alarm":
        return True
    if state == "insufficient data":
        return {"keep": was_firing, "fire": True, "resolve": False}[policy]
    return False


def value_of(reason_data: dict[str, object]) -> str:
    most_recent = reason_data.get("most_recent")
    if isinstance(most_recent, bool) or not isinstance(most_recent, int | float):
        return ""
    try:
        return f"{float(most_recent):g}"
    except OverflowError:  # an integer with hundreds of digits
        return ""


def _newer_than(record: Record, seen: float) -> bool:
    """A webhook applied after an API request started may be newer than the API's answer."""
    return record.state_ts is None and record.changed > seen


def _on_webhook(record: Record | None, ev: Webhook, policy: InsufficientDataPolicy) -> Record:
    n = ev.notification
    value = value_of(n.reason_data)
    if record is None:
        firing = fires(n.current, policy, False)
        return Record(
            alarm_id=n.alarm_id,
            name=n.alarm_name,
            severity=n.severity,
            state=n.current,
            firing=firing,
            changed=ev.received,
            since=ev.received,
            reason=n.reason,
            value=value,
        )
    if n.current == record.state:
        # A duplicate, or Aodh's repeat_actions: the state stands, the details refresh.
        return replace(record, reason=n.reason, value=value or record.value)
    firing = fires(n.current, policy, record.firing)
    return replace(
        record,
        name=n.alarm_name,
        severity=n.severity,
        state=n.current,
        firing=firing,
        changed=ev.received,
        since=ev.received if firing and not record.firing else record.since,
        state_ts=None,
        reason=n.reason,
        value=value,
    )


def _on_observed(
    record: Record | None, ev: Observed, policy: InsufficientDataPolicy
) -> Record | None:
    a = ev.alarm
    if record is not None:
        if record.state_ts is not None and a.state_ts < record.state_ts:
            return None  # an older answer than one already applied
        if _newer_than(record, ev.seen):
            return None
    if not a.enabled:
        if record is None:
            return None
        return _ended(record, "disabled", ev.seen)
    was_firing = record.firing if record is not None else False
    firing = fires(a.state, policy, was_firing)
    same_state = record is not None and record.state == a.state
    if firing and record is not None and record.firing:
        # Still firing: Aodh's timestamp of entering ``alarm`` is the episode's start, the
        # same on every bridge replica whichever webhook each one saw.
        since = a.state_ts if a.state == record.state == "alarm" else record.since
    elif firing or record is None:
        since = a.state_ts
    else:
        since = record.since
    return Record(
        alarm_id=a.alarm_id,
        name=a.name,
        severity=a.severity,
        state=a.state,
        firing=firing,
        changed=record.changed if same_state and record is not None else ev.seen,
        since=since,
        state_ts=a.state_ts,
        reason=a.state_reason or (record.reason if record else ""),
        value=ev.value or (record.value if record is not None and same_state else ""),
        description=a.description,
        labels=dict(a.labels),
    )


def _ended(record: Record, state: str, when: float) -> Record:
    return replace(record, state=state, firing=False, changed=when, state_ts=None)


def apply(record: Record | None, event: Event, policy: InsufficientDataPolicy) -> Record | None:
    """The new record, or None when the event changes nothing (stale or unknown)."""
    if isinstance(event, Webhook):
        return _on_webhook(record, event, policy)
    if isinstance(event, Observed):
        return _on_observed(record, event, policy)
    if record is None or record.state in ("deleted", "disabled") or _newer_than(record, event.seen):
        return None
    return _ended(record, "deleted", event.seen)
