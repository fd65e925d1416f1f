"""Every dashboard query returns data on the real stack, and the fault panels during faults.

The whole stack of demo/stack.py runs on the session's testbed in fast mode (5 s scrapes,
cycles and evaluations; every ``for`` of the rules shortened): both exporters, the bridge with
an Aodh alarm of its own firing into both Alertmanagers, and a Prometheus scraping them all.
Grafana cannot run here, so tests/support/grafana.py does its part: every dashboard of
dashboards/json/ has its variables resolved and its targets interpolated as Grafana's
Prometheus datasource does, then run over the dashboard's default time range.

- Healthy: every query variable has values and every target returns at least one series,
  but the panels of dashboards/faults.py, which draw only during their fault.
- Faults, all three at once (each takes its own time to show, so they overlap): a Neutron
  agent stopped, Gnocchi's API frozen, one Alertmanager stopped. Each fault's panels return
  series, and the rules of the project's rule pack that read the fault's signal fire. Every
  fault is undone before the test ends, whatever happened: the session's testbed is shared.
- Every metric name a dashboard or a rule reads is one the stack's programs expose (read from
  Prometheus, which holds what it scraped), Prometheus's own and Alertmanager's aside.

A few families of the exporter cannot exist on this stack (``ABSENT_HERE``, each with its
reason: libvirt's test driver, the testbed's Neutron without routers, Cinder's fake driver);
a query on them may return nothing, and is shown so in the table.

Each test prints its table (dashboard, panel, refId, series): pytest shows it when the test
fails, or always with ``-rA``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from dashboards.faults import FAULT_PANELS
from demo.stack import DASHBOARDS, REPO, Stack, rule_files
from testbed import faults
from testbed.bed import Bed
from testbed.services import prometheus as prometheus_service
from tests.support import grafana
from tests.support.central import running_again
from tests.support.libvirtd import PrivateLibvirtd
from tests.support.servers import require
from tests.support.testbed import Testbed

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

NEEDS = ("nova", "server", "neutron", "cinder", "glance", "placement", "heat", "aodh")
PARALLEL = 8
WARM_UP = 150.0
"""Until every healthy query has data: a rate needs two scrapes in its window, the bridge its
alarm fired, the central exporter its first inventory and Gnocchi cycles. A panel with a
minimum interval of 1 minute (Gnocchi's series) is queried with a 1-minute step aligned on
the clock, as Grafana does: its first point with data can be up to a minute away."""
FAULT_WITHIN = 120.0
"""Neutron reports an agent dead 20-25 s after its last report; then a health cycle, a scrape
and the shortened ``for`` of the rules (5 s each)."""

# Families our programs export that this stack cannot have, and why. A dashboard query or a
# rule on them returns nothing here, and their names are not in its Prometheus.
ABSENT_HERE = {
    **dict.fromkeys(
        (
            "openstack_neutron_routers",
            "openstack_neutron_routers_not_active",
            "openstack_neutron_l3_agent_of_router",
        ),
        "the testbed's Neutron runs without the L3 service plug-in",
    ),
    **dict.fromkeys(
        ("openstack_cinder_pool_capacity_free_gb", "openstack_cinder_pool_capacity_total_gb"),
        "Cinder's fake volume driver reports no pools",
    ),
    "openstack_gnocchi_status_metricd_processors": (
        "the testbed's Gnocchi coordinator cannot list its members"
    ),
}
# What Prometheus and Alertmanager expose about themselves and their rules.
SELF_NAMES = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
SELF_PREFIXES = ("scrape_", "prometheus_", "alertmanager_")


@dataclass(frozen=True)
class Fault:
    """How one fault is caused and undone on the testbed, and the signal its rules read."""

    name: str
    service: str
    process: str
    cause: Callable[[Bed, str, str], object]
    signal: str
    labels: Mapping[str, str]
    """Labels a firing alert of this fault has (regexes), when the alert has the label."""
    evidence: str
    """A query with a series while the fault shows in the stack's series."""


def _faults(stack: Stack) -> list[Fault]:
    stopped = stack.alertmanagers[1]
    return [
        Fault(
            "agent_down",
            "neutron",
            "neutron-ovs-agent",
            faults.stop,
            "openstack_neutron_agent_state",
            {"service": "neutron-openvswitch-agent"},
            'openstack_neutron_agent_state{service="neutron-openvswitch-agent"} == 0',
        ),
        Fault(
            "collector_failing",
            "gnocchi",
            "gnocchi-api",
            faults.freeze,
            "openstack_exporter_collector_success",
            {"collector": "gnocchi:.*"},
            'openstack_exporter_collector_success{collector=~"gnocchi:.*"} == 0',
        ),
        Fault(
            "alertmanager_down",
            "alertmanager",
            "alertmanager-2",
            faults.stop,
            "aodh_bridge_alertmanager_up",
            {"alertmanager": re.escape(stopped)},
            f'aodh_bridge_queue_alerts{{alertmanager="{stopped}"}} > 0',
        ),
    ]


def _rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in rule_files()
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def alerts_reading(signal: str) -> set[str]:
    """The alerting rules of the pack whose expression reads ``signal``."""
    return {
        rule["alert"]
        for rule in _rules()
        if "alert" in rule and signal in grafana.metric_names(str(rule["expr"])).literal
    }


# -- the stack ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(
    testbed: Testbed,
    libvirtd_session: PrivateLibvirtd,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    binary = prometheus_service.BINARY
    require(os.access(binary, os.X_OK), f"{binary} missing (Debian package prometheus)")
    bed = testbed.need(*NEEDS, "alertmanager").bed
    began = time.monotonic()
    # A second hypervisor with real QEMU guests: vCPU delay, wait and block times exist only
    # there (libvirt's test driver has none); the session's private libvirtd, running.
    libvirtd_session.ensure_running()
    handle = Stack(
        bed, tmp_path_factory.mktemp("stack"), fast=True, libvirt_uris=[libvirtd_session.ro_uri]
    )
    handle.up()
    print(f"stack up in {time.monotonic() - began:.1f}s")
    try:
        yield handle
    finally:
        handle.down()


@pytest.fixture(scope="module")
def source(stack: Stack) -> grafana.Prometheus:
    return grafana.Prometheus(stack.prometheus_url)


def resolver(stack: Stack, source: grafana.Prometheus) -> grafana.Resolver:
    """Grafana as of now, its datasource's scrape interval the stack's."""
    return grafana.Resolver(source, scrape=stack.interval_seconds, now=time.time())


# -- running queries ----------------------------------------------------------------------

Key = tuple[str, str, str, bool]


def _key(target: grafana.Target) -> Key:
    return (target.uid, target.panel, target.ref_id, target.instant)


def _run(source: grafana.Source, target: grafana.Target) -> grafana.Outcome:
    outcome = grafana.Outcome(target)
    try:
        outcome.series = target.run(source)
    except grafana.QueryError as exc:
        outcome.error = str(exc)
    absent = sorted(grafana.metric_names(target.expr).literal & ABSENT_HERE.keys())
    if not outcome.series and not outcome.error and absent:
        outcome.note = f" (absent here: {ABSENT_HERE[absent[0]]})"
    return outcome


def _done_before(result: Pass, target: grafana.Target) -> bool:
    """Whether an earlier round got ``target`` its answer: series, an error or a known
    absence."""
    outcome = result.outcomes.get(_key(target))
    return outcome is not None and bool(outcome.series or outcome.error or outcome.note)


@dataclass
class Pass:
    """Every target of every dashboard, run until each has data (or the deadline)."""

    variables: dict[str, dict[str, grafana.Variable]]
    outcomes: dict[Key, grafana.Outcome]

    def table(self, title: str) -> str:
        return grafana.table(list(self.outcomes.values()), title)

    def empty(self) -> list[grafana.Outcome]:
        return [o for o in self.outcomes.values() if not o.series and not o.error and not o.note]

    def errors(self) -> list[grafana.Outcome]:
        return [o for o in self.outcomes.values() if o.error]

    def empty_variables(self) -> list[str]:
        return [
            f"{uid} ${name}: {v.query}"
            for uid, found in self.variables.items()
            for name, v in found.items()
            if v.kind == "query" and not v.options
        ]


def until_data(
    stack: Stack,
    source: grafana.Prometheus,
    wanted: Callable[[grafana.Target], bool],
    timeout: float,
    done: Callable[[], bool] = lambda: True,
) -> Pass:
    """Resolve and run the ``wanted`` targets of every dashboard again (with the time moving
    on) until each has data and ``done()`` holds, or ``timeout``; queries run in parallel."""
    dashboards = grafana.load(DASHBOARDS)
    assert dashboards, f"no dashboard in {DASHBOARDS}"
    began = time.monotonic()
    deadline = began + timeout
    result = Pass({}, {})
    with ThreadPoolExecutor(PARALLEL, thread_name_prefix="query") as pool:
        while True:
            grafana_now = resolver(stack, source)
            for dashboard in dashboards:
                variables = grafana_now.variables(dashboard)
                result.variables[dashboard.uid] = variables
                targets = [t for t in grafana_now.targets(dashboard, variables) if wanted(t)]
                pending = [t for t in targets if not _done_before(result, t)]
                for outcome in pool.map(lambda t: _run(source, t), pending):
                    outcome.seconds = time.monotonic() - began
                    result.outcomes[_key(outcome.target)] = outcome
            others = done()  # every round, so that what it follows is seen as it comes
            finished = others and not result.empty() and not result.empty_variables()
            if finished or time.monotonic() > deadline:
                return result
            time.sleep(stack.interval_seconds / 2)


# -- the tests ----------------------------------------------------------------------------


def test_every_variable_and_panel_has_data_on_the_healthy_stack(
    stack: Stack, source: grafana.Prometheus
) -> None:
    began = time.monotonic()
    panels = dict(FAULT_PANELS)
    result = until_data(stack, source, lambda t: t.key not in panels, WARM_UP)
    print(result.table(f"healthy stack, {time.monotonic() - began:.0f}s after it was up"))
    failures = [f"{o.target.uid} / {o.target.panel}: {o.error}" for o in result.errors()]
    failures += [
        f"{o.target.uid} / {o.target.panel} ({o.target.ref_id}): no series from {o.target.expr}"
        for o in result.empty()
    ]
    failures += [f"variable without values: {v}" for v in result.empty_variables()]
    rules = [r for g in source.get("rules", [])["groups"] for r in g["rules"]]
    failures += [f"rule {r['name']}: {r.get('lastError')}" for r in rules if r["health"] == "err"]
    if len(rules) != len(_rules()):
        failures.append(f"Prometheus loaded {len(rules)} rules of the pack's {len(_rules())}")
    assert not failures, "\n".join(failures)
    assert len(result.outcomes) > 0


def _firing(source: grafana.Prometheus, fault: Fault, names: set[str]) -> list[dict[str, Any]]:
    """The firing alerts among ``names`` whose labels fit the fault."""
    alerts: list[dict[str, Any]] = source.get("alerts", [])["alerts"]
    found = []
    for alert in alerts:
        labels = alert["labels"]
        if alert["state"] != "firing" or labels.get("alertname") not in names:
            continue
        if all(re.fullmatch(want, labels[k]) for k, want in fault.labels.items() if k in labels):
            found.append(alert)
    return found


def _undo(bed: Bed, caused: list[Fault]) -> list[str]:
    """Every fault undone (each tried, whatever the others do); what could not be."""
    failed = []
    for fault in caused:
        try:
            running_again(bed, fault.service, fault.process)
        except (AssertionError, OSError, KeyError, RuntimeError) as exc:
            failed.append(f"{fault.service}/{fault.process}: {exc}")
    return failed


def test_fault_panels_show_their_faults_and_the_rules_fire(
    stack: Stack, source: grafana.Prometheus, testbed: Testbed
) -> None:
    bed = testbed.bed
    panels = dict(FAULT_PANELS)
    causes = {f.name: f for f in _faults(stack)}
    assert set(panels.values()) <= set(causes), panels
    expected = {f.name: alerts_reading(f.signal) for f in causes.values()}
    fired: dict[str, list[str]] = {}
    seen: dict[str, float] = {}

    def shown_and_fired() -> bool:
        for fault in causes.values():
            if fault.name not in seen and source.instant(fault.evidence, time.time())["result"]:
                seen[fault.name] = time.monotonic() - began
            if expected[fault.name] and fault.name not in fired:
                alerts = _firing(source, fault, expected[fault.name])
                if alerts:
                    fired[fault.name] = sorted({a["labels"]["alertname"] for a in alerts})
        return len(seen) == len(causes) and all(
            fired.get(n) or not names for n, names in expected.items()
        )

    began = time.monotonic()
    try:
        for fault in causes.values():
            fault.cause(bed, fault.service, fault.process)
        result = until_data(
            stack, source, lambda t: t.key in panels, FAULT_WITHIN, done=shown_and_fired
        )
        seconds = time.monotonic() - began
    finally:
        undone = _undo(bed, list(causes.values()))
    assert not undone, f"not running again after the test: {undone}"
    print(result.table(f"during the faults ({seconds:.0f}s; all undone after)"))
    for fault in causes.values():
        after = f"{seen[fault.name]:.0f}s" if fault.name in seen else "never"
        names = sorted(expected[fault.name]) or "none"
        shown = f"{fault.name}: {fault.evidence} after {after}; rules {names}"
        print(f"{shown}, fired {fired.get(fault.name, [])}")
    failures = [f"{o.target.uid} / {o.target.panel}: {o.error}" for o in result.errors()]
    failures += [
        f"{panels[o.target.key]}: {o.target.uid} / {o.target.panel} ({o.target.ref_id}) "
        f"shows nothing: {o.target.expr}"
        for o in result.empty()
    ]
    failures += [
        f"{f.name}: never seen, {f.evidence}" for f in causes.values() if f.name not in seen
    ]
    failures += [
        f"{name}: none of {sorted(names)} fired"
        for name, names in expected.items()
        if names and not fired.get(name)
    ]
    failures += [f"{name}: no rule reads its signal" for name, n in expected.items() if not n]
    assert not failures, "\n".join(failures)
    checked = {panels[o.target.key] for o in result.outcomes.values()}
    assert checked == set(panels.values()), "a fault's panels ran no query"


def _names_read(source: grafana.Prometheus, stack: Stack) -> dict[str, set[str]]:
    """Every metric name (and ``__name__`` regex, as ``~regex``) read by a dashboard or a
    rule, with where it is read."""
    where: dict[str, set[str]] = {}

    def add(expr: str, place: str) -> None:
        names = grafana.metric_names(expr)
        for name in names.literal | {f"~{p}" for p in names.patterns}:
            where.setdefault(name, set()).add(place)

    grafana_now = resolver(stack, source)
    for dashboard in grafana.load(DASHBOARDS):
        variables = grafana_now.variables(dashboard)
        for variable in variables.values():
            for expr in grafana.variable_exprs(variable):
                add(expr, f"{dashboard.uid} ${variable.name}")
        for target in grafana_now.targets(dashboard, variables):
            add(target.expr, f"{dashboard.uid} / {target.panel}")
    for rule in _rules():
        add(str(rule["expr"]), f"rule {rule.get('alert') or rule.get('record')}")
    return where


def test_every_metric_read_is_exposed_by_the_stack(
    stack: Stack, source: grafana.Prometheus
) -> None:
    sources = "\n".join(p.read_text() for p in (REPO / "exporter").glob("**/*.py"))
    undeclared = [name for name in ABSENT_HERE if f'"{name}"' not in sources]
    assert not undeclared, f"not families of the exporter: {undeclared}"
    live = set(source.names())
    read = _names_read(source, stack)

    def exposed(name: str) -> bool:
        if name.startswith("~"):
            pattern = grafana.js_regex(f"^(?:{name[1:]})$")
            return any(pattern.match(n) for n in live)
        return name in live or name in SELF_NAMES or name.startswith(SELF_PREFIXES)

    missing = {
        name: sorted(places)
        for name, places in sorted(read.items())
        if not exposed(name) and name not in ABSENT_HERE
    }
    print(f"{len(read)} names read, {len(live)} in Prometheus")
    assert not missing, "\n".join(f"{n}: read by {', '.join(p)}" for n, p in missing.items())
