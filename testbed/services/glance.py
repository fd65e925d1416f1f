"""Glance API on PostgreSQL with a file store, under gunicorn; holds the image Nova boots.

The image is a tiny empty qcow2: the fake virt driver never reads it, but Nova still checks
its formats, size and status.
"""

from __future__ import annotations

import shutil
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from testbed import ini
from testbed.bed import Bed, ServiceError, answers, http_json
from testbed.launch import gunicorn
from testbed.services import keystone, postgres

REQUIRES = ("keystone",)
IMAGE_NAME = "testbed-image"


def start(bed: Bed) -> None:
    base = bed.service_dir("glance")
    port = bed.port("glance")
    url = f"http://127.0.0.1:{port}"
    stores = {name: base / name for name in ("images", "staging", "tasks")}
    for path in stores.values():
        path.mkdir(exist_ok=True)
    paste = base / "glance-api-paste.ini"
    shutil.copyfile(bed.venv / "etc" / "glance" / "glance-api-paste.ini", paste)
    sections: dict[str, dict[str, object]] = {
        "DEFAULT": {
            "use_stderr": True,
            "debug": False,
            "enabled_backends": "fs:file",
            "workers": 1,
            "image_cache_dir": base / "cache",
        },
        "database": {"connection": postgres.create_database(bed, "glance")},
        "glance_store": {"default_backend": "fs"},
        "fs": {"filesystem_store_datadir": stores["images"]},
        "os_glance_staging_store": {"filesystem_store_datadir": stores["staging"]},
        "os_glance_tasks_store": {"filesystem_store_datadir": stores["tasks"]},
        "paste_deploy": {"flavor": "keystone", "config_file": paste},
        "oslo_policy": {"enforce_new_defaults": True},
    }
    conf = ini.write(base / "glance-api.conf", sections)
    disk = base / f"{IMAGE_NAME}.qcow2"
    # Keystone's part (service user, catalog) needs no database: it runs during the migration.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="glance-keystone") as pool:
        authtoken = pool.submit(keystone.join, bed, "glance", "image", url)
        bed.run(
            "glance",
            "glance-db-sync",
            [bed.os_bin("glance-manage"), "--config-file", str(conf), "db", "sync"],
            timeout=300,
        )
        if not disk.exists():
            qemu_img = ["qemu-img", "create", "-f", "qcow2", str(disk), "64M"]
            bed.run("glance", "glance-qemu-img", qemu_img)
        sections["keystone_authtoken"] = authtoken.result()
    ini.write(conf, sections)
    # glance.wsgi.api reads glance-api.conf from OS_GLANCE_CONFIG_DIR.
    env = {"OS_GLANCE_CONFIG_DIR": str(base)}
    proc = gunicorn(bed, "glance", "glance", "glance.wsgi.api:application", port, env=env)
    bed.wait_http(proc, f"{url}/healthcheck", timeout=60)
    image_id = _ensure_image(bed, url, disk)
    bed.record("glance", {"url": url, "image_id": image_id})


def _api(bed: Bed, method: str, url: str, body: Any = None) -> Any:
    headers = {"X-Auth-Token": keystone.admin_token(bed)}
    status, data, _ = http_json(method, url, body, headers=headers)
    if status not in (200, 201):
        raise ServiceError("glance", f"{method} {url} answered {status}: {data}")
    return data


def _ensure_image(bed: Bed, url: str, disk: Path) -> str:
    """The public image ``testbed-image``, uploaded once; an earlier broken one is replaced."""
    for image in _api(bed, "GET", f"{url}/v2/images?name={IMAGE_NAME}")["images"]:
        if image["status"] == "active":
            return str(image["id"])
        headers = {"X-Auth-Token": keystone.admin_token(bed)}
        http_json("DELETE", f"{url}/v2/images/{image['id']}", headers=headers)
    body = {
        "name": IMAGE_NAME,
        "disk_format": "qcow2",
        "container_format": "bare",
        "visibility": "public",
        "min_disk": 0,
        "min_ram": 0,
    }
    image_id = str(_api(bed, "POST", f"{url}/v2/images", body)["id"])
    upload = urllib.request.Request(  # noqa: S310 - loopback URL we built
        f"{url}/v2/images/{image_id}/file",
        data=disk.read_bytes(),
        method="PUT",
        headers={
            "X-Auth-Token": keystone.admin_token(bed),
            "Content-Type": "application/octet-stream",
        },
    )
    with urllib.request.urlopen(upload, timeout=60) as response:  # noqa: S310
        if response.status != 204:
            raise ServiceError("glance", f"image upload answered {response.status}")
    status = _api(bed, "GET", f"{url}/v2/images/{image_id}")["status"]
    if status != "active":
        log = bed.logs / "glance.log"
        raise ServiceError("glance", f"image {image_id} is {status} after upload", log)
    return image_id


def healthy(bed: Bed) -> bool:
    return answers(f"{bed.info('glance')['url']}/healthcheck")
