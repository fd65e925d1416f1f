"""Aodh 23: API under gunicorn; evaluator, notifier and listener as separate processes joined
by the testbed's RabbitMQ; alarms in PostgreSQL; Keystone auth.

The evaluator reads Gnocchi with ``[service_credentials]`` every few seconds. ``start``
creates one alarm and does not return before it has fired: the evaluator must have moved it
to ``alarm`` and the notifier's webhook must have reached the alarm sink.

What makes the alarm fire: ``cpu`` of the Nova server, ``rate:mean`` at 60 s granularity,
over 80 % of its vCPUs for 3 periods. Gnocchi's rate:mean is the mean difference between
successive samples, so the threshold is per sampling interval of the measures feeder:
``0.8 * vcpus * interval * 1e9`` ns (``0.8 * vcpus * 60e9`` at the default 60 s). The feeder
backfilled five idle minutes (~15 %) then five busy ones (~90 %) and keeps pushing busy
samples, so the last three minutes always breach it. ``additional_ingestion_lag`` (one hour)
keeps the last samples in the evaluation window while the feeder is stopped or frozen (a
fault test), so the alarm stays ``alarm`` rather than falling to ``insufficient data``.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from testbed import ini, paste
from testbed.bed import Bed, Proc, ServiceError, http_json
from testbed.launch import gunicorn
from testbed.services import keystone, postgres, rabbitmq

REQUIRES = ("keystone", "rabbitmq", "gnocchi", "measures", "alarm_sink")
SEED = Path(__file__).resolve().parent.parent / "seed" / "aodh_seed.py"
ALARM_NAME = "testbed-cpu-high"
EVALUATION_INTERVAL = 5


def _config(bed: Bed, conf: Path) -> dict[str, dict[str, object]]:
    """Everything but the Keystone sections (those need API calls: see ``_keystone_side``)."""
    return {
        "DEFAULT": {
            "use_stderr": True,
            "debug": False,
            "transport_url": rabbitmq.transport_url(bed),
            "additional_ingestion_lag": 3600,
        },
        "api": {
            "auth_mode": "keystone",
            "paste_config": paste.with_config_file(
                bed, "aodh", "aodh/api/api-paste.ini", "filter:authtoken", conf
            ),
        },
        "database": {"connection": _aodh_url(postgres.create_database(bed, "aodh"))},
        "evaluator": {"workers": 1, "evaluation_interval": EVALUATION_INTERVAL},
        "notifier": {"workers": 1},
        "listener": {"workers": 1},
    }


def _keystone_side(bed: Bed, url: str) -> dict[str, dict[str, object]]:
    """The aodh service user, the catalog entry and the config sections that use them."""
    credentials = keystone.credentials(bed, "aodh")
    keystone.register(bed, "alarming", "aodh", url)
    return {
        "keystone_authtoken": {**credentials, "service_token_roles_required": True},
        "service_credentials": {**credentials, "interface": "public"},
    }


def _aodh_url(url: str) -> str:
    """Aodh picks its storage driver by URL scheme and knows ``postgresql`` only, for which
    SQLAlchemy 2.1 uses psycopg (3): hence psycopg in the OpenStack environment."""
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


def _alarm_spec(bed: Bed, webhook: str) -> dict[str, Any]:
    measures = bed.info("measures")
    vcpus = int(measures.get("vcpus", 1))
    interval = int(measures.get("interval", 60))
    return {
        "name": ALARM_NAME,
        "description": "CPU of the testbed server above 80 % of its vCPUs for 3 minutes",
        "severity": "moderate",
        "webhook": webhook,
        "rule": {
            "metric": "cpu",
            "resource_type": "instance",
            "resource_id": measures["server_id"],
            "aggregation_method": "rate:mean",
            "granularity": 60,
            "evaluation_periods": 3,
            "comparison_operator": "gt",
            "threshold": 0.8 * vcpus * interval * 1e9,
        },
    }


def start(bed: Bed) -> None:
    base = bed.service_dir("aodh")
    port = bed.port("aodh")
    url = f"http://127.0.0.1:{port}"
    conf = base / "aodh.conf"
    config = ["--config-file", str(conf)]
    # The migrations run while Keystone is called and while the API, notifier and listener
    # import (none reads a table before it is asked to); the evaluator, which reads the
    # alarms at once, starts after them. dbsync gets a config of its own, so that it never
    # reads aodh.conf while it is rewritten.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="aodh-start") as pool:
        keystone_side = pool.submit(_keystone_side, bed, url)
        sections = _config(bed, conf)
        dbsync = ini.write(base / "aodh-dbsync.conf", {"database": sections["database"]})
        migrated = pool.submit(
            bed.run,
            "aodh",
            "aodh-dbsync",
            [bed.os_bin("aodh-dbsync"), "--config-file", str(dbsync)],
            timeout=300,
        )
        ini.write(conf, {**sections, **keystone_side.result()})
        daemons = {name: _daemon(bed, name, config) for name in ("notifier", "listener")}
        env = {"TESTBED_WSGI_ARGS": " ".join(config)}
        api = gunicorn(
            bed, "aodh", "aodh-api", "aodh.api.app:build_wsgi_app", port, env=env, factory=True
        )
        migrated.result()
    daemons["evaluator"] = _daemon(bed, "evaluator", config)
    bed.wait_http(api, f"{url}/healthcheck", timeout=90)
    webhook = os.environ.get("TESTBED_ALARM_URL") or bed.info("alarm_sink")["url"]
    spec = _alarm_spec(bed, webhook)
    out = bed.python(
        "aodh", "aodh-seed", SEED, json.dumps(spec), env=keystone.client_env(bed), timeout=120
    )
    alarm_id = json.loads(out.strip().splitlines()[-1])["alarm_id"]
    bed.wait(
        daemons["evaluator"],
        f"alarm {ALARM_NAME} in state alarm",
        lambda: _state(bed, url, alarm_id) == "alarm",
        timeout=90,
        interval=1,
    )
    sink = bed.info("alarm_sink")
    if webhook == sink["url"]:
        bed.wait(
            daemons["notifier"],
            f"webhook for {alarm_id} in {sink['file']}",
            lambda: _delivered(Path(sink["file"]), alarm_id),
            timeout=30,
            interval=0.5,
        )
    for proc in daemons.values():
        if not proc.running:
            raise ServiceError("aodh", f"{proc.name} exited", proc.log)
    bed.record(
        "aodh",
        {
            "url": url,
            "alarm_id": alarm_id,
            "alarm_name": ALARM_NAME,
            "webhook": webhook,
            "rule": spec["rule"],
        },
    )


def _daemon(bed: Bed, name: str, config: list[str]) -> Proc:
    return bed.spawn("aodh", f"aodh-{name}", [bed.os_bin(f"aodh-{name}"), *config])


def _state(bed: Bed, url: str, alarm_id: str) -> str:
    headers = {"X-Auth-Token": keystone.admin_token(bed)}
    status, body, _ = http_json("GET", f"{url}/v2/alarms/{alarm_id}", headers=headers)
    if status != 200:
        raise ServiceError("aodh", f"GET alarm {alarm_id} answered {status}: {body}")
    return str(body["state"])


def _delivered(received: Path, alarm_id: str) -> bool:
    """The sink holds a POST whose JSON body is this alarm's transition to ``alarm``."""
    for line in received.read_text().splitlines():
        body = json.loads(line).get("body")
        if isinstance(body, dict) and body.get("alarm_id") == alarm_id:
            return body.get("current") == "alarm"
    return False


def healthy(bed: Bed) -> bool:
    """The API answers and the alarm still watches the server that the measures are for."""
    info = bed.info("aodh")
    if info["rule"]["resource_id"] != bed.info("measures").get("server_id"):
        return False
    try:
        return _state(bed, info["url"], info["alarm_id"]) in ("alarm", "ok", "insufficient data")
    except (OSError, ServiceError):
        return False
