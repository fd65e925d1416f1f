"""Many servers for the benchmarks: P projects, and N servers ACTIVE across them.

Runs in the OpenStack environment. Argument: one JSON object with ``servers`` (the total
wanted ACTIVE in the bench projects), ``projects`` (how many, named ``PREFIX-01`` ...),
``prefix``, ``image_id``, ``flavor``, ``hosts`` (the compute hosts, each waited for as
in nova_boot.py), ``chunk`` (most servers in one create request), ``window`` (most servers
building at once; the next request waits until fewer are) and ``timeout``; admin
credentials in ``OS_*``, Nova's broker in ``TRANSPORT_URL``.

Idempotent: projects, role assignments, quotas and the flavor are reused; servers already
ACTIVE or building count towards the target; servers in ERROR from an earlier run are
deleted first. It only adds servers, never removes ACTIVE ones. Prints one JSON object: what
it found, what it booted, how long each step took, and how many servers ended in ERROR.

Each project gets ``servers // projects`` servers (the first ``servers % projects`` one
more), booted with Nova's multi-create: one ``POST /servers`` with ``min_count`` =
``max_count`` = k per project and chunk, ``networks: "none"``, as that project's member.
Placement's allocation ratios of each compute node are raised when its inventory (the fake
driver's 2 vCPUs, 8 GiB, 1 TiB) could not hold them all.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import Counter
from typing import Any

import openstack  # type: ignore[import-untyped,import-not-found,unused-ignore]
from keystoneauth1 import session as ks_session  # type: ignore[import-untyped,import-not-found,unused-ignore]
from keystoneauth1.identity import v3  # type: ignore[import-untyped,import-not-found,unused-ignore]
from nova_boot import ensure_flavor, wait_host  # type: ignore[import-not-found,unused-ignore]
from os_session import adapter_options, connect  # type: ignore[import-not-found,unused-ignore]

MEMBER_ROLE = "member"
QUOTAS = {"instances": -1, "cores": -1, "ram": -1}
PLACEMENT_VERSION = "1.26"
# Allocation ratios are raised to leave this much room above what the target needs.
HEADROOM = 2.0
RESOURCES = {"VCPU": "vcpus", "MEMORY_MB": "ram", "DISK_GB": "disk"}


def log(message: str) -> None:
    print(f"[scale-seed {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ensure_projects(conn: Any, prefix: str, count: int) -> list[Any]:
    """``PREFIX-01`` .. ``PREFIX-NN``, each with the admin user as member and no compute
    quota limits."""
    identity = conn.identity
    user_id = conn.current_user_id
    role = identity.find_role(MEMBER_ROLE, ignore_missing=False)
    existing = {p.name: p for p in identity.projects(domain_id="default")}
    out = []
    for i in range(1, count + 1):
        name = f"{prefix}-{i:02d}"
        project = existing.get(name)
        if project is None:
            project = identity.create_project(
                name=name, domain_id="default", description="benchmark project"
            )
        identity.assign_project_role_to_user(project, user_id, role)
        response = conn.compute.put(
            f"/os-quota-sets/{project.id}", json={"quota_set": QUOTAS}, raise_exc=False
        )
        if response.status_code != 200:
            raise SystemExit(f"quota of {name}: HTTP {response.status_code} {response.text[:200]}")
        out.append(project)
    return out


def project_connection(project_id: str) -> Any:
    """A connection scoped to ``project_id`` with the admin user's credentials: servers
    created through it belong to that project."""
    auth = v3.Password(
        auth_url=os.environ["OS_AUTH_URL"],
        username=os.environ["OS_USERNAME"],
        password=os.environ["OS_PASSWORD"],
        project_id=project_id,
        user_domain_name=os.environ.get("OS_USER_DOMAIN_NAME", "Default"),
    )
    session = ks_session.Session(auth=auth, timeout=120)
    return openstack.connection.Connection(session=session, api_timeout=120, **adapter_options())


def servers_by_project(conn: Any, project_ids: set[str]) -> dict[str, Counter[str]]:
    """Status counts of the servers of each bench project (one paginated listing)."""
    counts: dict[str, Counter[str]] = {p: Counter() for p in project_ids}
    for server in conn.compute.servers(details=True, all_projects=True, limit=1000):
        if server.project_id in counts:
            counts[server.project_id][server.status] += 1
    return counts


def delete_errors(conn: Any, project_ids: set[str], timeout: float) -> int:
    doomed = [
        s
        for s in conn.compute.servers(details=True, all_projects=True, status="ERROR", limit=1000)
        if s.project_id in project_ids
    ]
    for server in doomed:
        conn.compute.delete_server(server, force=True)
    for server in doomed:
        conn.compute.wait_for_delete(server, wait=timeout)
    return len(doomed)


def plan(projects: list[Any], have: dict[str, Counter[str]], total: int, chunk: int) -> list[Any]:
    """(project, k) create requests that bring each project to its share of ``total``."""
    base, extra = divmod(total, len(projects))
    requests = []
    for i, project in enumerate(projects):
        share = base + (1 if i < extra else 0)
        counts = have[project.id]
        missing = share - counts["ACTIVE"] - counts["BUILD"]
        while missing > 0:
            k = min(chunk, missing)
            requests.append((project, k))
            missing -= k
    return requests


def ensure_capacity(conn: Any, host: str, flavor: Any, new_servers: int) -> dict[str, Any]:
    """Raise the compute node's allocation ratios in Placement where its free capacity is
    short of ``new_servers`` of ``flavor`` (plus headroom): enough should the scheduler
    put them all on this node.

    Nova's ``*_allocation_ratio`` options are unset here, so the compute keeps a ratio set
    through Placement (it applies ``initial_*_allocation_ratio`` only to a new inventory).
    """
    placement = conn.placement
    opts = {"microversion": PLACEMENT_VERSION}
    found = placement.get("/resource_providers", params={"name": host}, **opts).json()
    providers = found["resource_providers"]
    if not providers:
        raise SystemExit(f"no resource provider named {host}")
    uuid = providers[0]["uuid"]
    body = placement.get(f"/resource_providers/{uuid}/inventories", **opts).json()
    usages = placement.get(f"/resource_providers/{uuid}/usages", **opts).json()["usages"]
    inventories = body["inventories"]
    changed: dict[str, dict[str, float]] = {}
    for rc, attribute in RESOURCES.items():
        inv = inventories[rc]
        usable = inv["total"] - inv["reserved"]
        need = usages.get(rc, 0) + new_servers * int(getattr(flavor, attribute) or 0)
        if need <= usable * inv["allocation_ratio"]:
            continue
        ratio = float(math.ceil(need * HEADROOM / usable))
        changed[rc] = {"from": inv["allocation_ratio"], "to": ratio}
        inv["allocation_ratio"] = ratio
    if changed:
        put = {"resource_provider_generation": body["resource_provider_generation"]}
        put["inventories"] = inventories
        response = placement.put(
            f"/resource_providers/{uuid}/inventories", json=put, raise_exc=False, **opts
        )
        if response.status_code != 200:
            raise SystemExit(f"placement inventory update: {response.status_code} {response.text}")
        log(f"allocation ratios raised: {changed}")
    return {
        "provider": uuid,
        "changed": changed,
        "ratios": {rc: inventories[rc]["allocation_ratio"] for rc in RESOURCES},
    }


def building(conn: Any) -> int:
    """Servers of every project still in BUILD (a filtered, non-detailed listing)."""
    return sum(1 for _ in conn.compute.servers(details=False, all_projects=True, status="BUILD"))


def boot(
    conn: Any, requests: list[Any], spec: dict[str, Any], flavor: Any, deadline: float
) -> list[dict[str, Any]]:
    """Send the create requests, holding each back while ``window`` or more servers build;
    then wait until nothing builds."""
    connections: dict[str, Any] = {}
    sent: list[dict[str, Any]] = []
    for n, (project, k) in enumerate(requests, 1):
        while (now_building := building(conn)) + k > max(spec["window"], k):
            if time.monotonic() > deadline:
                raise SystemExit(f"still {now_building} servers building at the deadline")
            time.sleep(1.0)
        if project.id not in connections:
            connections[project.id] = project_connection(project.id)
        began = time.monotonic()
        connections[project.id].compute.create_server(
            name=f"{project.name}-r{n}",
            image_id=spec["image_id"],
            flavor_id=flavor.id,
            networks="none",
            min_count=k,
            max_count=k,
        )
        sent.append({"project": project.name, "servers": k, "seconds": time.monotonic() - began})
        log(f"request {n}/{len(requests)}: {k} servers in {project.name}")
    while (left := building(conn)) > 0:
        if time.monotonic() > deadline:
            raise SystemExit(f"still {left} servers building at the deadline")
        time.sleep(1.0)
    return sent


def main() -> None:
    spec: dict[str, Any] = json.loads(sys.argv[1])
    began = time.monotonic()
    deadline = began + spec["timeout"]
    conn = connect()
    flavor = ensure_flavor(conn, spec["flavor"])
    for host in spec["hosts"]:
        wait_host(conn, host, min(spec["timeout"], 180))
    projects = ensure_projects(conn, spec["prefix"], spec["projects"])
    ids = {p.id for p in projects}
    setup_s = time.monotonic() - began
    deleted = delete_errors(conn, ids, spec["timeout"])
    before = servers_by_project(conn, ids)
    requests = plan(projects, before, spec["servers"], spec["chunk"])
    new = sum(k for _, k in requests)
    capacity = {host: ensure_capacity(conn, host, flavor, new) for host in spec["hosts"]}
    log(f"{new} servers to boot in {len(requests)} requests")
    boot_began = time.monotonic()
    sent = boot(conn, requests, spec, flavor, deadline)
    boot_s = time.monotonic() - boot_began
    after = servers_by_project(conn, ids)
    status: Counter[str] = Counter()
    for counts in after.values():
        status.update(counts)
    faults = Counter(
        str((s.fault or {}).get("message", ""))
        for s in conn.compute.servers(details=True, all_projects=True, status="ERROR")
        if s.project_id in ids
    )
    print(
        json.dumps(
            {
                "projects": len(projects),
                "target": spec["servers"],
                "active_before": sum(c["ACTIVE"] for c in before.values()),
                "errors_deleted": deleted,
                "requested": new,
                "requests": sent,
                "status": dict(status),
                "active": status["ACTIVE"],
                "error": status["ERROR"],
                "faults": dict(faults.most_common(5)),
                "capacity": capacity,
                "flavor": {"name": flavor.name, "vcpus": flavor.vcpus, "ram": flavor.ram},
                "setup_s": round(setup_s, 2),
                "boot_s": round(boot_s, 2),
                "total_s": round(time.monotonic() - began, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
