"""Nova on PostgreSQL and RabbitMQ: API under gunicorn, conductor, scheduler and one compute.

Each Nova service is its own process and they talk over the real broker. The compute runs
Nova's fake virt driver variant with a small, fixed size (2 vCPUs, 8 GiB, 1 TiB) and a node
uuid derived from its name, so a restart finds its compute node again. Its host name is fixed
so that Neutron can bind ports to it.
"""

from __future__ import annotations

import json
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from testbed import ini
from testbed.bed import Bed, ServiceError, answers
from testbed.launch import gunicorn
from testbed.services import keystone, postgres, rabbitmq

# Glance and Neutron are found through the catalog when a server boots: the server
# (services/server.py) requires them, Nova's own start does not, so they start side by side.
REQUIRES = ("keystone", "rabbitmq", "placement")
COMPUTE_HOST = "testbed-compute-1"
FLAVOR = "testbed.tiny"
SERVER = "testbed-server"
DAEMONS = ("nova-conductor", "nova-scheduler", "nova-compute")
SEED = Path(__file__).resolve().parent.parent / "seed"
SEED_BOOT = SEED / "nova_boot.py"
CELLS = SEED / "nova_cells.py"
# The scheduler maps new compute hosts to the cell (instead of nova-manage discover_hosts).
DISCOVER_INTERVAL = 2
# Services report every REPORT_INTERVAL seconds and count as ``down`` after SERVICE_DOWN_TIME
# without a report (Nova's defaults: 10 and 60), so a stopped compute shows down quickly.
REPORT_INTERVAL = 5
SERVICE_DOWN_TIME = 20


def _base_config(bed: Bed, base: Path, databases: dict[str, str]) -> dict[str, dict[str, object]]:
    """What nova-manage needs (databases, broker) and the rest that needs no Keystone."""
    return {
        "DEFAULT": {
            "use_stderr": True,
            "debug": False,
            "host": COMPUTE_HOST,
            "my_ip": "127.0.0.1",
            "state_path": base / "state",
            "instances_path": base / "instances",
            "transport_url": rabbitmq.transport_url(bed),
            "compute_driver": "fake.PredictableNodeUUIDDriver",
            # No real agent plugs VIFs here (and the fake driver waits for no VIF event).
            "vif_plugging_is_fatal": False,
            "vif_plugging_timeout": 0,
            # Periodic tasks (host discovery among them) start at once, not up to 60 s late.
            "periodic_fuzzy_delay": 0,
            "report_interval": REPORT_INTERVAL,
            "service_down_time": SERVICE_DOWN_TIME,
        },
        "api_database": {"connection": databases["nova_api"]},
        "database": {"connection": databases["nova"]},
        "api": {"auth_strategy": "keystone"},
        "wsgi": {"api_paste_config": base / "api-paste.ini"},
        "glance": {"region_name": keystone.REGION, "valid_interfaces": "internal,public"},
        "conductor": {"workers": 1},
        "scheduler": {"workers": 1, "discover_hosts_in_cells_interval": DISCOVER_INTERVAL},
        "vnc": {"enabled": False},
        "oslo_concurrency": {"lock_path": base / "lock"},
    }


def _keystone_config(bed: Bed, url: str) -> dict[str, dict[str, object]]:
    """The ``nova`` service user for every section that authenticates; the catalog entry."""
    keystone.register(bed, "compute", "nova", url)
    creds = keystone.credentials(bed, "nova")
    interfaces = {"valid_interfaces": "internal,public"}
    return {
        "keystone_authtoken": {**creds, "service_token_roles_required": True},
        "service_user": {**creds, "send_service_user_token": True},
        "placement": {**creds, **interfaces},
        "neutron": {**creds, **interfaces},
        "cinder": {**creds, "os_region_name": keystone.REGION},
    }


def _migrate(bed: Bed, conf: Path, cell0_conf: Path, databases: dict[str, str]) -> None:
    """The API database and the cell mappings (one process, seed/nova_cells.py), the cell1
    and cell0 schemas (``nova-manage db sync --local_cell`` on each) alongside."""

    def cell_sync(config: Path, name: str) -> str:
        manage = [bed.os_bin("nova-manage"), "--config-file", str(config)]
        return bed.run("nova", name, [*manage, "db", "sync", "--local_cell"], timeout=300)

    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="nova-manage") as pool:
        jobs = [
            pool.submit(
                bed.python, "nova", "nova-cells", CELLS,
                str(conf), databases["nova_cell0"], "cell1", timeout=300,
            ),
            pool.submit(cell_sync, conf, "nova-db-sync"),
            pool.submit(cell_sync, cell0_conf, "nova-cell0-db-sync"),
        ]  # fmt: skip
        for job in jobs:
            job.result()


