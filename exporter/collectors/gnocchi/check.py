"""``check`` for the gnocchi collector: can it reach Gnocchi, read the backlog (admin role),
and what would a cycle read (the groups discovery finds, and each configured meter it cannot
read, by name)."""

from __future__ import annotations

import time
from collections.abc import Callable

from exporter.collectors.gnocchi.client import GnocchiClient
from exporter.collectors.gnocchi.config import GnocchiConfig
from exporter.collectors.gnocchi.errors import explain, gnocchi_errors
from exporter.collectors.gnocchi.plan import Plan, discover
from exporter.collectors.gnocchi.plugin import session_for
from exporter.collectors.openstack.tasks import Calls
from exporter.collectors.plugin import CheckResult
from otb_common.cloud import CloudError


def check(collector: str, config: GnocchiConfig) -> list[CheckResult]:
    target = f"{config.label}/gnocchi"
    try:
        session = session_for(config)
    except CloudError as exc:
        return [CheckResult(collector, target, ok=False, detail=str(exc))]
    client = GnocchiClient(session)
    calls = Calls(gnocchi_errors, explain)
    deadline = time.monotonic() + config.schedule.timeout
    try:
        wanted: dict[str, Callable[[], object]] = {"discovery": lambda: discover(client, config)}
        if config.status:
            wanted["status"] = client.status
        outcomes = calls.run(wanted, deadline)
    finally:
        session.close()
    found = outcomes["discovery"]
    results = []
    if config.status:
        status = outcomes["status"]
        results.append(
            CheckResult(
                collector, f"{target} status", status.ok, status.error or "backlog readable"
            )
        )
    if not found.ok:
        results.append(CheckResult(collector, f"{target} measures", False, found.error or ""))
        return results
    plan: Plan = found.value
    meters = sum(len(g.series) for g in plan.groups)
    results.append(
        CheckResult(
            collector,
            f"{target} measures",
            True,
            f"{len(plan.groups)} aggregates requests per cycle for {meters} meters",
        )
    )
    results.extend(
        CheckResult(collector, f"{target} meter", False, problem) for problem in plan.problems
    )
    return results
