"""The bridge behind TLS and basic auth from one --web.config.file (the exporter's format)."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
from pathlib import Path

import bcrypt

from tests.support.bridge import aodh_payload, run_bridge, state_args
from tests.support.tls import self_signed


def test_webhook_over_tls_with_basic_auth(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    hashed = bcrypt.hashpw(b"s3cret-pass", bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(
        "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n"
        f"basic_auth_users:\n  aodh: '{hashed}'\n"
    )
    args = state_args(tmp_path / "state.db", ["http://127.0.0.1:9"], "--web.config.file", str(web))
    with run_bridge(args, ready=False) as bridge:
        context = ssl.create_default_context(cafile=str(cert))
        good = "Basic " + base64.b64encode(b"aodh:s3cret-pass").decode()
        bad = "Basic " + base64.b64encode(b"aodh:wrong").decode()
        statuses = []
        for auth in (good, bad):
            conn = http.client.HTTPSConnection(
                bridge.host, bridge.port, context=context, timeout=10
            )
            conn.request(
                "POST",
                "/v1/aodh",
                json.dumps(aodh_payload("tls-1")),
                {"Content-Type": "application/json", "Authorization": auth},
            )
            resp = conn.getresponse()
            statuses.append((resp.status, json.loads(resp.read())["status"]))
            conn.close()
        assert statuses == [(202, "accepted"), (401, "error")]
        conn = http.client.HTTPSConnection(bridge.host, bridge.port, context=context, timeout=10)
        conn.request("GET", "/metrics", headers={"Authorization": good})
        text = conn.getresponse().read().decode()
        conn.close()
        assert 'aodh_bridge_webhooks_received_total{outcome="accepted"} 1.0' in text
        assert 'aodh_bridge_webhooks_received_total{outcome="unauthorized"} 1.0' in text
        assert "s3cret-pass" not in bridge.logs()
