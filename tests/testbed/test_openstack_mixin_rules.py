"""openstack-mixin's alert rules work unchanged on the exporter's series, in a real Prometheus.

The rules (tests/fixtures/openstack_mixin_alerts.yml) are loaded, every ``for`` and
``keep_firing_for`` shortened, into a private Prometheus that scrapes the exporter's openstack
collector on the testbed every 2 s and evaluates every 2 s. On a healthy testbed nothing is
pending or firing; with Glance stopped ``OpenStackGlanceIsDown`` fires, and with Nova's
compute frozen and Neutron's OVS agent and Cinder's volume service stopped the three agent
rules fire, each naming its service and host. Every test puts back what it broke and waits
until Prometheus sees the testbed healthy again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from demo.stack import shortened
from testbed import faults
from tests.support.exporter import REPO, ExporterProcess, run_exporter
from tests.support.prometheus import Prometheus, private_prometheus, scraping
from tests.support.promtool import promtool
from tests.support.testbed import Testbed, poll, running_again

RULES = REPO / "tests" / "fixtures" / "openstack_mixin_alerts.yml"
SHORT = "10s"
"""Every ``for`` and ``keep_firing_for`` of the copy Prometheus loads. Prometheus 2.42 (Debian
12) knows ``keep_firing_for`` (new in 2.42.0; its promtool refuses unknown keys and accepts
this one), so the copy keeps it, shortened."""
EVERY = "2s"
"""Scrape and evaluation interval of the private Prometheus."""
JOB = "openstack-telemetry-central"
SERVICES = ("nova", "neutron", "cinder", "glance", "placement", "heat", "server")
APIS = ("glance", "heat", "identity", "placement", "nova", "neutron", "cinder")
"""The services whose ``openstack_<name>_up`` the rules read."""

QUIET_EVALUATIONS = 8
"""Evaluations of every group watched on a healthy testbed: more than a shortened ``for``
(5 evaluations of 2 s) needs to turn a pending alert into a firing one."""
FIRE_WITHIN = 180.0
"""Agents are reported down 20-25 s after their last report; then a health cycle, a scrape and
the shortened ``for``. Generous, for a loaded machine."""
RECOVER_WITHIN = 180.0
EVIDENCE = (
    '{__name__=~"openstack_(nova|neutron|cinder)_agent_state|openstack_[a-z]+_up'
    '|openstack_exporter_collector_success"}'
)

# The rules' families that the testbed cannot have, and why: its Neutron runs without the L3
# service plug-in (no routers, no L3 agents), and Cinder's fake volume driver reports no pools.
# The rules reading them stay quiet for want of data; every other family must be there.
ABSENT_ON_TESTBED = frozenset(
    {
        "openstack_neutron_routers",
        "openstack_neutron_routers_not_active",
        "openstack_neutron_l3_agent_of_router",
        "openstack_cinder_pool_capacity_total_gb",
        "openstack_cinder_pool_capacity_free_gb",
    }
)

# openstack-mixin's groups and alerts (anchor-metrics.md, section 3.1); two thresholds make two
# rules of the same name.
MIXIN = {
    "openstack-alerts": [
        "OpenStackGlanceIsDown",
        "OpenStackHeatIsDown",
        "OpenStackIdentityIsDown",
        "OpenStackPlacementIsDown",
        *["OpenStackPlacementHighMemoryUsage"] * 2,
        *["OpenStackPlacementHighVCPUUsage"] * 2,
        *["OpenStackNeutronHighIPsUsage"] * 2,
    ],
    "openstack-nova-alerts": [
        "OpenStackNovaIsDown",
        "OpenStackNovaAgentIsDown",
        "OpenStackNovaHighVMMemoryUsage",
        "OpenStackNovaHighVMVCPUUsage",
        "OpenStackNovaTooManyVMsNotRunning",
    ],
    "openstack-neutron-alerts": [
        "OpenStackNeutronIsDown",
        "OpenStackNeutronAgentIsDown",
        "OpenStackNeutronL3AgentIsDown",
        "OpenStackNeutronHighDisconnectedPortRate",
        "OpenStackNeutronHighInactiveRouterRate",
    ],
    "openstack-cinder-alerts": [
        "OpenStackCinderIsDown",
        "OpenStackCinderAgentIsDown",
        "OpenStackCinderHighPoolCapacityUsage",
        "OpenStackCinderHighVolumeMemoryUsage",
        "OpenStackCinderHighBackupMemoryUsage",
    ],
}
ALERT_NAMES = frozenset(name for names in MIXIN.values() for name in names)

# Each agent fault: the testbed process, how it is put out of service (nova-compute is frozen:
# restarted, the fake virt driver would forget the server), the alert and the service label.
AGENT_FAULTS = (
    ("nova", "nova-compute", faults.freeze, "OpenStackNovaAgentIsDown", "nova-compute"),
    (
        "neutron",
        "neutron-ovs-agent",
        faults.stop,
        "OpenStackNeutronAgentIsDown",
        "neutron-openvswitch-agent",
    ),
    ("cinder", "cinder-volume", faults.stop, "OpenStackCinderAgentIsDown", "cinder-volume"),
)


def _rules_file(path: Path) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(path.read_text())["groups"]
    return groups


# --- the fixture itself (no server but promtool) ---


def test_fixture_passes_promtool() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 25 rules found" in checked.stdout


def test_fixture_has_every_group_and_alert_of_the_mixin() -> None:
    groups = _rules_file(RULES)
    assert {g["name"]: [r["alert"] for r in g["rules"]] for g in groups} == MIXIN
    for group in groups:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
            assert rule["for"] in ("5m", "10m", "15m"), rule["alert"]


def test_shortened_copy_passes_promtool(tmp_path: Path) -> None:
    copy = shortened(RULES, tmp_path / "short.yml", SHORT)
    checked = promtool("check", "rules", str(copy))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = [r for g in _rules_file(copy) for r in g["rules"]]
    assert {r["for"] for r in rules} == {SHORT}
    kept = [r["keep_firing_for"] for r in rules if "keep_firing_for" in r]
    assert kept == [SHORT] * 6


# --- the rules on the exporter's series, on the testbed ---


@pytest.fixture(scope="module")
def bed(testbed: Testbed) -> Testbed:
    return testbed.need(*SERVICES)


@pytest.fixture(scope="module")
def exporter(bed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExporterProcess]:
    """The central exporter on the testbed's admin cloud, with a short health cycle."""
    config = tmp_path_factory.mktemp("exporter") / "exporter.yml"
    config.write_text(
        "collectors:\n  openstack:\n    health: {interval: 5s}\n    inventory: {interval: 15s}\n"
    )
    args = ["--no-collector.libvirt", "--collector.openstack", "--os-cloud", "testbed"]
    env = {"OS_CLIENT_CONFIG_FILE": str(bed.clouds_yaml)}
    with run_exporter([*args, "--config.file", str(config)], env=env, start_timeout=120) as exp:
        yield exp


