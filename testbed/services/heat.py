"""Heat 27 on PostgreSQL: heat-api under gunicorn and one heat-engine as real processes over
RabbitMQ, with Keystone auth; catalog type ``orchestration``.

The API answers ``GET /v1/{project}/services`` by asking an engine over RPC; the engines
report into the database every ``periodic_interval`` seconds and one counts as ``up`` while
its last report is at most two intervals old. With no engine consuming, the API's RPC call
times out after ``rpc_response_timeout`` and it answers 503 "All heat engines are down":
both are short here so that tests see either within seconds.

Stacks can be created: Heat's stack user domain (``heat``, administered by
``heat_domain_admin``) and the ``heat_stack_user`` role exist, and the engine acts for the
stack's owner through Keystone trusts as the ``heat`` service user.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from testbed import ini
from testbed.bed import Bed, ServiceError, answers, http_json
from testbed.launch import gunicorn
from testbed.services import keystone, postgres, rabbitmq

REQUIRES = ("keystone", "rabbitmq")
HOST = "testbed-controller"
# Seconds between an engine's reports; it is ``down`` after two intervals without one.
REPORT_INTERVAL = 5
# How long heat-api waits for an engine's RPC answer before its 503 (default 60 s, more
# than a client's own 30 s timeout in clouds.yaml would wait).
RPC_TIMEOUT = 10
# Engines whose last report is at most two intervals old.
RECENT_REPORTS = (
    "SELECT count(*) FROM service WHERE deleted_at IS NULL AND coalesce(updated_at, created_at)"
    " > now() AT TIME ZONE 'utc' - interval '10 seconds'"
)
STACK_DOMAIN = "heat"
STACK_DOMAIN_ADMIN = "heat_domain_admin"
STACK_USER_ROLE = "heat_stack_user"


def _config(bed: Bed, base: Path, db_url: str) -> dict[str, dict[str, object]]:
    """Everything but Keystone's part (``_keystone_side``)."""
    return {
        "DEFAULT": {
            "use_stderr": True,
            "debug": False,
            "host": HOST,
            "transport_url": rabbitmq.transport_url(bed),
            "num_engine_workers": 1,
            "periodic_interval": REPORT_INTERVAL,
            "rpc_response_timeout": RPC_TIMEOUT,
            "region_name_for_services": keystone.REGION,
            "auth_encryption_key": bed.secret(
                "heat-auth-encryption", "testbed-heat-encryption-key-32ch"
            ),
        },
        "database": {"connection": db_url, "max_pool_size": 5, "max_overflow": 10},
        "paste_deploy": {"api_paste_config": base / "api-paste.ini"},
        "oslo_concurrency": {"lock_path": base / "lock"},
    }


def _keystone_side(bed: Bed, url: str) -> dict[str, dict[str, object]]:
    """Catalog entry, ``heat`` service user, stack user domain and the sections using them."""
    keystone.register(bed, "orchestration", "heat", url)
    authtoken = keystone.authtoken(bed, "heat")
    domain_id, _ = keystone.domain_admin(bed, STACK_DOMAIN, STACK_DOMAIN_ADMIN)
    keystone.role_id(bed, STACK_USER_ROLE)
    trustee = {
        k: authtoken[k]
        for k in ("auth_type", "auth_url", "username", "password", "user_domain_name")
    }
    return {
        "DEFAULT": {
            "stack_user_domain_id": domain_id,
            "stack_domain_admin": STACK_DOMAIN_ADMIN,
            "stack_domain_admin_password": bed.secret(
                f"keystone-user-{STACK_DOMAIN_ADMIN}", f"testbed-{STACK_DOMAIN_ADMIN}"
            ),
        },
        "keystone_authtoken": authtoken,
        "trustee": trustee,
        "clients_keystone": {"auth_uri": str(authtoken["auth_url"]).removesuffix("/v3")},
    }


def start(bed: Bed) -> None:
    base = bed.service_dir("heat")
    (base / "lock").mkdir(exist_ok=True)
    port = bed.port("heat")
    root = f"http://127.0.0.1:{port}"
    # Keystone puts the token's project id in place of %(project_id)s in the catalog.
    catalog_url = f"{root}/v1/%(project_id)s"
    shutil.copyfile(bed.venv / "etc" / "heat" / "api-paste.ini", base / "api-paste.ini")
    sections = _config(bed, base, postgres.create_database(bed, "heat"))
    conf = ini.write(base / "heat.conf", sections)
    # Keystone's part needs no database: it runs during the migration.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="heat-keystone") as pool:
        auth = pool.submit(_keystone_side, bed, catalog_url)
        bed.run(
            "heat",
            "heat-db-sync",
            [bed.os_bin("heat-manage"), "--config-file", str(conf), "db_sync"],
            timeout=300,
        )
        conf = ini.write(conf, ini.merge(sections, auth.result()))
    engine = bed.spawn(
        "heat", "heat-engine", [bed.os_bin("heat-engine"), "--config-file", str(conf)]
    )
    api = gunicorn(
        bed,
        "heat",
        "heat-api",
        "heat.api.openstack.wsgi:init_application",
        port,
        env={"TESTBED_WSGI_ARGS": f"--config-file {conf}"},
        factory=True,
    )
    bed.wait_http(api, f"{root}/healthcheck", timeout=120)
    # The engine's first report comes after it listens: asked earlier, the API would wait
    # out RPC_TIMEOUT for an answer.
    bed.wait(engine, "heat-engine's first report", lambda: _reported(bed), timeout=120)
    # A dead API ends this wait too (then fails with its own log, not the engine's).
    bed.wait(
        engine,
        "heat-engine up in GET /services",
        lambda: not api.running or _engine_up(bed, root),
        timeout=120,
    )
    if not api.running:
        raise ServiceError("heat", "heat-api exited", api.log)
    bed.record("heat", {"url": root, "catalog_url": catalog_url, "host": HOST})


def list_services(bed: Bed, root: str) -> tuple[int, Any]:
    """``GET /v1/{admin project}/services`` as the admin: status and body."""
    project = keystone.project_id(bed, keystone.ADMIN)
    status, body, _ = http_json(
        "GET",
        f"{root}/v1/{project}/services",
        headers={"X-Auth-Token": keystone.admin_token(bed)},
        timeout=RPC_TIMEOUT + 20,
    )
    return status, body


def _reported(bed: Bed) -> bool:
    """An engine reported within two intervals (Heat stores UTC without a time zone)."""
    return postgres.query(bed, "heat", RECENT_REPORTS) not in ("", "0")


def _engine_up(bed: Bed, root: str) -> bool:
    status, body = list_services(bed, root)
    return status == 200 and any(s.get("status") == "up" for s in body["services"])


def healthy(bed: Bed) -> bool:
    return answers(f"{bed.info('heat')['url']}/healthcheck")
