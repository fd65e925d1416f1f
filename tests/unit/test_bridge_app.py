"""The Flask app in-process: statuses, JSON error bodies, counting, and no traceback out."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from flask.testing import FlaskClient

from alerts.app import create_app
from alerts.bridge import Bridge
from alerts.config import Flags, build_config
from tests.support.bridge import aodh_payload


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[Bridge]:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  aodh: '{hashed}'\n")
    # Port 9 (discard) on loopback: nothing listens, the sender just backs off.
    flags = Flags(
        alertmanager_urls=("http://127.0.0.1:9",),
        state_path=str(tmp_path / "state.db"),
        web_config_file=str(web),
    )
    bridge = Bridge(build_config(flags))
    bridge.start()
    yield bridge
    bridge.stop()


@pytest.fixture
def client(bridge: Bridge) -> FlaskClient:
    return create_app(bridge).test_client()


AUTH = {"Authorization": "Basic " + base64.b64encode(b"aodh:pw").decode()}


def post(client: FlaskClient, body: bytes, **headers: str) -> tuple[int, dict[str, str]]:
    sent = {"Content-Type": "application/json", **AUTH, **headers}
    resp = client.post("/v1/aodh", data=body, headers=sent)
    return resp.status_code, json.loads(resp.data)


def test_accepted_after_commit(client: FlaskClient, bridge: Bridge) -> None:
    status, body = post(client, json.dumps(aodh_payload("a-1")).encode())
    assert (status, body) == (202, {"status": "accepted"})
    assert bridge.metrics.webhooks.labels("accepted")._value.get() == 1


@pytest.mark.parametrize(
    ("headers", "body", "status", "outcome"),
    [
        (
            {"Authorization": "Basic " + base64.b64encode(b"aodh:no").decode()},
            b"{}",
            401,
            "unauthorized",
        ),
        ({"Authorization": "Bearer x"}, b"{}", 401, "unauthorized"),
        ({"Content-Type": "text/plain"}, b"{}", 415, "unsupported_media_type"),
        ({}, b"{", 400, "bad_json"),
        ({}, b"{}", 422, "invalid"),
        ({}, b" " * (1024 * 1024 + 1), 413, "too_large"),
    ],
)
def test_refusals_are_json_and_counted(  # noqa: PLR0917 - fixtures plus the case
    client: FlaskClient,
    bridge: Bridge,
    headers: dict[str, str],
    body: bytes,
    status: int,
    outcome: str,
) -> None:
    got, answer = post(client, body, **headers)
    assert got == status
    assert answer["status"] == "error"
    assert answer["error"]
    assert bridge.metrics.webhooks.labels(outcome)._value.get() == 1
    assert bridge.store.inbox() == []
    assert bridge.store.alarm_counts() == {}


def test_other_endpoints_need_basic_auth(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 401
    resp = client.get("/metrics", headers=AUTH)
    assert resp.status_code == 200
    assert b"aodh_bridge_webhooks_received_total" in resp.data
    for path in ("/healthz", "/readyz"):
        assert client.get(path, headers=AUTH).get_json()["status"] in ("ok", "ready")


def test_unknown_path_and_method_are_json(client: FlaskClient) -> None:
    assert client.get("/nope", headers=AUTH).get_json()["error"] == "not_found"
    resp = client.get("/v1/aodh", headers=AUTH)
    assert resp.status_code == 405
    assert resp.get_json()["status"] == "error"


def test_an_unexpected_error_never_shows_its_traceback(
    client: FlaskClient, bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(bridge.accepter, "accept", broken)
    resp = client.post(
        "/v1/aodh",
        data=json.dumps(aodh_payload("a-2")),
        headers={"Content-Type": "application/json", **AUTH},
    )
    assert resp.status_code == 500
    assert b"secret internals" not in resp.data
    assert b"Traceback" not in resp.data
    assert resp.get_json()["error"] == "internal"


def test_unknown_user_costs_the_bridge_the_same_bcrypt_work_as_a_wrong_password(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        checked.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    for user in ("aodh", "nobody"):
        basic = "Basic " + base64.b64encode(f"{user}:wrong".encode()).decode()
        assert bridge.authorize(basic, None) is not None
    assert len(checked) == 2
