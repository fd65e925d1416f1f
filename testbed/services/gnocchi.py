"""Gnocchi 4.7 with Keystone auth: the API under gunicorn and gnocchi-metricd as its own process.

PostgreSQL is the indexer (and, by Gnocchi's default, the tooz coordinator); storage and the
incoming measures are plain files. metricd has one processing worker and looks for new
measures every second, so pushed measures are aggregated within seconds. Ceilometer's
archive policies and resource types are created through the API by a seed script.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from testbed import ini, paste
from testbed.bed import Bed, ServiceError, answers
from testbed.launch import gunicorn
from testbed.services import keystone, postgres

REQUIRES = ("keystone",)
SEED = Path(__file__).resolve().parent.parent / "seed" / "gnocchi_seed.py"
# Incoming sacks: metricd scans each one every cycle, and the default of 128 is far more
# than a single-worker test cloud needs.
SACKS = 8


def _config(bed: Bed, conf: Path, port: int) -> dict[str, dict[str, object]]:
    base = conf.parent
    return {
        "DEFAULT": {"debug": False, "verbose": False, "parallel_operations": 2},
        "api": {
            "auth_mode": "keystone",
            "paste_config": paste.with_config_file(
                bed, "gnocchi", "gnocchi/rest/api-paste.ini", "filter:keystone_authtoken", conf
            ),
            "host": "127.0.0.1",
            "port": port,
        },
        "indexer": {"url": postgres.create_database(bed, "gnocchi")},
        "storage": {"driver": "file", "file_basepath": base / "storage"},
        "incoming": {"driver": "file", "file_basepath": base / "incoming"},
        "metricd": {
            "workers": 1,
            "metric_processing_delay": 1,
            "metric_reporting_delay": -1,
            "metric_cleanup_delay": 60,
        },
    }


def _keystone_side(bed: Bed, url: str) -> dict[str, dict[str, object]]:
    keystone.register(bed, "metric", "gnocchi", url)
    return {"keystone_authtoken": keystone.authtoken(bed, "gnocchi")}


def start(bed: Bed) -> None:
    port = bed.port("gnocchi")
    url = f"http://127.0.0.1:{port}"
    conf = bed.service_dir("gnocchi") / "gnocchi.conf"
    config = ["--config-file", str(conf)]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gnocchi-keystone") as pool:
        keystone_side = pool.submit(_keystone_side, bed, url)
        sections = _config(bed, conf, port)
        ini.write(conf, {**sections, **keystone_side.result()})
    # The API imports while the upgrade runs (it opens the indexer on its first request);
    # metricd needs the incoming sacks that the upgrade creates.
    env = {"TESTBED_WSGI_ARGS": " ".join(config)}
    api = gunicorn(bed, "gnocchi", "gnocchi-api", "gnocchi.rest.wsgi:application", port, env=env)
    # gnocchi-upgrade retries a database it cannot reach for ever: bed.run's timeout ends it.
    bed.run(
        "gnocchi",
        "gnocchi-upgrade",
        [bed.os_bin("gnocchi-upgrade"), *config, f"--sacks-number={SACKS}"],
        timeout=180,
    )
    metricd = bed.spawn("gnocchi", "gnocchi-metricd", [bed.os_bin("gnocchi-metricd"), *config])
    bed.wait_http(api, f"{url}/healthcheck", timeout=90)
    if not metricd.running:
        raise ServiceError("gnocchi", "gnocchi-metricd exited", metricd.log)
    out = bed.python("gnocchi", "gnocchi-seed", SEED, env=keystone.client_env(bed), timeout=120)
    seeded = json.loads(out.strip().splitlines()[-1])
    bed.record("gnocchi", {"url": url, **seeded})


def healthy(bed: Bed) -> bool:
    return answers(f"{bed.info('gnocchi')['url']}/healthcheck")
