"""Placement on PostgreSQL under gunicorn: Nova's scheduler and compute report resources here."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from testbed import ini
from testbed.bed import Bed, answers
from testbed.launch import gunicorn
from testbed.services import keystone, postgres

REQUIRES = ("keystone",)


def start(bed: Bed) -> None:
    base = bed.service_dir("placement")
    port = bed.port("placement")
    url = f"http://127.0.0.1:{port}"
    sections: dict[str, dict[str, object]] = {
        "DEFAULT": {"use_stderr": True, "debug": False},
        "placement_database": {"connection": postgres.create_database(bed, "placement")},
        "api": {"auth_strategy": "keystone"},
    }
    conf = ini.write(base / "placement.conf", sections)
    # Keystone's part (service user, catalog) needs no database: it runs during the migration.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="placement-keystone") as pool:
        authtoken = pool.submit(keystone.join, bed, "placement", "placement", url)
        bed.run(
            "placement",
            "placement-db-sync",
            [bed.os_bin("placement-manage"), "--config-file", str(conf), "db", "sync"],
            timeout=300,
        )
        sections["keystone_authtoken"] = authtoken.result()
    ini.write(conf, sections)
    # placement.wsgi reads OS_PLACEMENT_CONFIG_DIR/placement.conf
    env = {"OS_PLACEMENT_CONFIG_DIR": str(base)}
    proc = gunicorn(bed, "placement", "placement", "placement.wsgi.api:application", port, env=env)
    bed.wait_http(proc, url, timeout=60)
    bed.record("placement", {"url": url})


def healthy(bed: Bed) -> bool:
    return answers(bed.info("placement")["url"])