def start(bed: Bed) -> None:
    base = bed.service_dir("nova")
    for sub in ("state", "instances", "lock"):
        (base / sub).mkdir(exist_ok=True)
    _node_identity(base / "state")
    port = bed.port("nova")
    root = f"http://127.0.0.1:{port}"
    url = f"{root}/v2.1"
    databases = {n: postgres.create_database(bed, n) for n in ("nova_api", "nova", "nova_cell0")}
    shutil.copyfile(bed.venv / "etc" / "nova" / "api-paste.ini", base / "api-paste.ini")
    sections = _base_config(bed, base, databases)
    conf = ini.write(base / "nova.conf", sections)
    cell0 = ini.merge(sections, {"database": {"connection": databases["nova_cell0"]}})
    cell0_conf = ini.write(base / "nova-cell0.conf", cell0)
    # Keystone's part needs no database: it runs during the migrations.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nova-keystone") as pool:
        auth = pool.submit(_keystone_config, bed, url)
        _migrate(bed, conf, cell0_conf, databases)
        full = ini.merge(sections, auth.result())
    ini.write(conf, full)
    # Compute nodes get no database credentials: they reach the database through the
    # conductor (nova-compute refuses direct access and logs errors if it could try).
    compute = {k: v for k, v in full.items() if k not in ("database", "api_database")}
    configs = {name: conf for name in DAEMONS}
    configs["nova-compute"] = ini.write(base / "nova-compute.conf", compute)
    env = {"OS_NOVA_CONFIG_DIR": str(base), "OS_NOVA_CONFIG_FILES": "api-paste.ini;nova.conf"}
    api = gunicorn(bed, "nova", "nova-api", "nova.wsgi.osapi_compute:application", port, env=env)
    daemons = {
        name: bed.spawn("nova", name, [bed.os_bin(name), "--config-file", str(path)])
        for name, path in configs.items()
    }
    bed.wait_http(api, root, timeout=90)
    for proc in daemons.values():
        if not proc.running:
            raise ServiceError("nova", f"{proc.name} exited", proc.log)
    bed.record("nova", {"url": url, "server_name": SERVER, "compute_host": COMPUTE_HOST})


def boot(bed: Bed) -> dict[str, Any]:
    """The flavor and the server; the seed waits for the compute itself first: until the
    scheduler has mapped its host to the cell and it answers a ping over RPC."""
    try:
        return _seed(bed)
    finally:
        # A dead process explains a failed seed better than the seed's own log.
        for proc in bed.procs("nova"):
            if not proc.running:
                raise ServiceError("nova", f"{proc.name} exited", proc.log)


def _node_identity(state: Path) -> None:
    """The compute's node identity file, as a real driver writes it on its first start.

    The fake driver derives its node uuid from the node name but never writes the file,
    and a restarted compute refuses to run without it.
    """
    identity = state / "compute_id"
    if not identity.exists():
        identity.write_text(str(uuid.uuid5(uuid.NAMESPACE_DNS, COMPUTE_HOST)))


def _seed(bed: Bed) -> dict[str, Any]:
    """Flavor and server through the public API; credentials go in the environment (not on
    the command line, where ``ps`` and the log would show them)."""
    env = {**keystone.client_env(bed), "TRANSPORT_URL": rabbitmq.transport_url(bed)}
    spec = {
        "image_id": bed.info("glance")["image_id"],
        "network_id": bed.info("neutron")["network_id"],
        "flavor": FLAVOR,
        "server": SERVER,
        "host": COMPUTE_HOST,
        "timeout": 90,
    }
    out = bed.python("nova", "nova-seed", SEED_BOOT, json.dumps(spec), env=env, timeout=150)
    seeded: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return seeded


def healthy(bed: Bed) -> bool:
    return answers(bed.info("nova")["url"].removesuffix("/v2.1"))
