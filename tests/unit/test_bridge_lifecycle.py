"""The alarm state machine: every ordering of webhooks and API answers ends in Aodh's state."""

from __future__ import annotations

import itertools
import json

import pytest

from alerts.lifecycle import (
    ApiAlarm,
    Event,
    Gone,
    InsufficientDataPolicy,
    Observed,
    Record,
    Webhook,
    apply,
    fires,
)
from alerts.payload import parse
from tests.support.bridge import aodh_payload


def hook(current: str, previous: str, at: float, alarm_id: str = "a") -> Webhook:
    body = aodh_payload(alarm_id, current, previous, name="cpu high")
    return Webhook(parse(json.dumps(body).encode()), at)


def api(state: str, ts: float, *, enabled: bool = True, name: str = "cpu high") -> ApiAlarm:
    return ApiAlarm(
        alarm_id="a",
        name=name,
        severity="moderate",
        state=state,
        state_ts=ts,
        state_reason=f"now {state}",
        enabled=enabled,
        description="cpu above 80 %",
        labels={"project_id": "p1", "alarm_type": "gnocchi_resources_threshold"},
    )


def run(events: list[Event], policy: InsufficientDataPolicy = "keep") -> Record | None:
    record: Record | None = None
    for event in events:
        record = apply(record, event, policy) or record
    return record


@pytest.mark.parametrize(
    ("state", "policy", "was", "expected"),
    [
        ("alarm", "keep", False, True),
        ("ok", "fire", True, False),
        ("insufficient data", "keep", True, True),
        ("insufficient data", "keep", False, False),
        ("insufficient data", "resolve", True, False),
        ("insufficient data", "fire", False, True),
    ],
)
def test_policy(state: str, policy: InsufficientDataPolicy, was: bool, expected: bool) -> None:
    assert fires(state, policy, was) is expected


def test_webhook_fires_then_resolves() -> None:
    fired = run([hook("alarm", "ok", 10.0)])
    assert fired is not None
    assert (fired.state, fired.firing, fired.since, fired.value) == ("alarm", True, 10.0, "95")
    resolved = run([hook("alarm", "ok", 10.0), hook("ok", "alarm", 20.0)])
    assert resolved is not None
    assert (resolved.state, resolved.firing, resolved.changed) == ("ok", False, 20.0)


def test_duplicates_change_nothing_but_details() -> None:
    once = run([hook("alarm", "ok", 10.0)])
    thrice = run([hook("alarm", "ok", 10.0), hook("alarm", "ok", 11.0), hook("alarm", "ok", 12.0)])
    assert once is not None
    assert thrice is not None
    assert (thrice.state, thrice.since, thrice.changed) == (once.state, once.since, once.changed)


def test_firing_episode_keeps_its_start_through_insufficient_data() -> None:
    record = run([hook("alarm", "ok", 10.0), hook("insufficient data", "alarm", 20.0)])
    assert record is not None
    assert (record.firing, record.since) == (True, 10.0)
    resolved = run([hook("alarm", "ok", 10.0), hook("insufficient data", "alarm", 20.0)], "resolve")
    assert resolved is not None
    assert not resolved.firing


def test_api_timestamps_order_transitions_whatever_the_arrival_order() -> None:
    """Aodh went ok -> alarm (t=100) -> ok (t=200): every permutation of the API answers
    ends resolved, with the state of t=200."""
    answers = [Observed(api("alarm", 100.0), seen=150.0), Observed(api("ok", 200.0), seen=250.0)]
    for order in itertools.permutations(answers):
        record = run(list(order))
        assert record is not None
        assert (record.state, record.firing, record.state_ts) == ("ok", False, 200.0)


def test_stale_api_answer_is_ignored() -> None:
    record = run([Observed(api("ok", 200.0), seen=250.0)])
    assert apply(record, Observed(api("alarm", 100.0), seen=300.0), "keep") is None


def test_late_webhook_then_api_read_ends_in_aodh_state() -> None:
    """The stale ``alarm`` webhook arrives after the ``ok`` one; the read that follows it says
    ok (Aodh stores a state before it notifies), so the alarm ends resolved."""
    events: list[Event] = [
        hook("ok", "alarm", 30.0),
        hook("alarm", "ok", 31.0),  # stale, applied as sent when no API is configured
        Observed(api("ok", 29.0), seen=32.0),
    ]
    record = run(events)
    assert record is not None
    assert (record.state, record.firing) == ("ok", False)


def test_listing_older_than_a_webhook_does_not_undo_it() -> None:
    record = run([hook("alarm", "ok", 50.0)])
    assert apply(record, Observed(api("ok", 10.0), seen=40.0), "keep") is None
    assert apply(record, Gone("a", seen=40.0), "keep") is None


def test_api_sets_the_start_so_replicas_agree() -> None:
    record = run([hook("alarm", "ok", 105.0), Observed(api("alarm", 100.0), seen=110.0)])
    assert record is not None
    assert (record.since, record.state_ts, record.reason) == (100.0, 100.0, "now alarm")
    assert record.labels["project_id"] == "p1"
    assert record.value == "95"  # the webhook's value survives the API's answer


def test_disabled_and_deleted_alarms_end() -> None:
    firing = run([Observed(api("alarm", 100.0), seen=110.0)])
    assert firing is not None
    assert firing.firing
    disabled = apply(firing, Observed(api("alarm", 100.0, enabled=False), seen=120.0), "keep")
    assert disabled is not None
    assert (disabled.state, disabled.firing) == ("disabled", False)
    deleted = apply(firing, Gone("a", seen=120.0), "keep")
    assert deleted is not None
    assert (deleted.state, deleted.firing) == ("deleted", False)
    assert apply(deleted, Gone("a", seen=130.0), "keep") is None
    assert apply(None, Gone("a", seen=130.0), "keep") is None


def test_unknown_disabled_alarm_is_not_recorded() -> None:
    assert apply(None, Observed(api("alarm", 1.0, enabled=False), seen=2.0), "keep") is None
