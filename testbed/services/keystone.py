"""Keystone on PostgreSQL with fernet tokens, under gunicorn; the catalog every service joins.

Besides the bootstrap admin, it creates a ``service`` project for service users and a
non-admin ``demo`` project and user (the ``testbed-demo`` cloud).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from testbed import ini
from testbed.bed import Bed, ServiceError, answers, http_json
from testbed.launch import gunicorn
from testbed.services import postgres

REQUIRES = ("postgres",)
REGION = "RegionOne"
DOMAIN = "Default"
ADMIN = "admin"
DEMO = "demo"
SERVICE_PROJECT = "service"
# Token lifetime in seconds, Keystone's ``[token] expiration``: TESTBED_TOKEN_EXPIRATION when
# Keystone starts (tests of token expiry set it short), else a day.
TOKEN_EXPIRATION = 86400
# The orchestrator's own admin token is renewed this long before it expires.
TOKEN_MARGIN = 10.0
_token_lock = threading.Lock()
_tokens: dict[str, tuple[str, float]] = {}


def start(bed: Bed) -> None:
    base = bed.service_dir("keystone")
    port = bed.port("keystone")
    url = f"http://127.0.0.1:{port}/v3"
    admin_password = bed.secret("keystone-admin", "testbed-admin")
    expiration = token_expiration()
    conf = ini.write(
        base / "keystone.conf",
        {
            "DEFAULT": {"use_stderr": True, "debug": False},
            "database": {"connection": postgres.create_database(bed, "keystone")},
            "token": {"provider": "fernet", "expiration": expiration},
            "fernet_tokens": {"key_repository": base / "fernet-keys"},
            "fernet_receipts": {"key_repository": base / "fernet-keys"},
            "credential": {"key_repository": base / "credential-keys"},
            "identity": {"password_hash_rounds": 4},
            # One worker process, so an in-process cache stays coherent; without it every
            # authenticated request recomputes the token's roles (~300 SQL queries, ~0.4 s
            # of CPU), which made each Keystone call take seconds on a busy machine.
            "cache": {"enabled": True, "backend": "dogpile.cache.memory"},
        },
    )
    env = {"OS_KEYSTONE_CONFIG_FILES": str(conf)}
    manage = [bed.os_bin("keystone-manage"), "--config-file", str(conf)]

    def run(name: str, *args: str, timeout: float = 120) -> None:
        bed.run("keystone", f"keystone-{name}", [*manage, *args], env=env, timeout=timeout)

    owner = ("--keystone-user", "root", "--keystone-group", "root")
    # The key repositories need no database: made while the schema migrates.
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="keystone-manage") as pool:
        jobs = [
            pool.submit(run, "db-sync", "db_sync", timeout=300),
            pool.submit(run, "fernet-setup", "fernet_setup", *owner),
            pool.submit(run, "credential-setup", "credential_setup", *owner),
        ]
        for job in jobs:
            job.result()
    # The password goes through the environment: a command line shows in ps and in our logs.
    env["OS_BOOTSTRAP_PASSWORD"] = admin_password
    run(
        "bootstrap", "bootstrap",
        "--bootstrap-username", ADMIN,
        "--bootstrap-project-name", ADMIN,
        "--bootstrap-role-name", "admin",
        "--bootstrap-service-name", "keystone",
        "--bootstrap-region-id", REGION,
        "--bootstrap-admin-url", url,
        "--bootstrap-internal-url", url,
        "--bootstrap-public-url", url,
    )  # fmt: skip
    del env["OS_BOOTSTRAP_PASSWORD"]
    proc = gunicorn(bed, "keystone", "keystone", "keystone.wsgi.api:application", port, env=env)
    bed.wait_http(proc, url, timeout=60)
    bed.record(
        "keystone",
        {
            "url": url,
            "auth_url": url,
            "region": REGION,
            "admin_user": ADMIN,
            "admin_password": admin_password,
            "admin_project": ADMIN,
            "token_expiration": expiration,
        },
    )
    project_id(bed, SERVICE_PROJECT, create=True)
    demo_project = project_id(bed, DEMO, create=True)
    demo_password = bed.secret("keystone-demo", "testbed-demo")
    demo_user = _ensure_user(bed, DEMO, demo_password)
    _grant(bed, demo_user, demo_project, "member")
    info = bed.info("keystone")
    info.update({"demo_user": DEMO, "demo_password": demo_password, "demo_project": DEMO})
    bed.record("keystone", info)
    write_clouds_yaml(bed)


def token_expiration() -> int:
    """Seconds from TESTBED_TOKEN_EXPIRATION, else ``TOKEN_EXPIRATION``."""
    raw = os.environ.get("TESTBED_TOKEN_EXPIRATION", "").strip()
    if not raw:
        return TOKEN_EXPIRATION
    try:
        seconds = int(raw)
    except ValueError:
        seconds = 0
    if seconds < 1:
        raise ServiceError("keystone", f"TESTBED_TOKEN_EXPIRATION={raw!r}: want whole seconds > 0")
    return seconds


def healthy(bed: Bed) -> bool:
    return answers(bed.info("keystone")["url"])


# -- a small admin client (stdlib only: the orchestrator has no OpenStack libraries) ------


def admin_token(bed: Bed) -> str:
    info = bed.info("keystone")
    with _token_lock:
        cached = _tokens.get(info["url"])
        if cached and cached[1] > time.monotonic():
            return cached[0]
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": info["admin_user"],
                            "domain": {"id": "default"},
                            "password": info["admin_password"],
                        }
                    },
                },
                "scope": {"project": {"name": info["admin_project"], "domain": {"id": "default"}}},
            }
        }
        asked = time.monotonic()
        status, data, headers = http_json("POST", f"{info['url']}/auth/tokens", body)
        if status != 201:
            raise ServiceError("keystone", f"admin token request answered {status}")
        token = headers["X-Subject-Token"]
        # Kept until shortly before it expires: with a short TESTBED_TOKEN_EXPIRATION a
        # later service start must not present an expired token.
        lifetime = (_expires_at(data) - _issued_at(data)).total_seconds()
        _tokens[info["url"]] = (token, asked + max(lifetime - TOKEN_MARGIN, 0.0))
        return token


def _expires_at(data: Any) -> dt.datetime:
    return dt.datetime.fromisoformat(str(data["token"]["expires_at"]).replace("Z", "+00:00"))


def _issued_at(data: Any) -> dt.datetime:
    return dt.datetime.fromisoformat(str(data["token"]["issued_at"]).replace("Z", "+00:00"))


def api(
    bed: Bed, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200, 201, 204)
) -> Any:
    url = f"{bed.info('keystone')['url']}{path}"
    status, data, _ = http_json(method, url, body, headers={"X-Auth-Token": admin_token(bed)})
    if status not in ok:
        raise ServiceError("keystone", f"{method} {path} answered {status}: {data}")
    return data


def _find(bed: Bed, collection: str, name: str, extra: str = "") -> dict[str, Any] | None:
    found = api(bed, "GET", f"/{collection}?name={name}{extra}")[collection]
    return found[0] if found else None


def project_id(bed: Bed, name: str, *, create: bool = False) -> str:
    project = _find(bed, "projects", name)
    if project is None:
        if not create:
            raise ServiceError("keystone", f"no project {name!r}")
        project = api(
            bed, "POST", "/projects", {"project": {"name": name, "domain_id": "default"}}
        )["project"]
    return str(project["id"])


def role_id(bed: Bed, name: str) -> str:
    """The id of role ``name``, created if absent."""
    role = _find(bed, "roles", name)
    if role is None:
        role = api(bed, "POST", "/roles", {"role": {"name": name}})["role"]
    return str(role["id"])


def _ensure_user(bed: Bed, name: str, password: str, domain: str = "default") -> str:
    user = _find(bed, "users", name, f"&domain_id={domain}")
    if user is None:
        user = api(
            bed,
            "POST",
            "/users",
            {"user": {"name": name, "password": password, "domain_id": domain}},
        )["user"]
    return str(user["id"])


def domain_admin(bed: Bed, domain: str, user: str) -> tuple[str, str]:
    """Domain ``domain`` (created if absent) and ``user`` in it with ``admin`` on it: the ids
    of both. The user's password is the testbed secret ``keystone-user-USER``."""
    found = _find(bed, "domains", domain)
    if found is None:
        found = api(bed, "POST", "/domains", {"domain": {"name": domain}})["domain"]
    domain_id = str(found["id"])
    password = bed.secret(f"keystone-user-{user}", f"testbed-{user}")
    user_id = _ensure_user(bed, user, password, domain_id)
    api(bed, "PUT", f"/domains/{domain_id}/users/{user_id}/roles/{role_id(bed, 'admin')}")
    return domain_id, user_id


