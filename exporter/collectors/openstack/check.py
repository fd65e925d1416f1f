"""``check`` for the openstack collector: per cloud, Keystone first, then per catalog service
its unauthenticated probe, its authenticated checks (the health cycle's own calls), and
whether the role suffices for the inventory calls that need more than a member role.

Each cloud's calls run side by side under the health cycle's deadline, each bounded by
``api_timeout``, so a hanging API costs one FAIL line, not a hung command.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from exporter.collectors.openstack.catalog import Endpoint, endpoints
from exporter.collectors.openstack.config import CloudConfig, OpenStackConfig
from exporter.collectors.openstack.families import Scope
from exporter.collectors.openstack.health import (
    DEADLINE_SHARE,
    ServiceCall,
    authenticate,
    service_calls,
)
from exporter.collectors.openstack.inventory import cinder, nova
from exporter.collectors.openstack.inventory.common import projects
from exporter.collectors.openstack.session import CloudSession, Connect
from exporter.collectors.openstack.tasks import Calls, Outcome
from exporter.collectors.plugin import CheckResult
from otb_common.cloud import CloudError, cloud_errors, connect, describe

AdminCall = Callable[[CloudSession], Any]


def _other_project(session: CloudSession) -> str:
    """A project not the session's own, where one exists: the per-project inventory calls
    read every project, and a member may read only its own."""
    own = str(session.connection().current_project_id)
    listed = projects(session)
    return next((str(p.id) for p in listed if p.id != own), own)


def _servers(session: CloudSession) -> None:
    next(iter(nova.every_server(session.proxy("compute"), page=1)), None)


def _hypervisors(session: CloudSession) -> None:
    nova.hypervisor_page(session.proxy("compute"), {"limit": 1})


def _nova_limits(session: CloudSession) -> None:
    nova.project_limits(session.proxy("compute"), _other_project(session))


def _cinder_pools(session: CloudSession) -> None:
    cinder.backend_pools(session.proxy("block_storage"))


def _cinder_limits(session: CloudSession) -> None:
    cinder.quota_set(session.proxy("block_storage"), _other_project(session))


def _projects(session: CloudSession) -> None:
    projects(session)


# Inventory part -> (catalog types of which one must be present, its call that a member role
# is refused). The other parts read what a member may read.
ADMIN_CALLS: dict[str, tuple[tuple[str, ...], AdminCall]] = {
    "servers": (("compute",), _servers),
    "hypervisors": (("compute",), _hypervisors),
    "nova_limits": (("compute",), _nova_limits),
    "cinder_pools": (cinder.TYPES, _cinder_pools),
    "cinder_limits": (cinder.TYPES, _cinder_limits),
    "identity": (("identity",), _projects),
}


def check(name: str, config: OpenStackConfig, connector: Connect = connect) -> list[CheckResult]:
    """Every cloud's lines, clouds side by side, in the configured order."""
    if not config.clouds:
        return [CheckResult(name, "-", False, "no cloud configured")]
    with ThreadPoolExecutor(len(config.clouds), thread_name_prefix="check-cloud") as pool:
        per_cloud = list(pool.map(partial(check_cloud, name, connector=connector), config.clouds))
    return [result for results in per_cloud for result in results]


def check_cloud(name: str, cfg: CloudConfig, connector: Connect = connect) -> list[CheckResult]:
    session = CloudSession(cfg, connector)
    try:
        return _check_cloud(name, session)
    finally:
        session.close()


def _check_cloud(name: str, session: CloudSession) -> list[CheckResult]:
    cfg = session.config
    label = cfg.label
    try:
        session.connection()  # clouds.yaml only, no request yet
    except CloudError as exc:
        return [CheckResult(name, label, False, f"keystone: {exc}")]
    except cloud_errors() as exc:
        return [CheckResult(name, label, False, f"keystone: {describe(exc)}")]
    calls = Calls()
    share = cfg.health.timeout * DEADLINE_SHARE
    auth = calls.run({"auth": partial(authenticate, session)}, time.monotonic() + share)["auth"]
    if not auth.ok:
        return [CheckResult(name, label, False, f"keystone: {auth.error}")]
    catalog, region, interface, token = auth.value
    eps = endpoints(catalog, region or None, interface, cfg.skip_services)
    where = f"region {region or '(any)'}, interface {interface}"
    if not eps:
        return [CheckResult(name, label, False, f"keystone: the catalog has no endpoint ({where})")]
    head = CheckResult(
        name, label, True, f"keystone: authenticated; {len(eps)} services in the catalog ({where})"
    )
    health = service_calls(session, Scope(cfg.cloud, region), eps, token)
    admin = _admin_calls(session, eps)
    todo: dict[str, Callable[[], Any]] = {key: call.fn for key, call in health.items()}
    todo.update({f"admin:{part}": fn for part, (_, fn) in admin.items()})
    outcomes = calls.run(todo, time.monotonic() + share)
    lines = [head]
    for ep in eps:
        target = f"{label}/{ep.service_type}"
        for key, call in health.items():
            if call.service_type == ep.service_type:
                ok, detail = _health_line(call, ep, outcomes[key])
                lines.append(CheckResult(name, target, ok, detail))
        for part, (kind, _) in admin.items():
            if kind == ep.service_type:
                outcome = outcomes[f"admin:{part}"]
                said = "the role suffices" if outcome.ok else outcome.error
                lines.append(CheckResult(name, target, outcome.ok, f"{part} (inventory): {said}"))
    return lines


def _admin_calls(
    session: CloudSession, eps: Sequence[Endpoint]
) -> dict[str, tuple[str, Callable[[], Any]]]:
    """The inventory's member-refused calls that this configuration makes, with the catalog
    type each speaks for."""
    cfg = session.config
    if not cfg.inventory_enabled:
        return {}
    present = [ep.service_type for ep in eps]
    out: dict[str, tuple[str, Callable[[], Any]]] = {}
    for part, (types, fn) in ADMIN_CALLS.items():
        kind = next((t for t in types if t in present), None)
        if kind is not None and cfg.runs(part):
            out[part] = (kind, partial(fn, session))
    return out


def _health_line(call: ServiceCall, ep: Endpoint, outcome: Outcome) -> tuple[bool, str]:
    if call.kind == "probe":
        if not outcome.ok:
            return False, f"probe {ep.probe_url}: {outcome.error}"
        code = int(outcome.value)
        return 200 <= code < 400, f"probe {ep.probe_url}: HTTP {code} without a token"
    error = outcome.error or getattr(outcome.value, "error", None)
    return error is None, f"{call.name}: {error or 'answered'}"
