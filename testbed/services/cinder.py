"""Cinder 29 on PostgreSQL: the API under gunicorn, the scheduler and one volume service as
real processes over RabbitMQ.

The volume backend is Cinder's own ``FakeLoggingVolumeDriver`` (shipped in the package as
``cinder.tests.fake_driver``, the driver of Cinder's functional tests): volumes are
scheduled, created, attached and deleted through the real volume manager, but the driver
only logs its storage commands, so no LVM volume group or iSCSI target is needed.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from testbed import ini
from testbed.bed import Bed, ServiceError, answers
from testbed.launch import gunicorn
from testbed.services import keystone, postgres, rabbitmq

REQUIRES = ("keystone", "rabbitmq")
SEED = Path(__file__).resolve().parent.parent / "seed" / "cinder_check.py"
HOST = "testbed-controller"
BACKEND = "fake"
DRIVER = "cinder.tests.fake_driver.FakeLoggingVolumeDriver"
# As for Nova: reports every REPORT_INTERVAL seconds, ``down`` after SERVICE_DOWN_TIME without
# one (Cinder's defaults: 10 and 60).
REPORT_INTERVAL = 5
SERVICE_DOWN_TIME = 20


def _conf(bed: Bed, base: Path, db_url: str) -> dict[str, dict[str, object]]:
    return {
        "DEFAULT": {
            "use_stderr": True,
            "debug": False,
            "host": HOST,
            "my_ip": "127.0.0.1",
            "auth_strategy": "keystone",
            "transport_url": rabbitmq.transport_url(bed),
            "api_paste_config": base / "api-paste.ini",
            "state_path": base / "state",
            "osapi_volume_workers": 1,
            "enabled_backends": BACKEND,
            "default_volume_type": "__DEFAULT__",
            "report_interval": REPORT_INTERVAL,
            "service_down_time": SERVICE_DOWN_TIME,
        },
        "database": {"connection": db_url, "max_pool_size": 5, "max_overflow": 10},
        "oslo_concurrency": {"lock_path": base / "lock"},
        "coordination": {"backend_url": f"file://{base / 'coordination'}"},
        BACKEND: {"volume_driver": DRIVER, "volume_backend_name": BACKEND},
    }


def start(bed: Bed) -> None:
    base = bed.service_dir("cinder")
    for sub in ("state", "lock", "coordination"):
        (base / sub).mkdir(exist_ok=True)
    port = bed.port("cinder")
    url = f"http://127.0.0.1:{port}/v3"
    shutil.copyfile(bed.venv / "etc" / "cinder" / "api-paste.ini", base / "api-paste.ini")
    sections = _conf(bed, base, postgres.create_database(bed, "cinder"))
    conf = ini.write(base / "cinder.conf", sections)
    args = ["--config-file", str(conf)]
    # Keystone's part (service user, catalog) needs no database: it runs during db sync.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cinder-keystone") as pool:
        authtoken = pool.submit(_keystone, bed, url)
        bed.run(
            "cinder",
            "cinder-db-sync",
            [bed.os_bin("cinder-manage"), *args, "db", "sync"],
            timeout=300,
        )
        sections["keystone_authtoken"] = authtoken.result()
    ini.write(conf, sections)
    scheduler = bed.spawn("cinder", "cinder-scheduler", [bed.os_bin("cinder-scheduler"), *args])
    volume = bed.spawn("cinder", "cinder-volume", [bed.os_bin("cinder-volume"), *args])
    env = {"TESTBED_WSGI_ARGS": f"--config-file {conf}"}
    api = gunicorn(bed, "cinder", "cinder-api", "cinder.wsgi.api:application", port, env=env)
    bed.wait_http(api, f"http://127.0.0.1:{port}/healthcheck", timeout=120)
    for proc in (scheduler, volume):
        if not proc.running:
            raise ServiceError("cinder", f"{proc.name} exited", proc.log)
    out = bed.python("cinder", "cinder-check", SEED, env=keystone.client_env(bed), timeout=180)
    checked = json.loads(out.strip().splitlines()[-1])
    bed.record("cinder", {"url": url, "backend": f"{HOST}@{BACKEND} ({DRIVER})", **checked})


def _keystone(bed: Bed, url: str) -> dict[str, object]:
    # openstacksdk looks for block-storage; Nova's [cinder] catalog_info for volumev3.
    for service_type, name in (("block-storage", "cinder"), ("volumev3", "cinderv3")):
        keystone.register(bed, service_type, name, url)
    return keystone.authtoken(bed, "cinder")


def healthy(bed: Bed) -> bool:
    url = str(bed.info("cinder")["url"]).removesuffix("/v3")
    return answers(f"{url}/healthcheck")