def _grant(bed: Bed, user_id: str, project: str, role: str) -> None:
    api(bed, "PUT", f"/projects/{project}/users/{user_id}/roles/{role_id(bed, role)}")


def service_user(bed: Bed, name: str) -> str:
    """A user ``name`` in the service project with ``admin`` and ``service``; its password."""
    password = bed.secret(f"keystone-user-{name}", f"testbed-{name}")
    user_id = _ensure_user(bed, name, password)
    project = project_id(bed, SERVICE_PROJECT, create=True)
    for role in ("admin", "service"):
        _grant(bed, user_id, project, role)
    return password


def register(bed: Bed, service_type: str, name: str, url: str) -> None:
    """Add a service and its public, internal and admin endpoints to the catalog."""
    service = _find(bed, "services", name)
    if service is None:
        service = api(bed, "POST", "/services", {"service": {"type": service_type, "name": name}})[
            "service"
        ]
    existing = api(bed, "GET", f"/endpoints?service_id={service['id']}")["endpoints"]
    have = {e["interface"] for e in existing}
    for interface in ("public", "internal", "admin"):
        if interface in have:
            continue
        endpoint = {
            "service_id": service["id"],
            "interface": interface,
            "url": url,
            "region_id": REGION,
        }
        api(bed, "POST", "/endpoints", {"endpoint": endpoint})