@pytest.fixture(scope="module")
def prometheus(
    exporter: ExporterProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    base = tmp_path_factory.mktemp("prometheus")
    shortened(RULES, base / "openstack-mixin.yml", SHORT)
    config = scraping(exporter, job=JOB, interval=EVERY, rule_files=["openstack-mixin.yml"])
    with private_prometheus(base, config) as prom:
        poll("the exporter's series in Prometheus", lambda: prom.query("openstack_nova_up"))
        yield prom


def _active(prom: Prometheus) -> list[dict[str, Any]]:
    """The mixin's alerts that are pending or firing."""
    return [a for a in prom.alerts() if a["labels"].get("alertname") in ALERT_NAMES]


def _shown(alerts: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{a['state']} {a['labels']}" for a in alerts)


def _evidence(prom: Prometheus, exporter: ExporterProcess) -> str:
    """What Prometheus holds of the agents and cycles, and the exporter's last log lines: why
    a rule did or did not fire."""
    series = prom.query(EVIDENCE)
    shown = sorted(f"{s['metric'].pop('__name__')}{s['metric']} {s['value'][1]}" for s in series)
    return "\n".join(["in Prometheus:", *shown, "exporter log:", *exporter.log_lines[-30:]])


def _quiet(prom: Prometheus) -> None:
    """Wait until no alert of the mixin is pending or firing (what a test before may have left
    while the testbed came back)."""
    last: list[dict[str, Any]] = []

    def none_active() -> bool:
        last[:] = _active(prom)
        return not last

    try:
        poll("no mixin alert active", none_active, timeout=RECOVER_WITHIN)
    except pytest.fail.Exception:
        pytest.fail(f"still active: {_shown(last)}\n{prom.log()}", pytrace=False)


def _firing(prom: Prometheus, alertname: str, seen: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The firing alerts named ``alertname``; ``seen`` collects each alert's states in order,
    by alert name, as the polls find them."""
    found = []
    for alert in _active(prom):
        name = alert["labels"]["alertname"]
        states = seen.setdefault(name, [])
        if not states or states[-1] != alert["state"]:
            states.append(alert["state"])
        if name == alertname and alert["state"] == "firing":
            found.append(alert)
    return found


@pytest.mark.testbed
@pytest.mark.slow
def test_rules_read_the_exporters_families(prometheus: Prometheus) -> None:
    """Every family the rules select on is in Prometheus, but for what the testbed lacks."""
    exprs = [r["expr"] for g in _rules_file(RULES) for r in g["rules"]]
    names = {n for expr in exprs for n in re.findall(r"\bopenstack_[a-z0-9_]+", expr)}
    missing = sorted(n for n in names if not prometheus.query(f"count({n})"))
    assert set(missing) <= ABSENT_ON_TESTBED, missing
    for name in APIS:
        [series] = prometheus.query(f"openstack_{name}_up")
        assert series["metric"]["job"] == JOB
        assert (series["metric"]["cloud"], series["metric"]["region"]) == ("testbed", "RegionOne")


@pytest.mark.testbed
@pytest.mark.slow
def test_nothing_fires_on_a_healthy_testbed(
    exporter: ExporterProcess, prometheus: Prometheus
) -> None:
    up = f'{{__name__=~"openstack_({"|".join(APIS)})_up"}} == 1'
    poll(
        "every API reported up",
        lambda: len(prometheus.query(up)) == len(APIS),
        timeout=RECOVER_WITHIN,
    )
    start = prometheus.evaluations()
    assert sorted(start) == sorted(MIXIN)
    seen: list[dict[str, Any]] = []

    def watched() -> bool:
        seen.extend(_active(prometheus))
        done = prometheus.evaluations()
        return all(done[g] >= start[g] + QUIET_EVALUATIONS for g in start)

    poll(f"{QUIET_EVALUATIONS} evaluations of every group", watched, timeout=120)
    assert _shown(seen) == [], _evidence(prometheus, exporter)
    rules = prometheus.rules()
    failing = [(r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert failing == []
    assert sorted(r["name"] for r in rules) == sorted(n for names in MIXIN.values() for n in names)


@pytest.mark.testbed
@pytest.mark.slow
def test_glance_stopped_fires_glance_is_down(
    bed: Testbed, exporter: ExporterProcess, prometheus: Prometheus
) -> None:
    _quiet(prometheus)
    seen: dict[str, list[str]] = {}
    try:
        faults.stop(bed.bed, "glance")
        try:
            [alert] = poll(
                "OpenStackGlanceIsDown firing",
                lambda: _firing(prometheus, "OpenStackGlanceIsDown", seen),
                timeout=FIRE_WITHIN,
            )
        except pytest.fail.Exception:
            pytest.fail(f"not firing: {seen}\n{_evidence(prometheus, exporter)}", pytrace=False)
        others = _shown(
            [a for a in _active(prometheus) if a["labels"]["alertname"] != "OpenStackGlanceIsDown"]
        )
    finally:
        running_again(bed.bed, "glance")
    labels = alert["labels"]
    assert (labels["severity"], labels["job"], labels["cloud"], labels["region"]) == (
        "critical",
        JOB,
        "testbed",
        "RegionOne",
    )
    assert seen["OpenStackGlanceIsDown"] == ["pending", "firing"]
    # A stopped Glance is Glance's signal alone: no other API or agent rule is touched.
    assert others == []
    _quiet(prometheus)


@pytest.mark.testbed
@pytest.mark.slow
def test_agents_out_of_service_fire_the_agent_rules(
    bed: Testbed, exporter: ExporterProcess, prometheus: Prometheus
) -> None:
    _quiet(prometheus)
    seen: dict[str, list[str]] = {}
    fired: dict[str, dict[str, Any]] = {}

    def all_fired() -> bool:
        for _, _, _, alertname, service in AGENT_FAULTS:
            for alert in _firing(prometheus, alertname, seen):
                if alert["labels"].get("service") == service:
                    fired[alertname] = alert
        return len(fired) == len(AGENT_FAULTS)

    try:
        for service, process, fault, _, _ in AGENT_FAULTS:
            fault(bed.bed, service, process)
        try:
            poll("the three agent rules firing", all_fired, timeout=FIRE_WITHIN)
        except pytest.fail.Exception:
            pytest.fail(
                f"fired: {sorted(fired)}; states seen: {seen}\n{_evidence(prometheus, exporter)}",
                pytrace=False,
            )
        others = _shown([a for a in _active(prometheus) if a["labels"]["alertname"] not in fired])
    finally:
        for service, process, _, _, _ in AGENT_FAULTS:
            running_again(bed.bed, service, process)
    for alertname, alert in fired.items():
        labels, notes = alert["labels"], alert["annotations"]
        assert labels["severity"] == "critical", alertname
        assert labels["hostname"], alertname
        assert seen[alertname] == ["pending", "firing"], alertname
        # The annotations read the labels the mixin's do: none of them is missing.
        assert "<no value>" not in f"{notes['summary']} {notes['description']}", alertname
        assert labels["hostname"] in notes["description"], alertname
    assert fired["OpenStackNovaAgentIsDown"]["labels"]["id"]
    assert fired["OpenStackNeutronAgentIsDown"]["labels"]["id"]
    assert others == []
    _quiet(prometheus)
