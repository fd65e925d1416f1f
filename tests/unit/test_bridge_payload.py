"""The webhook body: what Aodh sends is accepted, everything else refused with its reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alerts.payload import MAX_NAME, PayloadError, check_content_type, parse
from tests.support.bridge import aodh_payload


def _refusal(body: bytes) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        parse(body)
    return info.value


def test_aodh_body_parses() -> None:
    n = parse(json.dumps(aodh_payload("a-1", "alarm", "ok", name="cpu", value=91.5)).encode())
    assert (n.alarm_id, n.alarm_name, n.previous, n.current) == ("a-1", "cpu", "ok", "alarm")
    assert n.severity == "moderate"
    assert n.reason_data["most_recent"] == 91.5


def test_state_with_a_space_and_null_reason_data() -> None:
    body = aodh_payload("a-2", "insufficient data", "alarm")
    body["reason_data"] = None
    n = parse(json.dumps(body).encode())
    assert n.current == "insufficient data"
    assert n.reason_data == {}


def test_round_trip_through_the_inbox_form() -> None:
    n = parse(json.dumps(aodh_payload("a-3")).encode())
    assert parse(n.to_json().encode()) == n


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"\xff\xfe", b'{"a": NaN}', b'{"a": Infinity}', b"[" * 100_000, b'"\\ud800"'],
)
def test_not_json_is_400(body: bytes) -> None:
    err = _refusal(body)
    assert (err.status, err.code) == (400, "bad_json")


def _without(key: str) -> dict[str, Any]:
    body = aodh_payload("x")
    del body[key]
    return body


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ([1, 2], "invalid_body"),
        ("text", "invalid_body"),
        (_without("alarm_id"), "missing_field"),
        (_without("current"), "missing_field"),
        (_without("reason"), "missing_field"),
        ({**aodh_payload("x"), "current": "firing"}, "invalid_field"),
        ({**aodh_payload("x"), "previous": "OK"}, "invalid_field"),
        ({**aodh_payload("x"), "severity": "urgent"}, "invalid_field"),
        ({**aodh_payload("x"), "alarm_id": ""}, "invalid_field"),
        ({**aodh_payload("x"), "alarm_id": 7}, "invalid_field"),
        ({**aodh_payload("x"), "alarm_name": "  "}, "invalid_field"),
        ({**aodh_payload("x"), "alarm_name": "n" * (MAX_NAME + 1)}, "invalid_field"),
        ({**aodh_payload("x"), "reason_data": [1]}, "invalid_field"),
        ({**aodh_payload("x"), "reason": None}, "invalid_field"),
    ],
)
def test_wrong_shape_is_422(body: object, code: str) -> None:
    err = _refusal(json.dumps(body).encode())
    assert (err.status, err.code) == (422, code)


def test_lone_surrogate_inside_a_field_is_refused() -> None:
    body = json.dumps(aodh_payload("x")).replace('"alarm-x"', '"bad\\udc00"').encode()
    assert _refusal(body).status == 400


@pytest.mark.parametrize(
    "value", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_content_types_pass(value: str) -> None:
    check_content_type(value)


@pytest.mark.parametrize(
    "value", [None, "", "text/plain", "application/jsonx", "multipart/form-data"]
)
def test_other_content_types_are_415(value: str | None) -> None:
    with pytest.raises(PayloadError) as info:
        check_content_type(value)
    assert info.value.status == 415