def credentials(bed: Bed, user: str) -> dict[str, object]:
    """keystoneauth password options for a service user (``[keystone_authtoken]`` and kin)."""
    info = bed.info("keystone")
    return {
        "auth_type": "password",
        "auth_url": info["url"],
        "www_authenticate_uri": info["url"],
        "username": user,
        "password": service_user(bed, user),
        "project_name": SERVICE_PROJECT,
        "user_domain_name": DOMAIN,
        "project_domain_name": DOMAIN,
        "region_name": REGION,
    }


def join(bed: Bed, user: str, service_type: str, url: str) -> dict[str, object]:
    """A service's part in Keystone (catalog entry, service user); its ``[keystone_authtoken]``.

    Needs no database of the service's own, so services run it during their migration.
    """
    register(bed, service_type, user, url)
    return authtoken(bed, user)


def authtoken(bed: Bed, user: str) -> dict[str, object]:
    """``[keystone_authtoken]`` for a service validating tokens as ``user``."""
    section = credentials(bed, user)
    section["service_token_roles_required"] = True
    return section


def _cloud(url: str, user: str, password: str, project: str) -> str:
    return (
        f"    auth:\n"
        f"      auth_url: {url}\n"
        f"      username: {user}\n"
        f"      password: {password}\n"
        f"      project_name: {project}\n"
        f"      user_domain_name: {DOMAIN}\n"
        f"      project_domain_name: {DOMAIN}\n"
        f"    region_name: {REGION}\n"
        f"    interface: public\n"
        f"    identity_api_version: 3\n"
        f"    api_timeout: 30\n"
    )


def write_clouds_yaml(bed: Bed) -> None:
    """``testbed`` (admin) and ``testbed-demo`` (member of ``demo``) for openstacksdk users."""
    info = bed.info("keystone")
    text = (
        "# Written by the testbed; valid while it runs.\n"
        "clouds:\n"
        "  testbed:\n"
        + _cloud(info["url"], info["admin_user"], info["admin_password"], info["admin_project"])
        + "  testbed-demo:\n"
        + _cloud(info["url"], info["demo_user"], info["demo_password"], info["demo_project"])
    )
    path = bed.root / "clouds.yaml"
    path.write_text(text)
    path.chmod(0o600)


def client_env(bed: Bed) -> dict[str, str]:
    """``OS_*`` admin credentials for the seed scripts (see testbed/seed/os_session.py)."""
    info = bed.info("keystone")
    return {
        "OS_AUTH_URL": info["url"],
        "OS_USERNAME": info["admin_user"],
        "OS_PASSWORD": info["admin_password"],
        "OS_PROJECT_NAME": info["admin_project"],
        "OS_USER_DOMAIN_NAME": DOMAIN,
        "OS_PROJECT_DOMAIN_NAME": DOMAIN,
        "OS_REGION_NAME": info.get("region", REGION),
    }
